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


TUNNEL_CONFIG = """
cameras:
  - id: tunnel-3
    source: {url: t.mp4}
    location: {lat: 51.9, lon: 4.4}
    zones:
      - {id: bore-north, kind: roadway, polygon: [[0, 0], [0.5, 0], [0.5, 1]]}
      - {id: approach, kind: roadway, polygon: [[0.5, 0], [1, 0], [1, 1]]}
  - id: ring-1
    source: {url: r.mp4}
    zones: [{id: bore-north, kind: roadway, polygon: [[0, 0], [1, 0], [1, 1]]}]
services:
  - {id: tunnel-operator, format: datex2, webhook: {url: "http://127.0.0.1:1/tunnel"}}
  - {id: traffic-control, webhook: {url: "http://127.0.0.1:1/tc"}}
  - {id: fire-brigade, format: cap, webhook: {url: "http://127.0.0.1:1/fire"}}
routing:
  - {types: ["*"], services: [tunnel-operator], zones: [tunnel-3/bore-north]}
  - {types: [stopped_vehicle, wrong_way, congestion, animal], services: [traffic-control]}
  - {types: [fire, smoke, collision], services: [fire-brigade], min_severity: 4}
"""


def test_routes_by_zone_tunnel_zone_goes_to_the_tunnel_operator() -> None:
    from vigil.config import load_config_text

    cfg = load_config_text(TUNNEL_CONFIG)

    def route(**kw: object) -> list[str]:
        return routes_for(make_event("i", 0, "new", **kw), cfg.routing, cfg.services)

    in_tunnel = {"zone": "bore-north"}
    assert route(camera_id="tunnel-3", details=in_tunnel) == ["tunnel-operator", "traffic-control"]
    assert route(camera_id="tunnel-3", details={"zone": "approach"}) == ["traffic-control"]
    assert route(camera_id="ring-1", details=in_tunnel) == ["traffic-control"]  # same zone id, other camera
    assert route(camera_id="tunnel-3", type="pedestrian", details=in_tunnel) == ["tunnel-operator"]
    assert route(camera_id="tunnel-3", type="animal", details=in_tunnel) == ["tunnel-operator", "traffic-control"]
    assert route(camera_id="tunnel-3", type="fire", severity=5, details={}) == ["fire-brigade"]  # no zone: no match
    assert route(camera_id="tunnel-3", type="fire", severity=3, details={}) == []


def test_zone_routing_references_are_checked() -> None:
    import pytest

    from vigil.config import load_config_text
    from vigil.config.loader import ConfigError

    bare = TUNNEL_CONFIG.replace(", zones: [tunnel-3/bore-north]", ", zones: [bore-north]")
    with pytest.raises(ConfigError, match="camera 'ring-1' has no location"):  # now ring-1 can reach DATEX II
        load_config_text(bare)
    cfg = load_config_text(
        bare.replace("    zones: [{id: bore-north", "    location: {lat: 1, lon: 1}\n    zones: [{id: bore-north")
    )
    rule = cfg.routing[0]
    assert routes_for(make_event("i", 0, "new", camera_id="ring-1", details={"zone": "bore-north"}), [rule]) == [
        "tunnel-operator"
    ]  # a bare zone id matches that zone on any camera
    with pytest.raises(ConfigError, match="unknown zone"):
        load_config_text(TUNNEL_CONFIG.replace("tunnel-3/bore-north", "tunnel-3/nowhere"))
