"""MQTT delivery through a real Mosquitto broker: QoS 1, broker crash, retained state, last will."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections import defaultdict
from pathlib import Path

from tests.delivery.conftest import Broker, Subscriber, wait_until
from tests.storage.test_db import make_event
from vigil.config.models import MqttTarget, ServiceConfig
from vigil.delivery import Backoff, DeliveryService, MqttSender
from vigil.storage import Store

PREFIX = "vigiltest"
FAST = {"backoff": Backoff(0.05, 0.4), "outage_backoff": Backoff(0.1, 0.5), "poll_s": 0.2}
REPO = Path(__file__).resolve().parents[2]


def mqtt_target(broker: Broker) -> MqttTarget:
    return MqttTarget(
        host="127.0.0.1",
        port=broker.port,
        username="vigil",
        password="vigil-pw",
        topic_prefix=PREFIX,
        max_attempts=1000,
    )


def fast_sender(service: ServiceConfig) -> MqttSender:
    assert service.mqtt is not None
    return MqttSender(service.id, service.mqtt, publish_timeout_s=1.0, reconnect_delay=(1, 1), keepalive_s=5)


def payloads(sub: Subscriber, topic: str) -> list[str]:
    return [p for p, _qos, _retain in sub.on(f"{PREFIX}/{topic}")]


def events_on(subs: list[Subscriber], topic: str) -> list[dict]:
    """Events received on ``topic`` by ``subs`` (in turn), de-duplicated by event_id, first arrival kept."""
    seen: set[str] = set()
    out = []
    for sub in subs:
        for payload, qos, _retain in sub.on(topic):
            data = json.loads(payload)
            assert qos == 1
            if data["event_id"] not in seen:
                seen.add(data["event_id"])
                out.append(data)
    return out


def test_every_event_arrives_through_a_broker_crash(store: Store, broker: Broker) -> None:
    events = [
        make_event(f"inc{i}", seq, "new" if seq == 0 else "update", type="fire", camera_id="cam-1")
        for seq in range(40)
        for i in range(5)
    ]
    subs = [Subscriber(broker.port, PREFIX)]
    service = ServiceConfig(id="broker", mqtt=mqtt_target(broker))
    delivery = DeliveryService(store, [service], sender_factory=fast_sender, **FAST)
    delivery.start()
    try:
        wait_until(lambda: payloads(subs[0], "available") == ["online"], what="available=online")
        delivery.publish_camera_status("cam-1", "offline")
        # Crash the broker in the middle of the backlog: right when the subscriber has 40 messages.
        crashed = threading.Event()
        subs[0].trigger = (len(subs[0].messages) + 40, lambda: (broker.kill(), crashed.set()))
        for e in events[:150]:
            store.record_event(e, ["broker"])
        delivery.wake()
        assert crashed.wait(10), "the broker was not crashed"
        # Let the subscriber read what the broker sent before it died (messages it acknowledged to Vigil
        # are in the subscriber's socket) before closing it: closing at once would drop them.
        assert subs[0].disconnected.wait(10), "the subscriber did not see the broker go"
        subs[0].close()
        for e in events[150:]:
            store.record_event(e, ["broker"])
        delivery.wake()
        time.sleep(0.5)
        assert delivery.pending_counts()["broker"] > 50  # crashed in the middle of the backlog

        # Restart with only the subscriber allowed in, so that it listens before Vigil publishes again
        # (persistence is off: the restarted broker knows no subscription).
        broker.set_users({"sub": "sub-pw"})
        broker.start()
        subs.append(Subscriber(broker.port, PREFIX))
        broker.set_users({"sub": "sub-pw", "vigil": "vigil-pw"})
        wait_until(lambda: delivery.pending_counts() == {"broker": 0}, timeout=15, what="backlog delivered")
        wait_until(lambda: len(events_on(subs, f"{PREFIX}/events")) == len(events), what="subscriber has all")
    finally:
        delivery.stop()
        for sub in subs:
            sub.close()

    arrivals = events_on(subs, f"{PREFIX}/events")
    assert {d["event_id"] for d in arrivals} == {e.event_id for e in events}
    seqs: dict[str, list[int]] = defaultdict(list)
    for d in arrivals:
        seqs[d["incident_id"]].append(d["sequence"])
    assert all(s == sorted(s) for s in seqs.values()), seqs
    assert {d["event_id"] for d in events_on(subs, f"{PREFIX}/events/fire")} == {e.event_id for e in events}
    assert all(o.status == "delivered" for o in store.list_outbox())
    # State topics are re-published after the broker lost them, and a clean stop says offline.
    assert payloads(subs[1], "cameras/cam-1/status") == ["offline"]
    assert payloads(subs[1], "available") == ["online", "offline"]


WILL_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from vigil.config.models import MqttTarget
    from vigil.delivery import MqttSender
    target = MqttTarget(host="127.0.0.1", port=int(sys.argv[1]), username="vigil", password="vigil-pw",
                        topic_prefix=sys.argv[2])
    sender = MqttSender("will-test", target)
    sender.start()
    deadline = time.monotonic() + 10
    while not sender.connected and time.monotonic() < deadline:
        time.sleep(0.02)
    print("connected" if sender.connected else "failed", flush=True)
    time.sleep(60)
    """
)


def test_last_will_says_offline_when_vigil_dies(broker: Broker) -> None:
    sub = Subscriber(broker.port, PREFIX)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [sys.executable, "-c", WILL_SCRIPT, str(broker.port), PREFIX], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "connected"
        wait_until(lambda: payloads(sub, "available") == ["online"], what="online")
        proc.kill()  # no DISCONNECT: the broker must publish the will
        wait_until(lambda: payloads(sub, "available") == ["online", "offline"], what="will")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        sub.close()
    # The will is retained: a late subscriber learns that Vigil is gone.
    late = Subscriber(broker.port, PREFIX)
    try:
        wait_until(lambda: late.on(f"{PREFIX}/available") == [("offline", 1, True)], what="retained offline")
    finally:
        late.close()
