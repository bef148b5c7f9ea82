"""``vigil run``: every configured camera, live, with storage, evidence and delivery.

Each camera's supervisor thread runs that camera's :class:`CameraPipeline`;
the detector is one :class:`DetectorPool` shared by all cameras (with a
deadline, so a hung detector turns the cameras "stalled" instead of freezing
them); events go through the local event journal to the store, together with
their outbox rows (one transaction), and the delivery dispatchers are woken
(:class:`~vigil.pipeline.publisher.EventPublisher`). A failure in one camera's
processing is counted and logged (without flooding) and that camera carries on
with its next frame; the other cameras never notice. One :class:`Redactor`
serves the whole process: evidence, and the API's live view.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from vigil.config.models import CameraConfig, VigilConfig
from vigil.core import Frame
from vigil.core.events import IncidentEvent
from vigil.delivery import DeliveryService, routes_for
from vigil.detection import build_detector
from vigil.detection.base import Detector
from vigil.incidents.evidence import EvidenceRecorder, EvidenceWriter
from vigil.pipeline.camera import CameraPipeline
from vigil.pipeline.detector_pool import DetectorPool
from vigil.pipeline.metrics import RunnerMetrics
from vigil.pipeline.publisher import EventPublisher
from vigil.redaction import Redactor
from vigil.runtime.memory import limit_heap_growth
from vigil.runtime.threads import limit_native_threads
from vigil.sources import CameraStatus, CameraSupervisor
from vigil.storage import RetentionJob, Store
from vigil.storage.journal import EventJournal
from vigil.tracking import TrackerConfig

log = logging.getLogger(__name__)

EventListener = Callable[[IncidentEvent], None]
MAX_PARKED = 10_000  # evidence registrations waiting for their incident row (or the database)


def _prepare_sqlite(url: str) -> None:
    """Create the folder of a SQLite database file so a fresh machine just works."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and url[len(prefix) :] not in ("", ":memory:"):
        Path(url[len(prefix) :]).parent.mkdir(parents=True, exist_ok=True)


class _Camera:
    """A camera's pipeline and supervisor, with the lock that serialises its frames."""

    def __init__(self, runner: LiveRunner, camera: CameraConfig) -> None:
        self.runner = runner
        self.config = camera
        recorder = EvidenceRecorder(
            camera.id, runner.media_dir, runner.config.evidence, runner.evidence, runner.config.evidence.clip_fps
        )
        self.pipeline = CameraPipeline(
            camera,
            runner.config.rules,
            runner.pool,
            recorder=recorder,
            tracker=TrackerConfig.for_detector(runner.config.detector),
            detail=runner.config.detector.detail,
        )
        self.lock = threading.Lock()
        self.latest: Frame | None = None
        self.status: CameraStatus | None = None
        self.supervisor = CameraSupervisor(
            camera.id,
            camera.source,
            self.on_frame,
            self.on_status,
            select=self.pipeline.select,
            on_encoded=recorder.push_encoded,  # the ring keeps the camera's compressed stream
            min_fps=camera.analytic_fps,  # the decoder may skip non-reference frames down to this rate
        )

    @property
    def errors(self) -> int:
        """Frames whose processing raised (counted and logged, without flooding, by the supervisor)."""
        return self.supervisor.status.consumer_errors

    def on_frame(self, frame: Frame) -> None:
        """Process one frame; an exception goes to the supervisor, which counts it towards "stalled"."""
        self.latest = frame  # raw, memory only: the API redacts before serving it
        with self.lock:
            events = self.pipeline.process(frame)
        if events:
            decoded_at = self.supervisor.clock_of(frame.pts)
            for event in events:
                self.runner.publish(event, decoded_at)

    def on_status(self, status: CameraStatus) -> None:
        self.status = status
        self.runner.camera_status(self.config, status)

    def close(self) -> None:
        """End the camera's open incidents; a pipeline still stuck in a frame is left to itself."""
        if not self.lock.acquire(timeout=10.0):
            log.error("camera %s: a frame is still in analysis; its open incidents are not ended", self.config.id)
            return
        try:
            events = self.pipeline.close()
        finally:
            self.lock.release()
        for event in events:
            self.runner.publish(event)


class LiveRunner:
    """Runs all cameras until :meth:`stop`.

    Parameters
    ----------
    config : VigilConfig
    listeners : list of callables
        Called with every incident event after it is stored (console output, API push).
    detector : Detector, optional
        The object detector shared by the cameras and the redaction stage; built
        from ``config.detector`` when omitted (tests inject faulty ones).
    node : str, optional
        The cluster node this runner is on (a camera group of ``vigil run --cluster``),
        stored with each camera's status; None for the embedded runner.
    retention : bool
        Run the retention job; a cluster runs one for all groups instead of one each.
    delivery_options : dict, optional
        Keyword arguments of every dispatcher (a cluster's outbox lease length).
    """

    def __init__(
        self,
        config: VigilConfig,
        listeners: list[EventListener] | None = None,
        detector: Detector | None = None,
        *,
        node: str | None = None,
        retention: bool = True,
        delivery_options: dict[str, Any] | None = None,
    ) -> None:
        limit_heap_growth()  # frames are large and freed from many threads (see vigil.runtime.memory)
        limit_native_threads()  # every camera calls OpenCV at once (see vigil.runtime.threads)
        self.config = config
        self.listeners = list(listeners or [])
        self.media_dir = Path(config.storage.media_dir)
        self.media_dir.mkdir(parents=True, exist_ok=True)
        _prepare_sqlite(config.storage.database_url)
        self.store = Store(config.storage.database_url)
        self.delivery = DeliveryService(self.store, config.services, cameras=config.cameras, **(delivery_options or {}))
        self.metrics = RunnerMetrics()
        workers, threads = config.detector.pool_plan()
        if detector is None:
            detector = build_detector(config.detector.model_copy(update={"threads": threads}))
        self.pool = DetectorPool(detector, latency=self.metrics.detector_latency, workers=workers)
        # The one redactor of the process (evidence and the API's live view), detecting through the pool. Its
        # checked detections run one at a time: CenterFace on a 1080p frame needs ~350 MB of activations, which
        # concurrent runs would multiply; the evidence threads still overlap decoding and encoding with it.
        self.redactor = Redactor(config.redaction, object_detector=self.pool, workers=1)
        # Evidence can be written before its incident row exists (different threads), or while the database is down.
        self._evidence_lock = threading.Lock()
        self._unattached: OrderedDict[str, list[tuple[str, Path, int]]] = OrderedDict()
        writers = config.evidence.resolved_writers()
        self.evidence = EvidenceWriter(self.redactor, on_ready=self._evidence, workers=writers)
        storage = config.storage
        journal = EventJournal(storage.resolved_journal_path(), int(storage.journal_max_mb * 1024 * 1024))
        self.publisher = EventPublisher(self.store, journal, self._targets, self._stored)
        self.node = node
        self.retention = RetentionJob(self.store, self.media_dir, storage.retention) if retention else None
        self.cameras = {cam.id: _Camera(self, cam) for cam in config.cameras if cam.enabled}
        self._count_lock = threading.Lock()
        self.events = 0  # stored
        self.published = 0  # made by the cameras
        self._decoded_at: OrderedDict[str, float] = OrderedDict()  # event id -> clock of its frame, for latency
        self.started_at = time.monotonic()
        self._stopped = threading.Event()

    def start(self) -> None:
        self.delivery.start()
        if self.retention is not None:
            self.retention.start()
        for cam in self.cameras.values():
            self.store.upsert_camera_status(
                cam.config.id,
                online=False,
                name=cam.config.name,
                lat=cam.config.location.lat if cam.config.location else None,
                lon=cam.config.location.lon if cam.config.location else None,
                node=self.node,
            )
            cam.supervisor.start()
        self.publisher.start()

    # -- events ------------------------------------------------------------------------------

    def publish(self, event: IncidentEvent, decoded_at: float | None = None) -> None:
        """Journal an event (durable at once); the publisher stores it, wakes delivery and tells the listeners.

        ``decoded_at`` is the ``time.monotonic()`` at which the frame that caused
        it was decoded, for the end-to-end latency histogram.
        """
        with self._count_lock:
            self.published += 1
            if decoded_at is not None:
                self._decoded_at[event.event_id] = decoded_at
                while len(self._decoded_at) > 10_000:
                    self._decoded_at.popitem(last=False)
        self.publisher.publish(event)

    def _targets(self, event: IncidentEvent) -> list[str]:
        return routes_for(event, self.config.routing, self.config.services)

    def _stored(self, event: IncidentEvent, targets: list[str], new: bool) -> None:
        """The publisher stored ``event`` (``new``: not a replay the store already had)."""
        with self._count_lock:
            self.events += 1
            decoded_at = self._decoded_at.pop(event.event_id, None)
        if decoded_at is not None:
            self.metrics.event_latency.labels(event.state).observe(time.monotonic() - decoded_at)
        self._attach_parked(event.incident_id)
        self.delivery.wake(targets)
        if not new:
            return
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:
                log.exception("event listener failed")

    def camera_status(self, camera: CameraConfig, status: CameraStatus) -> None:
        """Store (through the publisher: it waits out a database outage) and announce a camera's health."""
        self.publisher.camera_status(
            camera.id,
            online=status.online,
            reconnects=status.reconnects,
            last_seen=datetime.now(UTC) if status.online else None,
            node=self.node,
        )
        word = "stalled" if status.state == "stalled" else ("online" if status.online else "offline")
        try:
            self.delivery.publish_camera_status(camera.id, word)
        except Exception:
            log.exception("announcing status of camera %s failed", camera.id)

    # -- evidence ------------------------------------------------------------------------------

    def _evidence(self, incident_id: str, kind: str, path: Path, size: int) -> None:
        """Register a written snapshot/clip; if its incident is not stored yet, or the database is down, park it."""
        with self._evidence_lock:
            try:
                self._attach(incident_id, kind, path, size)
            except Exception as exc:  # noqa: BLE001 - KeyError: no incident row yet; otherwise the database is down
                if not isinstance(exc, KeyError):
                    log.warning("registering %s of incident %s waits for the database: %s", kind, incident_id, exc)
                self._unattached.setdefault(incident_id, []).append((kind, path, size))
                while len(self._unattached) > MAX_PARKED:
                    lost, items = self._unattached.popitem(last=False)
                    log.error("evidence of incident %s was never registered (%d files)", lost, len(items))

    def _attach(self, incident_id: str, kind: str, path: Path, size: int) -> None:
        expires = datetime.now(UTC) + timedelta(days=self.config.storage.retention.clips_days)
        self.store.attach_evidence(incident_id, kind, str(path), size, expires)  # type: ignore[arg-type]

    def _attach_parked(self, incident_id: str) -> None:
        """After an event of the incident is stored: register its parked evidence (retried on its next event)."""
        with self._evidence_lock:
            parked = self._unattached.pop(incident_id, [])
            for i, (kind, path, size) in enumerate(parked):
                try:
                    self._attach(incident_id, kind, path, size)
                except Exception as exc:  # noqa: BLE001 - the database went down again: keep the rest parked
                    log.warning("registering evidence of incident %s failed again: %s", incident_id, exc)
                    self._unattached[incident_id] = parked[i:]
                    return

    def latest(self, camera_id: str) -> Frame | None:
        """The newest raw frame of a camera, for redacted snapshots and live view (never served raw)."""
        cam = self.cameras.get(camera_id)
        return cam.latest if cam is not None else None

    def finished(self) -> bool:
        """True when every camera reached the end of a non-looping file."""
        return all(c.status is not None and c.status.state == "finished" for c in self.cameras.values())

    def status(self) -> dict[str, Any]:
        """Counters for the status line and metrics."""
        cams = {}
        for cid, cam in self.cameras.items():
            st, times = cam.supervisor.status, cam.pipeline.times
            started = cam.status is not None
            cams[cid] = {
                "state": st.state if started else "starting",
                "frames_in": times.frames_in,
                "analysed": times.analysed,
                "detected": times.detected,
                "decoded": st.frames,
                "dropped": st.frames_dropped,
                "analysis_dropped": st.analysis_dropped,
                "reconnects": st.reconnects,
                "open_incidents": cam.pipeline.lifecycle.open_incidents,
                "errors": st.consumer_errors,
                "last_error": st.last_error,
            }
        try:
            backlog = self.delivery.pending_counts()
        except Exception:  # noqa: BLE001 - the database is down; the journal figure says so
            backlog = {}
        return {
            "uptime_s": round(time.monotonic() - self.started_at, 1),
            "events": self.events,
            "events_published": self.published,
            "cameras": cams,
            "delivery_backlog": backlog,
            "journal": self.publisher.status(),
            "detector": {
                "frames": self.pool.frames,
                "batches": self.pool.batches,
                "workers": self.pool.workers,
                "busy_s": round(self.pool.busy_s, 1),
                "refused": self.pool.refused,
                "timeouts": self.pool.timeouts,
            },
        }

    def _drain_outbox(self, timeout_s: float) -> None:
        """Give the dispatchers a bounded moment to send the final ``end`` events.

        Whatever is still pending after that stays in the outbox and goes out on
        the next start, so nothing is lost either way.
        """
        if not self.config.services:
            return
        self.delivery.wake()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if not any(self.store.pending_counts().values()):
                    return
            except Exception:  # noqa: BLE001 - the database is down: nothing to wait for
                return
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop cameras, end their open incidents, finish evidence, then delivery."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        for cam in self.cameras.values():
            cam.supervisor.stop(timeout=5)
        for cam in self.cameras.values():
            cam.close()
        self.evidence.close()  # clips may still need the detector and the database: both stay up until here
        self.publisher.stop(drain_s=5.0)
        self.pool.stop()
        self.redactor.close()
        if self.retention is not None:
            self.retention.stop()
        self._drain_outbox(timeout_s=5.0)
        self.delivery.stop()
        self.store.close()
