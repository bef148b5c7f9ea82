"""Faults injected into the real ``LiveRunner``: a detector that hangs, one that fails, a database that goes away.

Real parts only, as in ``test_runner_live.py`` (whose inputs and helpers these
tests share): PyAV files paced in real time, the bundled NanoDet behind a gate
that the test closes, SQLite or a throw-away PostgreSQL server that the test
stops for 30 s, a webhook receiver and (when installed) Mosquitto, all on
127.0.0.1.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from tests.delivery.conftest import SECRET, Receiver, Subscriber
from tests.pipeline.test_runner_live import Events, _broker, camera, camera_row, cut_clip, wait_for, write_config
from tests.sources.helpers import make_clip
from tests.storage.test_db import started_postgres
from vigil.config import load_config
from vigil.core import Detections, Frame
from vigil.detection import ObjectDetectorConfig, build_detector
from vigil.pipeline.metrics import RunnerCollector
from vigil.pipeline.runner import LiveRunner
from vigil.redaction.obscure import obscure_frame
from vigil.sources import iter_video, read_image
from vigil.storage import Store


class GatedDetector:
    """The bundled detector behind a gate: while the gate is closed every call hangs, as a wedged driver does."""

    def __init__(self) -> None:
        self.inner = build_detector(ObjectDetectorConfig())
        self.labels = self.inner.labels
        self.gate = threading.Event()
        self.gate.set()
        self.hanging = 0

    def detect(self, image: np.ndarray) -> Detections:
        return self.detect_batch([image])[0]

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[Detections]:
        if not self.gate.is_set():
            self.hanging += 1
            self.gate.wait()
        return self.inner.detect_batch(images)

    def input_size_for(self, width: int, height: int) -> tuple[int, int]:
        return self.inner.input_size_for(width, height)


class BrokenDetector:
    """A detector that fails on every call (a model file gone bad)."""

    labels = ("person",)

    def detect(self, image: np.ndarray) -> Detections:
        raise RuntimeError("model exploded")

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[Detections]:
        raise RuntimeError("model exploded")

    def input_size_for(self, width: int, height: int) -> tuple[int, int]:
        return 416, 256


def metrics_text(runner: LiveRunner) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RunnerCollector(runner.status, runner.metrics.registry))
    return generate_latest(registry).decode()


def last_status(subscriber: Subscriber, camera_id: str) -> str | None:
    got = subscriber.on(f"vigiltest/cameras/{camera_id}/status")
    return got[-1][0] if got else None


def states(runner: LiveRunner) -> dict[str, str]:
    return {cid: cam["state"] for cid, cam in runner.status()["cameras"].items()}


@pytest.mark.slow
def test_a_hung_detector_stalls_every_camera_visibly_evidence_fails_closed_and_all_recover(tmp_path: Path) -> None:
    """The detector stops answering: no camera freezes silently, nothing unredacted is written, and it all heals."""
    clip = cut_clip(tmp_path / "cut.mp4", 4.0, 16.0)  # a person walks into the zone at about 3 s
    broker = _broker()
    subscriber = Subscriber(broker.port, "vigiltest") if broker is not None else None
    services = []
    if broker is not None:
        mqtt = {"host": "127.0.0.1", "port": broker.port, "username": "vigil", "password": "vigil-pw"}
        services.append({"id": "ops", "mqtt": {**mqtt, "topic_prefix": "vigiltest"}})
    cams = [camera(cid, str(clip), loop=True, realtime=True, stall_timeout_s=2) for cid in ("a", "b")]
    config = load_config(write_config(tmp_path, cams, services=services))
    detector = GatedDetector()
    events = Events()
    runner = LiveRunner(config, listeners=[events], detector=detector)
    runner.start()
    store = Store(config.storage.database_url, migrate=False)
    try:
        wait_for(lambda: all(c["analysed"] >= 10 for c in runner.status()["cameras"].values()), 60, "analysis")
        assert set(states(runner).values()) == {"online"}

        detector.gate.clear()  # the detector hangs from its next call on
        hung_at = time.monotonic()
        wait_for(lambda: set(states(runner).values()) == {"stalled"}, 12, "both cameras reported stalled")
        assert time.monotonic() - hung_at < 2 + runner.pool.deadline_s + 3
        decoded = {cid: c["decoded"] for cid, c in runner.status()["cameras"].items()}
        wait_for(lambda: all(c["decoded"] > decoded[cid] + 10 for cid, c in runner.status()["cameras"].items()), 5,
                 "the readers to keep decoding")  # fmt: skip
        for cid in ("a", "b"):
            assert runner.cameras[cid].supervisor.status.state == "stalled"
            wait_for(lambda cid=cid: not camera_row(store, cid).online, 5, f"camera {cid} stored as not online")
            assert f'vigil_camera_analysis_stalled{{camera="{cid}"}} 1.0' in metrics_text(runner)
        if subscriber is not None:
            wait_for(lambda: last_status(subscriber, "a") == "stalled", 5, "MQTT status 'stalled'")

        # Evidence made while the detector hangs fails closed, promptly: the whole frame is obscured.
        raw = next(f for f in iter_video(clip) if f.pts >= 5.0)  # the person is in view
        t0 = time.monotonic()
        runner.evidence.snapshot("hung-inc", raw, tmp_path / "hung.jpg")
        clip_frames = [Frame(f.image, f.source_id, f.index, f.pts) for f in iter_video(clip) if 5.0 <= f.pts < 6.0]
        runner.evidence.clip("hung-inc", clip_frames, tmp_path / "hung.mp4", 10)
        wait_for(lambda: (tmp_path / "hung.mp4").exists() and (tmp_path / "hung.jpg").exists(), 15, "evidence")
        assert time.monotonic() - t0 < runner.config.redaction.timeout_s  # refused at once, not timed out
        snap = read_image(tmp_path / "hung.jpg").image.astype(np.int16)
        assert np.abs(snap - obscure_frame(raw.image).astype(np.int16)).mean() < 3.0
        written = list(iter_video(tmp_path / "hung.mp4"))
        assert len(written) == len(clip_frames)
        for out, src in zip(written, clip_frames, strict=True):
            assert np.abs(out.image.astype(np.int16) - obscure_frame(src.image).astype(np.int16)).mean() < 4.0

        news_before = len(events.news())
        detector.gate.set()  # the detector answers again
        wait_for(lambda: set(states(runner).values()) == {"online"}, 15, "both cameras online again")
        for cid in ("a", "b"):
            wait_for(lambda cid=cid: camera_row(store, cid).online, 5, f"camera {cid} stored online again")
        if subscriber is not None:
            wait_for(lambda: last_status(subscriber, "a") == "online", 5, "MQTT status 'online'")
        analysed = {cid: c["analysed"] for cid, c in runner.status()["cameras"].items()}
        wait_for(lambda: all(c["analysed"] > analysed[cid] + 10 for cid, c in runner.status()["cameras"].items()),
                 10, "analysis to resume")  # fmt: skip
        wait_for(lambda: len(events.news()) > news_before, 40, "an incident found after the recovery")
        assert 'vigil_camera_analysis_stalled{camera="a"} 0.0' in metrics_text(runner)
        assert detector.hanging >= 1
    finally:
        detector.gate.set()
        store.close()
        t0 = time.monotonic()
        runner.stop()
        stop_s = time.monotonic() - t0
        if subscriber is not None:
            subscriber.close()
        if broker is not None:
            broker.close()
    assert stop_s < 20


def test_a_detector_that_fails_every_frame_is_logged_once_and_reported_stalled(tmp_path: Path, caplog) -> None:
    """A frame that fails is counted; the log gets one traceback, not one per frame."""
    clip = make_clip(tmp_path / "c.mp4", frames=50, fps=25)
    cams = [camera("cam", str(clip), loop=True, realtime=True, stall_timeout_s=1)]
    config = load_config(write_config(tmp_path, cams))
    runner = LiveRunner(config, detector=BrokenDetector())
    with caplog.at_level(logging.ERROR, logger="vigil"):
        runner.start()
        try:
            wait_for(lambda: runner.status()["cameras"]["cam"]["errors"] >= 15, 20, "15 failed frames")
            wait_for(lambda: states(runner)["cam"] == "stalled", 5, "the camera reported stalled")
        finally:
            runner.stop()
    tracebacks = [r for r in caplog.records if r.exc_info]
    by_logger = {r.name for r in tracebacks}
    assert len(tracebacks) <= len(by_logger) <= 2, [r.getMessage() for r in tracebacks]  # pool + supervisor, once
    assert any("model exploded" in r.getMessage() or "model exploded" in str(r.exc_info[1]) for r in tracebacks)


@pytest.mark.slow
def test_events_made_while_postgresql_is_down_reach_the_store_and_the_webhook_once(tmp_path: Path) -> None:
    """PostgreSQL stops for 30 s mid-run: the cameras go on, events wait in the journal and all arrive once."""
    server = started_postgres()
    receiver = Receiver()
    receiver.start()
    try:
        clip = cut_clip(tmp_path / "cut.mp4", 4.0, 16.0)  # 12 s: a person enters the zone each pass
        cams = [camera("pg-cam", str(clip), loop=True, realtime=True)]
        services = [{"id": "city", "webhook": {"url": receiver.url, "secret": SECRET, "timeout_s": 2}}]
        config_path = write_config(
            tmp_path, cams, services=services, routing=[{"types": ["*"], "services": ["city"]}]
        )
        config = load_config(config_path)
        config = config.model_copy(
            update={"storage": config.storage.model_copy(update={"database_url": server.url()})}
        )
        events = Events()
        runner = LiveRunner(config, listeners=[events])
        made: list[tuple[float, str]] = []  # (monotonic time, event id) as the cameras publish them
        publish = runner.publish

        def spy(event, decoded_at=None):  # type: ignore[no-untyped-def]
            made.append((time.monotonic(), event.event_id))
            publish(event, decoded_at)

        runner.publish = spy  # type: ignore[method-assign]
        runner.start()
        try:
            wait_for(lambda: len(events.news()) >= 1, 60, "a first incident stored")
            server.halt()
            down_at = time.monotonic()
            wait_for(lambda: not runner.status()["journal"]["database_ok"], 15, "the outage noticed")
            time.sleep(max(0.0, 30.0 - (time.monotonic() - down_at)))
            during = [eid for t, eid in made if t > down_at]
            waiting = runner.status()["journal"]["waiting"]
            assert during, "no event was made during the outage: the test proves nothing"
            assert waiting >= 1
            assert all(c["state"] == "online" for c in runner.status()["cameras"].values())  # analysis went on
            server.resume()
            wait_for(lambda: runner.status()["journal"]["waiting"] == 0, 60, "the journal replayed")
            wait_for(lambda: {ce["id"] for ce in receiver.unique()} >= {eid for _, eid in made}, 60,
                     "every event delivered")  # fmt: skip
        finally:
            runner.stop()
        with Store(server.url(), migrate=False) as store:
            stored = [e["event_id"] for inc in store.list_incidents() for e in store.list_events(inc.incident_id)]
            assert store.pending_counts() == {} and store.list_outbox(status="dead") == []
        ids = [eid for _, eid in made]
        assert len(ids) == len(set(ids)) and sorted(stored) == sorted(ids)  # every event stored, once
        arrived = [ce["id"] for ce in receiver.arrivals]
        assert sorted(set(arrived)) == sorted(ids)
        assert len(arrived) == len(ids), "an event reached the receiver twice"
        assert receiver.problems == []
        # Per incident, in order: the journal kept the sequence through the outage.
        by_incident: dict[str, list[int]] = {}
        for ce in receiver.arrivals:
            by_incident.setdefault(ce["subject"], []).append(ce["data"]["sequence"])
        assert all(seqs == sorted(seqs) for seqs in by_incident.values()), by_incident
        assert not config.storage.resolved_journal_path().exists()  # emptied and removed at the stop
    finally:
        receiver.stop()
        server.stop()
