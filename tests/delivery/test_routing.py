"""Routing rules and the retry schedule."""

from __future__ import annotations

from tests.storage.test_db import make_event
from vigil.config.models import RoutingRule, ServiceConfig, WebhookTarget
from vigil.delivery import Backoff, routes_for


def _svc(sid: str) -> ServiceConfig:
    return ServiceConfig(id=sid, webhook=WebhookTarget(url=f"http://127.0.0.1/{sid}"))


RULES = [
    RoutingRule(types=["fire", "smoke"], services=["fire", "control"], min_severity=2),
    RoutingRule(types=["*"], services=["control"]),
    RoutingRule(types=["pedestrian"], services=["metro"], cameras=["metro-1"]),
    RoutingRule(types=["collision"], services=["ambulance", "gone"], min_severity=4),
]
SERVICES = [_svc(s) for s in ("fire", "control", "metro", "ambulance")]


def test_routes_by_type_severity_and_camera() -> None:
    assert routes_for(make_event("i", 0, "new", type="fire", severity=3), RULES, SERVICES) == ["fire", "control"]
    assert routes_for(make_event("i", 0, "new", type="fire", severity=1), RULES, SERVICES) == ["control"]
    assert routes_for(make_event("i", 0, "new", type="wrong_way"), RULES, SERVICES) == ["control"]
    assert routes_for(make_event("i", 0, "new", type="pedestrian", camera_id="metro-1"), RULES, SERVICES) == [
        "control",
        "metro",
    ]
    assert routes_for(make_event("i", 0, "new", type="pedestrian", camera_id="road-1"), RULES, SERVICES) == ["control"]
    # Unknown service ids are dropped when the services are given.
    assert routes_for(make_event("i", 0, "new", type="collision", severity=5), RULES, SERVICES) == [
        "control",
        "ambulance",
    ]
    assert "gone" in routes_for(make_event("i", 0, "new", type="collision", severity=5), RULES)
    assert routes_for(make_event("i", 0, "new"), [], SERVICES) == []


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    b = Backoff(initial_s=1.0, max_s=30.0)
    for attempt, full in ((1, 1.0), (2, 2.0), (3, 4.0), (5, 16.0), (9, 30.0), (50, 30.0)):
        delays = [b.delay(attempt) for _ in range(200)]
        assert all(full / 2 <= d <= full for d in delays)
        assert max(delays) - min(delays) > full / 10  # jittered, not a fixed value
