"""``vigil run``: every configured camera, live, with storage, evidence and delivery.

Each camera's supervisor thread runs that camera's :class:`CameraPipeline`;
the detector is one :class:`DetectorPool` shared by all cameras; events are
written to the store together with their outbox rows (one transaction) and
the delivery dispatchers are woken. A failure in one camera's processing is
logged and that camera carries on with its next frame; the other cameras never
notice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from vigil.config.models import CameraConfig, VigilConfig
from vigil.core import Frame
from vigil.core.events import IncidentEvent
from vigil.delivery import DeliveryService, routes_for
from vigil.detection import build_detector
from vigil.incidents.evidence import EvidenceRecorder, EvidenceWriter
from vigil.pipeline.camera import CameraPipeline
from vigil.pipeline.detector_pool import DetectorPool
from vigil.redaction import Redactor
from vigil.sources import CameraStatus, CameraSupervisor
from vigil.storage import RetentionJob, Store

log = logging.getLogger(__name__)

EventListener = Callable[[IncidentEvent], None]


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
        self.pipeline = CameraPipeline(camera, runner.config.rules, runner.pool.detect, recorder=recorder)
        self.lock = threading.Lock()
        self.errors = 0
        self.latest: Frame | None = None
        self.status: CameraStatus | None = None
        self.supervisor = CameraSupervisor(
            camera.id, camera.source, self.on_frame, self.on_status, select=self.pipeline.select
        )

    def on_frame(self, frame: Frame) -> None:
        self.latest = frame  # raw, memory only: the API redacts before serving it
        with self.lock:
            try:
                events = self.pipeline.process(frame)
            except Exception:  # one bad frame must not stop the camera
                self.errors += 1
                log.exception("camera %s: processing frame %d failed", self.config.id, frame.index)
                return
        for event in events:
            self.runner.publish(event)

    def on_status(self, status: CameraStatus) -> None:
        self.status = status
        self.runner.camera_status(self.config, status)

    def close(self) -> None:
        with self.lock:
            events = self.pipeline.close()
        for event in events:
            self.runner.publish(event)


class LiveRunner:
    """Runs all cameras until :meth:`stop`.

    Parameters
    ----------
    config : VigilConfig
    listeners : list of callables
        Called with every incident event after it is stored (console output, API push).
    """

    def __init__(self, config: VigilConfig, listeners: list[EventListener] | None = None) -> None:
        self.config = config
        self.listeners = list(listeners or [])
        self.media_dir = Path(config.storage.media_dir)
        self.media_dir.mkdir(parents=True, exist_ok=True)
        _prepare_sqlite(config.storage.database_url)
        self.store = Store(config.storage.database_url)
        self.delivery = DeliveryService(self.store, config.services)
        detector = build_detector(config.detector)
        self.pool = DetectorPool(detector)
        # Evidence can be written before its incident row exists (different threads).
        self._evidence_lock = threading.Lock()
        self._unattached: dict[str, list[tuple[str, Path, int]]] = {}
        self.evidence = EvidenceWriter(Redactor(config.redaction, object_detector=detector), on_ready=self._evidence)
        self.retention = RetentionJob(self.store, self.media_dir, config.storage.retention)
        self.cameras = {cam.id: _Camera(self, cam) for cam in config.cameras if cam.enabled}
        self.events = 0
        self.started_at = time.monotonic()
        self._stopped = threading.Event()

    def start(self) -> None:
        self.delivery.start()
        self.retention.start()
        for cam in self.cameras.values():
            self.store.upsert_camera_status(
                cam.config.id,
                online=False,
                name=cam.config.name,
                lat=cam.config.location.lat if cam.config.location else None,
                lon=cam.config.location.lon if cam.config.location else None,
            )
            cam.supervisor.start()

    def publish(self, event: IncidentEvent) -> None:
        """Store an event with its outbox rows, wake delivery, tell the listeners."""
        targets = routes_for(event, self.config.routing, self.config.services)
        try:
            self.store.record_event(event, targets)
        except Exception:  # the store being down must not kill the camera thread
            log.exception("storing event %s of incident %s failed", event.event_id, event.incident_id)
            return
        self.events += 1
        if event.state == "new":
            self._attach_parked(event.incident_id)
        self.delivery.wake(targets)
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:
                log.exception("event listener failed")

    def camera_status(self, camera: CameraConfig, status: CameraStatus) -> None:
        try:
            self.store.upsert_camera_status(
                camera.id,
                online=status.online,
                reconnects=status.reconnects,
                last_seen=datetime.now(UTC) if status.online else None,
            )
            self.delivery.publish_camera_status(camera.id, status.online)
        except Exception:
            log.exception("recording status of camera %s failed", camera.id)

    def _evidence(self, incident_id: str, kind: str, path: Path, size: int) -> None:
        """Register a written snapshot/clip; if its incident is not stored yet, park it for :meth:`publish`."""
        with self._evidence_lock:
            try:
                self._attach(incident_id, kind, path, size)
            except KeyError:  # the camera thread has not stored the incident's first event yet
                self._unattached.setdefault(incident_id, []).append((kind, path, size))

    def _attach(self, incident_id: str, kind: str, path: Path, size: int) -> None:
        expires = datetime.now(UTC) + timedelta(days=self.config.storage.retention.clips_days)
        self.store.attach_evidence(incident_id, kind, str(path), size, expires)  # type: ignore[arg-type]

    def _attach_parked(self, incident_id: str) -> None:
        with self._evidence_lock:
            for kind, path, size in self._unattached.pop(incident_id, []):
                self._attach(incident_id, kind, path, size)

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
            st, times = cam.status, cam.pipeline.times
            cams[cid] = {
                "state": st.state if st else "starting",
                "frames_in": times.frames_in,
                "analysed": times.analysed,
                "detected": times.detected,
                "dropped": st.frames_dropped if st else 0,
                "reconnects": st.reconnects if st else 0,
                "open_incidents": cam.pipeline.lifecycle.open_incidents,
                "errors": cam.errors,
            }
        return {
            "uptime_s": round(time.monotonic() - self.started_at, 1),
            "events": self.events,
            "cameras": cams,
            "delivery_backlog": self.delivery.pending_counts(),
            "detector": {
                "frames": self.pool.frames,
                "batches": self.pool.batches,
                "busy_s": round(self.pool.busy_s, 1),
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
        while time.monotonic() < deadline and any(self.store.pending_counts().values()):
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
        self.evidence.close()
        self.pool.stop()
        self.retention.stop()
        self._drain_outbox(timeout_s=5.0)
        self.delivery.stop()
        self.store.close()
