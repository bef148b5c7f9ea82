"""``LiveRunner`` with real parts only: a GStreamer RTSP server, PyAV files, SQLite, a webhook receiver, Mosquitto.

The input is the bundled one-by-one clip, re-encoded in short cuts so that every
test stays bounded: people walk to the table at about 9 s and 25 s of the
original, which the demo's restricted zone turns into pedestrian incidents.
Everything is served and received on 127.0.0.1; all files go to pytest's tmp
folders.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest
import yaml
from sqlalchemy import select

from tests.conftest import changed_fraction
from tests.delivery.conftest import SECRET, Broker, Receiver, Subscriber
from tests.sources.rtsp_server import RtspServer, free_port, unavailable_reason
from vigil.assets import DEMO_CONFIG, SAMPLE_CLIP
from vigil.config import load_config
from vigil.config.rules import RulesConfig
from vigil.core import Frame
from vigil.core.events import IncidentEvent
from vigil.detection import ObjectDetectorConfig, build_detector
from vigil.pipeline.runner import LiveRunner
from vigil.redaction.heads import head_boxes
from vigil.sources import CameraStatus, iter_video, probe_video, read_image
from vigil.storage import Store
from vigil.storage.db import Evidence
from vigil.storage.records import CameraRecord, IncidentRecord

CLIP_FPS = 10  # the bundled clip's rate; evidence clips are written at it too
ANALYTIC_FPS = 5
PRE_ROLL_S = POST_ROLL_S = 2.0
DB_FILES = re.compile(r"v\.db(-wal|-shm|-journal)?")


# -- inputs and configuration ------------------------------------------------------------------


def demo_zone() -> list[list[float]]:
    """The restricted zone of the bundled demo, read from its configuration so the tests follow it."""
    zone = load_config(DEMO_CONFIG).cameras[0].zones[0]
    assert zone.kind == "restricted"
    return [list(p) for p in zone.polygon]


def cut_clip(dst: Path, start_s: float, end_s: float) -> Path:
    """Re-encode [start_s, end_s) of the bundled clip (H.264, a key frame every second, no B-frames)."""
    with av.open(str(SAMPLE_CLIP)) as inp, av.open(str(dst), "w") as out:
        stream = out.add_stream("libx264", rate=CLIP_FPS)
        stream.width, stream.height, stream.pix_fmt = 768, 432, "yuv420p"
        stream.options = {"g": str(CLIP_FPS), "bf": "0", "preset": "veryfast", "crf": "20"}
        n = 0
        for frame in inp.decode(video=0):
            t = float(frame.time)
            if t < start_s - 1e-6:
                continue
            if t >= end_s - 1e-6:
                break
            fresh = av.VideoFrame.from_ndarray(frame.to_ndarray(format="bgr24"), format="bgr24")
            fresh.pts = n
            n += 1
            out.mux(stream.encode(fresh))
        out.mux(stream.encode(None))
    return dst


def camera(camera_id: str, url: str, **source: Any) -> dict[str, Any]:
    """A camera watching the demo's restricted zone."""
    return {
        "id": camera_id,
        "source": {"url": url, **source},
        "analytic_fps": ANALYTIC_FPS,
        "zones": [{"id": "platform-edge", "kind": "restricted", "polygon": demo_zone()}],
    }


def write_config(folder: Path, cameras: list[dict[str, Any]], **extra: Any) -> Path:
    """A YAML configuration with the demo's rules, storage under ``folder/data`` and short evidence."""
    config = {
        "cameras": cameras,
        "rules": {"pedestrian": {"min_dwell_s": 2.0, "end_after_s": 3.0}},
        "storage": {
            "database_url": f"sqlite:///{folder / 'data' / 'v.db'}",
            "media_dir": str(folder / "data" / "media"),
        },
        "evidence": {"pre_roll_s": PRE_ROLL_S, "post_roll_s": POST_ROLL_S},
        **extra,
    }
    path = folder / "vigil.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    if not predicate():
        raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


class Events:
    """Incident events as the runner's listeners get them, with their monotonic arrival time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[tuple[float, IncidentEvent]] = []

    def __call__(self, event: IncidentEvent) -> None:
        with self._lock:
            self._items.append((time.monotonic(), event))

    @property
    def timed(self) -> list[tuple[float, IncidentEvent]]:
        with self._lock:
            return list(self._items)

    @property
    def all(self) -> list[IncidentEvent]:
        return [e for _, e in self.timed]

    def news(self) -> list[tuple[float, IncidentEvent]]:
        return [(t, e) for t, e in self.timed if e.state == "new"]


class ErrorLog(logging.Handler):
    """Collects ERROR records of the ``vigil`` loggers: a crash inside a thread shows up here, not as an exception."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def messages(self) -> list[str]:
        return [f"{r.name}: {r.getMessage()}" for r in self.records]


@contextmanager
def running(config_path: Path, events: Events) -> Iterator[LiveRunner]:
    """A started runner that is always stopped."""
    runner = LiveRunner(load_config(config_path), listeners=[events])
    runner.start()
    try:
        yield runner
    finally:
        runner.stop()


def camera_row(store: Store, camera_id: str) -> CameraRecord:
    return next(c for c in store.list_cameras() if c.id == camera_id)


def events_of(store: Store, incidents: list[IncidentRecord]) -> list[dict[str, Any]]:
    return [e for inc in incidents for e in store.list_events(inc.incident_id)]


# -- 1. a real RTSP camera cut and restored ---------------------------------------------------------


@pytest.mark.slow
def test_rtsp_camera_goes_offline_when_cut_and_incidents_resume_after_restore(tmp_path: Path) -> None:
    """The supervisor, the store and the pipeline together survive a camera that loses power.

    Each RTSP client gets the clip from its start, so after the restore the first
    person walks in again: a new incident proves analysis resumed on the new
    connection (timestamps stay monotonic, the outage counts as time).
    """
    if unavailable_reason():
        pytest.skip(unavailable_reason())
    clip = cut_clip(tmp_path / "cut.mp4", 4.0, 16.0)  # one person enters the zone at about 3 s
    cam_id = "rtsp-cam"
    with RtspServer(clip) as server:
        config = write_config(tmp_path, [camera(cam_id, server.url, stall_timeout_s=2, max_backoff_s=0.5)])
        events = Events()
        with running(config, events) as runner:
            store = Store(runner.config.storage.database_url, migrate=False)
            try:
                wait_for(lambda: len(events.news()) >= 1, 30, "the first incident from the RTSP camera")
                first = events.news()[0][1]
                assert camera_row(store, cam_id).online

                server.kill()
                wait_for(lambda: not camera_row(store, cam_id).online, 10, "the camera stored offline")
                wait_for(lambda: camera_row(store, cam_id).reconnects >= 1, 10, "reconnects counted in the store")
                status = runner.cameras[cam_id].status
                assert status is not None and not status.online
                assert status.last_error is not None and status.last_error.startswith(f"camera {cam_id}: ")
                time.sleep(3.0)  # an outage longer than end_after_s: the open incident must end, not bridge

                restored_at = time.monotonic()
                server.start()
                wait_for(lambda: camera_row(store, cam_id).online, 15, "the camera stored online again")
                wait_for(lambda: len(events.news()) >= 2, 30, "an incident after the restore")
                at, second = events.news()[1]
                assert at > restored_at
                assert second.incident_id != first.incident_id
                assert second.start_s > first.start_s + 3.0  # on the same monotonic timeline, after the outage
                ended = [e for e in events.all if e.state == "end" and e.incident_id == first.incident_id]
                assert ended, "the incident open when the camera died was never ended"
                row = camera_row(store, cam_id)
                assert row.online and row.reconnects >= 1 and row.last_seen is not None
                assert runner.cameras[cam_id].errors == 0
            finally:
                store.close()
    # After the stop every incident is stored and ended.
    with Store(f"sqlite:///{tmp_path / 'data' / 'v.db'}", migrate=False) as store:
        incidents = store.list_incidents()
        assert {i.incident_id for i in incidents} >= {first.incident_id, second.incident_id}
        assert all(i.state == "ended" and i.camera_id == cam_id for i in incidents)


# -- 2, 3, 5. one run with a good camera, two broken ones, a webhook and MQTT --------------------------


@dataclass
class MixedRun:
    """What the shared run left behind, for the tests that judge it."""

    root: Path
    source: Path
    db_url: str
    events: list[IncidentEvent]
    statuses: dict[str, CameraStatus]
    counters: dict[str, Any]
    errors: list[str]
    evidence_failed: int
    stop_s: float
    receiver: Receiver
    mqtt_messages: list[tuple[str, str, int, bool]] | None = None
    mqtt_prefix: str = "vigiltest"
    closed_url: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _broker() -> Broker | None:
    exe = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if exe is None or shutil.which("mosquitto_passwd") is None:
        return None
    broker = Broker(exe)
    broker.set_users({"vigil": "vigil-pw", "sub": "sub-pw"})
    broker.start()
    return broker


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MixedRun]:
    """Three cameras (a good file, an unreachable RTSP URL, a corrupt file) with webhook and MQTT delivery.

    The good camera is a 26 s cut with two people arriving (incidents at about
    5 s and 21 s); the run ends when it has been read to its end and both bad
    cameras have failed a few times, then the runner is stopped as ``vigil run``
    does on SIGTERM.
    """
    root = tmp_path_factory.mktemp("mixed")
    inputs = root / "inputs"
    inputs.mkdir()
    source = cut_clip(inputs / "good.mp4", 4.0, 30.0)
    corrupt = inputs / "corrupt.mp4"
    corrupt.write_bytes(np.random.default_rng(7).integers(0, 256, 256_000, dtype=np.uint8).tobytes())
    closed_url = f"rtsp://127.0.0.1:{free_port()}/cam"

    receiver = Receiver()
    receiver.start()
    broker = _broker()
    subscriber = Subscriber(broker.port, "vigiltest") if broker is not None else None
    services: list[dict[str, Any]] = [
        {"id": "city", "webhook": {"url": receiver.url, "secret": SECRET, "timeout_s": 2}},
    ]
    if broker is not None:
        services.append(
            {
                "id": "ops",
                "mqtt": {
                    "host": "127.0.0.1",
                    "port": broker.port,
                    "username": "vigil",
                    "password": "vigil-pw",
                    "topic_prefix": "vigiltest",
                },
            }
        )
    cameras = [
        camera("good", str(source)),
        camera("unreachable", closed_url, stall_timeout_s=1, max_backoff_s=0.5),
        camera("corrupt", str(corrupt), max_backoff_s=0.5),
    ]
    config = write_config(
        root, cameras, services=services, routing=[{"types": ["pedestrian"], "services": [s["id"] for s in services]}]
    )
    errors = ErrorLog()
    logging.getLogger("vigil").addHandler(errors)
    events = Events()
    try:
        with running(config, events) as runner:
            sups = {cid: cam.supervisor for cid, cam in runner.cameras.items()}
            wait_for(lambda: sups["good"].status.state == "finished", 120, "the good camera to read its clip")
            wait_for(
                lambda: all(sups[c].status.reconnects >= 2 for c in ("unreachable", "corrupt")),
                15,
                "the broken cameras to retry",
            )
            statuses = {cid: sup.status for cid, sup in sups.items()}
            counters = runner.status()
            t0 = time.monotonic()
            runner.stop()  # what SIGTERM does; running() then finds it already stopped
            stop_s = time.monotonic() - t0
            evidence_failed = runner.evidence.failed
        # Deliveries made during the stop may still be on the wire to the subscriber.
        time.sleep(0.5)
        yield MixedRun(
            root=root,
            source=source,
            db_url=runner.config.storage.database_url,
            events=events.all,
            statuses=statuses,
            counters=counters,
            errors=errors.messages(),
            evidence_failed=evidence_failed,
            stop_s=stop_s,
            receiver=receiver,
            mqtt_messages=list(subscriber.messages) if subscriber is not None else None,
            closed_url=closed_url,
        )
    finally:
        logging.getLogger("vigil").removeHandler(errors)
        if subscriber is not None:
            subscriber.close()
        if broker is not None:
            broker.close()
        receiver.stop()


@pytest.fixture
def mixed_store(mixed_run: MixedRun) -> Iterator[Store]:
    with Store(mixed_run.db_url, migrate=False) as store:
        yield store


@pytest.mark.slow
def test_broken_cameras_are_isolated_and_the_good_one_yields_stored_incidents_with_evidence(
    mixed_run: MixedRun, mixed_store: Store
) -> None:
    """A closed port and a file of random bytes are reported per camera; the good camera is not disturbed."""
    run, store = mixed_run, mixed_store
    assert run.errors == [], "something failed inside a thread"
    assert run.evidence_failed == 0
    assert run.stop_s < 15, f"stop took {run.stop_s:.1f} s"
    cams = run.counters["cameras"]
    assert all(c["errors"] == 0 for c in cams.values())

    # The bad cameras: offline (between retries they may be 'connecting'), errors naming them and the reason.
    unreachable, corrupt = run.statuses["unreachable"], run.statuses["corrupt"]
    assert unreachable.state in ("offline", "connecting") and not unreachable.online
    assert corrupt.state in ("offline", "connecting") and not corrupt.online
    assert unreachable.last_error is not None
    assert unreachable.last_error.startswith(f"camera unreachable: cannot connect to {run.closed_url}")
    assert corrupt.last_error is not None
    assert corrupt.last_error.startswith("camera corrupt: ") and "corrupt.mp4" in corrupt.last_error
    for cid in ("unreachable", "corrupt"):
        assert cams[cid]["frames_in"] == 0 and cams[cid]["state"] in ("offline", "connecting")
        row = camera_row(store, cid)
        assert not row.online and row.reconnects >= 2 and row.last_seen is None

    # The good camera read its whole clip and found both people.
    good = run.statuses["good"]
    assert good.state == "finished" and good.reconnects == 0 and good.last_error is None
    assert good.frames == probe_video(run.source).frames
    assert camera_row(store, "good").last_seen is not None
    incidents = store.list_incidents()
    assert 2 <= len(incidents) <= 3, [(i.start_s, i.end_s) for i in incidents]
    assert {i.camera_id for i in incidents} == {"good"}
    assert all(i.type == "pedestrian" and i.state == "ended" for i in incidents)
    assert all(i.details.get("zone") == "platform-edge" for i in incidents)
    assert {e.incident_id for e in run.events} == {i.incident_id for i in incidents}
    # Event details name the evidence by media id (inside the media folder), never by server path.
    new = [e for e in run.events if e.state == "new"]
    assert new and all(e.details["snapshot"] == f"good/{e.incident_id}.jpg" for e in new)
    assert all(e.details["clip"] == f"good/{e.incident_id}.mp4" for e in new)

    # Evidence: a snapshot and a clip per incident, registered with their sizes, decodable, H.264.
    with store.read_session() as s:
        rows = [(r.incident_id, r.kind, r.path, r.bytes) for r in s.scalars(select(Evidence))]
    assert sorted((i, k) for i, k, _, _ in rows) == sorted(
        (i.incident_id, k) for i in incidents for k in ("clip", "snapshot")
    )
    for incident_id, kind, path, size in rows:
        p = Path(path)
        assert p.is_file() and p.stat().st_size == size
        inc = next(i for i in incidents if i.incident_id == incident_id)
        assert getattr(inc, f"{kind}_path") == path
        if kind == "snapshot":
            assert read_image(p).image.shape == (432, 768, 3)
        else:
            info = probe_video(p)
            assert (info.width, info.height, info.fps, info.has_audio) == (768, 432, CLIP_FPS, False)
            with av.open(str(p)) as container:
                assert container.streams.video[0].codec_context.name == "h264"
            decoded = sum(1 for _ in iter_video(p))
            expected = (PRE_ROLL_S + POST_ROLL_S) * CLIP_FPS
            assert decoded == info.frames and expected - 2 <= decoded <= expected + 2


@pytest.mark.slow
def test_every_stored_event_reaches_the_webhook_once_and_in_order(mixed_run: MixedRun, mixed_store: Store) -> None:
    """The outbox delivers everything the runner stored, signed, without loss, new before end."""
    run, store = mixed_run, mixed_store
    stored = events_of(store, store.list_incidents())
    stored_ids = [e["event_id"] for e in stored]
    assert len(stored_ids) == len(set(stored_ids)) == len(run.events)
    assert run.receiver.problems == [], "the receiver refused a signature or a CloudEvent field"
    arrivals = run.receiver.unique()
    assert sorted(ce["id"] for ce in arrivals) == sorted(stored_ids)
    assert all(ce["data"] == e for ce in arrivals for e in stored if e["event_id"] == ce["id"])
    # Nothing left behind in the outbox: the end events made during the stop went out too.
    assert store.pending_counts() == {}
    assert store.list_outbox(status="dead") == []
    # Per incident: one new first, one end last, in sequence order.
    by_incident: dict[str, list[dict[str, Any]]] = {}
    for ce in arrivals:
        by_incident.setdefault(ce["subject"], []).append(ce["data"])
    for incident_id, data in by_incident.items():
        states = [d["state"] for d in data]
        assert states[0] == "new" and states[-1] == "end" and states.count("new") == states.count("end") == 1, (
            incident_id,
            states,
        )
        assert [d["sequence"] for d in data] == list(range(len(data)))


@pytest.mark.slow
def test_every_stored_event_is_published_on_mqtt_with_camera_health(mixed_run: MixedRun, mixed_store: Store) -> None:
    """The same events reach an MQTT subscriber (QoS 1), and the broken cameras are announced offline."""
    run, store = mixed_run, mixed_store
    if run.mqtt_messages is None:
        pytest.skip("mosquitto not installed (apt-get install mosquitto)")
    stored_ids = sorted(e["event_id"] for e in events_of(store, store.list_incidents()))
    prefix = run.mqtt_prefix
    for topic in (f"{prefix}/events", f"{prefix}/events/pedestrian"):
        ids = {json.loads(p)["event_id"] for t, p, _, _ in run.mqtt_messages if t == topic}
        assert sorted(ids) == stored_ids, topic
    status = {t: p for t, p, _, _ in run.mqtt_messages if t.startswith(f"{prefix}/cameras/")}
    assert status.get(f"{prefix}/cameras/unreachable/status") == "offline"
    assert status.get(f"{prefix}/cameras/corrupt/status") == "offline"
    good = [p for t, p, _, _ in run.mqtt_messages if t == f"{prefix}/cameras/good/status"]
    assert "online" in good


# -- 5. privacy of what was written --------------------------------------------------------------------


@dataclass
class IncidentEvidence:
    """One incident's evidence next to the raw source frames it was made from."""

    incident: IncidentRecord
    new_event: dict[str, Any]
    snapshot: np.ndarray
    raw: Frame  # the source frame of the snapshot
    head: tuple[int, int, int, int]
    clip: list[Frame]
    clip_raw: list[Frame]  # the source frame of each clip frame


def _head(bbox: list[float]) -> tuple[int, int, int, int]:
    """The head square of a person box, by the redactor's own geometry, unpadded."""
    x1, y1, x2, y2 = head_boxes(np.array([bbox], np.float32), pad=0.0)[0]
    return max(0, int(x1)), max(0, int(y1)), min(768, int(np.ceil(x2))), min(432, int(np.ceil(y2)))


def _small(image: np.ndarray) -> np.ndarray:
    return cv2.resize(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), (192, 108), interpolation=cv2.INTER_AREA).astype(
        np.float32
    )


@pytest.fixture(scope="module")
def evidence(mixed_run: MixedRun) -> list[IncidentEvidence]:
    """Each snapshot and clip matched to the raw frames decoded from the camera's source.

    The snapshot's source frame is the one that matches it best away from the
    head (the person moves a little from frame to frame, so the match is
    unique); the clip is aligned as a whole (it is the 2 s before that frame and
    the 2 s after, at the source rate).
    """
    raw = list(iter_video(mixed_run.source))
    raw_small = [_small(f.image) for f in raw]
    out = []
    with Store(mixed_run.db_url, migrate=False) as store:
        for inc in store.list_incidents():
            new = store.list_events(inc.incident_id)[0]
            assert new["state"] == "new"
            head = _head(new["bbox"])
            snapshot = read_image(inc.snapshot_path).image
            keep = np.ones(snapshot.shape[:2], bool)
            keep[max(0, head[1] - 20) : head[3] + 20, max(0, head[0] - 20) : head[2] + 20] = False
            near = [i for i, f in enumerate(raw) if new["start_s"] - 0.01 <= f.pts <= new["start_s"] + 2.0]
            diffs = [np.abs(raw[i].image.astype(np.int16) - snapshot.astype(np.int16))[keep].mean() for i in near]
            at = near[int(np.argmin(diffs))]
            clip = list(iter_video(inc.clip_path))
            clip_small = [_small(f.image) for f in clip]
            costs = {
                k: float(np.mean([np.abs(c - raw_small[k + j]).mean() for j, c in enumerate(clip_small)]))
                for k in range(max(0, at - 3 * CLIP_FPS), at + 1)
                if k + len(clip) <= len(raw)
            }
            k0 = min(costs, key=costs.__getitem__)
            out.append(IncidentEvidence(inc, new, snapshot, raw[at], head, clip, raw[k0 : k0 + len(clip)]))
    return out


@pytest.mark.slow
def test_evidence_is_redacted_and_nothing_else_is_written(
    mixed_run: MixedRun, evidence: list[IncidentEvidence]
) -> None:
    """Only redacted snapshots and clips (and the database) are on disk; the heads in them are obscured."""
    data = mixed_run.root / "data"
    with Store(mixed_run.db_url, migrate=False) as store, store.read_session() as s:
        registered = {Path(r.path) for r in s.scalars(select(Evidence))}
    found = {p for p in data.rglob("*") if p.is_file()}
    db_files = {p for p in found if p.parent == data and DB_FILES.fullmatch(p.name)}
    assert found - db_files == registered, "files under the storage folders that are not registered evidence"
    assert all(p.parent == data / "media" / "good" and p.suffix in (".jpg", ".mp4") for p in registered)
    assert not any(p.name.startswith(".") for p in found), "a temporary clip was left behind"
    assert len(evidence) >= 2

    for ev in evidence:
        raw, snap, head = ev.raw.image, ev.snapshot, ev.head
        # It is the same frame: away from the person it equals the source up to JPEG noise...
        x1, y1, x2, y2 = (int(v) for v in ev.new_event["bbox"])
        away = np.ones(raw.shape[:2], bool)
        away[max(0, y1 - 20) : y2 + 20, max(0, x1 - 20) : x2 + 20] = False
        assert np.abs(raw.astype(np.int16) - snap.astype(np.int16))[away].mean() < 3.0
        # ...the snapshot was taken while the incident was confirmed (3 frames at 5 fps after its start)...
        confirm = RulesConfig().pedestrian.confirm_frames
        assert abs(ev.raw.pts - (ev.incident.start_s + (confirm - 1) / ANALYTIC_FPS)) < 0.15
        # ...and the person's head in it was obscured, by the bar of the head test below.
        assert changed_fraction(raw, snap, head) >= 0.85, (ev.incident.incident_id, changed_fraction(raw, snap, head))

    # Clips: every person the detector finds in the source frames has an obscured head in the clip frame.
    detector = build_detector(ObjectDetectorConfig())
    for ev in evidence:
        shares = []
        for raw_frame, clip_frame in zip(ev.clip_raw, ev.clip, strict=True):
            found = detector.detect(raw_frame.image)
            people = found[(found.data["label"] == "person") & (found.confidence >= 0.3)]
            for box in people.xyxy:
                shares.append(changed_fraction(raw_frame.image, clip_frame.image, _head(list(box))))
        assert len(shares) >= len(ev.clip) // 2, "the person was not found in the source frames"
        assert float(np.median(shares)) >= 0.3 and min(shares) >= 0.1, (ev.incident.incident_id, sorted(shares)[:5])


@pytest.mark.slow
def test_heads_turned_away_are_obscured_whole(evidence: list[IncidentEvidence]) -> None:
    """The head box exists for heads turned away; a spurious face on the back of a head must not cancel it."""
    for ev in evidence:
        assert changed_fraction(ev.raw.image, ev.snapshot, ev.head) >= 0.85, ev.incident.incident_id
