"""Cameras (fail-closed redacted snapshots, zone edits), health, metrics, services, live events."""

from __future__ import annotations

import json
import socket

import cv2
import httpx
import numpy as np
import yaml

from tests.api.conftest import Env, FakeTap
from vigil.api import create_app, start_api_thread
from vigil.config import load_config
from vigil.redaction.engine import Redactor
from vigil.storage import console


def test_camera_list_and_snapshot_fails_closed(env: Env) -> None:
    cams = env.client.get("/api/cameras", headers=env.auth("viewer")).json()
    assert [c["id"] for c in cams] == ["cam-1", "cam-2"]
    assert cams[0]["online"] is True and cams[0]["zones"][0]["id"] == "lane-1" and cams[0]["lat"] == 52.37
    r = env.client.get("/api/cameras/cam-1/snapshot", headers=env.auth("viewer"))
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    img = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR)
    # the redactor crashed: what is served is the whole-frame obscured version, not the raw frame
    raw = FakeTap().latest("cam-1")
    assert raw is not None
    obscured = Redactor.fail_closed(raw).image.astype(float)
    assert np.abs(img - obscured).mean() < 4 < np.abs(img - raw.image.astype(float)).mean()
    assert env.client.get("/api/cameras/cam-2/snapshot", headers=env.auth("viewer")).status_code == 404
    assert env.client.get("/api/cameras/nope/snapshot", headers=env.auth("viewer")).status_code == 404
    rows = console.list_audit(env.store, limit=5, before_id=None, action="view.camera_snapshot")[0]
    assert len(rows) == 1 and rows[0]["target"] == "cam-1"


def test_zone_edit_writes_config_and_validates(env: Env) -> None:
    h = env.auth("admin")
    zone = {"id": "tracks", "kind": "tracks", "polygon": [[0, 0], [1, 0], [1, 1]]}
    line = {"id": "l1", "points": [[0, 0.5], [1, 0.5]]}
    r = env.client.put("/api/cameras/cam-2/zones", json={"zones": [zone], "lines": [line]}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["zones"][0]["id"] == "tracks"
    raw = yaml.safe_load(env.config_path.read_text())
    assert raw["cameras"][1]["zones"][0]["kind"] == "tracks"
    assert raw["services"][0]["webhook"]["secret"] == "s3cr3t-value"  # the rest kept as written
    assert "${CONFIG_DIR}" in raw["storage"]["database_url"]
    assert load_config(env.config_path).cameras[1].lines[0].id == "l1"
    bad = dict(zone, polygon=[[0, 0], [2, 0], [1, 1]])
    r = env.client.put("/api/cameras/cam-2/zones", json={"zones": [bad]}, headers=h)
    assert r.status_code == 422 and "polygon" in r.text
    r = env.client.put("/api/cameras/cam-2/zones", json={"zones": [zone, zone]}, headers=h)
    assert r.status_code == 422 and "duplicate" in r.text
    assert console.list_audit(env.store, limit=5, before_id=None, action="camera.zones")[0]


def test_health_metrics_services(env: Env) -> None:
    assert env.client.get("/api/health").json() == {"status": "ok", "database": True, "cameras_online": 1}
    m = env.client.get("/api/metrics", headers=env.auth("viewer")).text
    assert 'vigil_incidents_total{type="pedestrian"} 6.0' in m
    assert 'vigil_delivery_backlog{target="tc"}' in m and 'vigil_camera_online{camera="cam-1"} 1.0' in m
    s = env.client.get("/api/services", headers=env.auth("operator")).json()
    assert s["services"][0]["webhook"]["secret"] == "***" and "s3cr3t" not in json.dumps(s)
    assert s["routing"][0]["services"] == ["tc"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_event_stream_over_a_real_server(env: Env) -> None:
    """``vigil serve`` alone: events written by another process reach the stream by polling."""
    from tests.api.conftest import _event
    from vigil.api import ApiSettings

    ctx = env.app.state.vigil  # type: ignore[attr-defined]
    app = create_app(ctx.config, env.store, settings=ApiSettings(poll_interval_s=0.2))
    port = _free_port()
    handle = start_api_thread(app, "127.0.0.1", port)
    try:
        url = f"http://127.0.0.1:{port}/api/events/stream"
        with httpx.stream("GET", url, headers=env.auth("viewer"), timeout=10) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            lines = r.iter_lines()
            assert next(lines).startswith(": connected")
            env.store.record_event(_event(5, "end", 1, "inc-05"), ["tc"])
            msgs = (json.loads(line[6:]) for line in lines if line.startswith("data: "))
            msg = next(m for m in msgs if m["event_id"] == "ev-5-1")  # older events may come first
            assert msg["incident_id"] == "inc-05" and msg["state"] == "end" and msg["id"] == "inc-05"
        app.state.broadcaster.publish(_event(6, "update", 1, "inc-06"))  # listener path: no subscribers, no error
        assert httpx.get(f"http://127.0.0.1:{port}/api/health").status_code == 200
    finally:
        handle.stop()


class CountingRedactor:
    """Obscures everything and counts calls, to see that the live view stops with its client."""

    def __init__(self) -> None:
        self.calls = 0

    def redact(self, frame):  # type: ignore[no-untyped-def]
        self.calls += 1
        return Redactor.fail_closed(frame)


def test_live_mjpeg_is_redacted_audited_and_stops_with_the_client(env: Env) -> None:
    import time

    from vigil.api import ApiSettings

    ctx = env.app.state.vigil  # type: ignore[attr-defined]
    redactor = CountingRedactor()
    app = create_app(ctx.config, env.store, settings=ApiSettings(live_fps=20), frame_tap=FakeTap(), redactor=redactor)
    port = _free_port()
    handle = start_api_thread(app, "127.0.0.1", port)
    try:
        url = f"http://127.0.0.1:{port}/api/cameras/cam-1/live"
        with httpx.stream("GET", url, headers=env.auth("viewer"), timeout=10) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("multipart/x-mixed-replace")
            buf = b""
            for chunk in r.iter_bytes():
                buf += chunk
                if buf.count(b"--vigilframe") >= 3:
                    break
        assert b"Content-Type: image/jpeg" in buf and b"\xff\xd8" in buf
        time.sleep(0.5)
        calls = redactor.calls
        assert calls >= 2
        time.sleep(0.5)
        assert redactor.calls <= calls + 1  # no more frames once the client left
        rows = console.list_audit(env.store, limit=5, before_id=None, action="view.camera_live")[0]
        assert len(rows) == 1 and rows[0]["user"] == "viewer" and rows[0]["source_ip"] == "127.0.0.1"
    finally:
        handle.stop()


class StubRunner:
    """The parts of LiveRunner the API uses."""

    def __init__(self, env: Env) -> None:
        from vigil.pipeline.metrics import RunnerMetrics

        self.config = env.app.state.vigil.config  # type: ignore[attr-defined]
        self.store = env.store
        self.listeners: list = []
        self.metrics = RunnerMetrics()
        for seconds in (0.03, 0.04, 0.08):
            self.metrics.detector_latency.observe(seconds)
        self.metrics.event_latency.labels("new").observe(0.7)

    def latest(self, camera_id: str):  # type: ignore[no-untyped-def]
        return None

    def status(self) -> dict:
        return {
            "cameras": {"cam-1": {"frames_in": 120, "dropped": 3, "state": "stalled"}},
            "detector": {"frames": 40, "busy_s": 2.0},
        }


def test_start_for_runner_registers_listener_and_metrics(env: Env) -> None:
    from vigil.api import start_for_runner

    runner = StubRunner(env)
    handle = start_for_runner(runner, env.config_path, "127.0.0.1", _free_port())
    try:
        assert len(runner.listeners) == 1
        port = handle.server.config.port
        m = httpx.get(f"http://127.0.0.1:{port}/api/metrics", headers=env.auth("viewer")).text
        assert 'vigil_frames_in_total{camera="cam-1"} 120.0' in m
        assert 'vigil_frames_dropped_total{camera="cam-1"} 3.0' in m
        assert 'vigil_camera_analysis_stalled{camera="cam-1"} 1.0' in m
        # Histograms, not a lifetime mean: buckets, count and sum of what was observed.
        assert "# TYPE vigil_detector_latency_seconds histogram" in m
        assert 'vigil_detector_latency_seconds_bucket{le="0.05"} 2.0' in m
        assert "vigil_detector_latency_seconds_count 3.0" in m
        assert 'vigil_event_latency_seconds_bucket{le="1.0",state="new"} 1.0' in m
    finally:
        handle.stop()
