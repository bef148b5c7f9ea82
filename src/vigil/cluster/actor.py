"""A camera group: the embedded runner's per-camera stages for a few cameras, in one Ray actor.

The actor is a :class:`~vigil.pipeline.runner.LiveRunner` limited to the group's
cameras, so sources, gating, detection, tracking, rules, lifecycle, evidence, the
event journal and delivery are exactly those of ``vigil run``. Raw frames stay in
this process: what leaves it is :class:`IncidentEvent`\\ s, status dicts and
redacted JPEG bytes (:meth:`CameraGroup.redacted_jpeg`).

Ray restarts the actor on a surviving node when it or its node dies (it re-runs
``__init__``); the restarted group starts the cameras again and ends the
incidents they had left open in the store, under their own ids.
"""

from __future__ import annotations

import logging
import os
import resource
import socket
import threading
import time
import uuid
import warnings
from collections import deque
from datetime import UTC, datetime
from typing import Any

from vigil.config.models import VigilConfig
from vigil.core import RedactedFrame
from vigil.core.events import IncidentEvent
from vigil.pipeline.runner import LiveRunner
from vigil.redaction import Redactor

log = logging.getLogger(__name__)
MAX_UNCOLLECTED = 10_000  # events kept for the driver's listeners between two collections


def node_label(node_id: str, host: str | None = None) -> str:
    """A node's name for people and the ``cameras.node`` column: host name and the start of Ray's node id.

    The id part tells apart nodes on one host (several raylets, as in the tests).
    """
    return f"{(host or socket.gethostname())[:100]}/{node_id[:8]}"


def orphan_end(record: Any, now: datetime | None = None) -> IncidentEvent:
    """The ``end`` event of an incident left open by a group that died, under the incident's own id.

    Its end time is when the incident was last updated (the last the dead group
    saw of it), in the stream time of its start.
    """
    now = now or datetime.now(UTC)
    seen_s = max(0.0, (record.updated_at - record.started_at).total_seconds())
    return IncidentEvent(
        event_id=uuid.uuid4().hex,
        incident_id=record.incident_id,
        sequence=record.last_sequence + 1,
        state="end",
        type=record.type,
        camera_id=record.camera_id,
        start_s=record.start_s,
        end_s=record.start_s + seen_s,
        bbox=tuple(record.bbox),  # type: ignore[arg-type]
        confidence=record.confidence,
        severity=record.severity,
        details={**record.details, "ended_by": "group restart"},
        wall_time=now.isoformat(),
    )


class CameraGroup:
    """One group of cameras; wrapped with ``ray.remote`` by :class:`~vigil.cluster.runner.ClusterRunner`.

    Parameters
    ----------
    name : str
        The group's name (``group-0003``).
    config : VigilConfig
        :func:`~vigil.cluster.groups.group_config`: only this group's cameras enabled.
    delivery_options : dict, optional
        Passed to the group's dispatchers (the outbox lease length).
    """

    def __init__(self, name: str, config: VigilConfig, delivery_options: dict[str, Any] | None = None) -> None:
        import ray

        context = ray.get_runtime_context()
        self.name = name
        self.node_id = context.get_node_id()
        self.node = node_label(self.node_id)
        with warnings.catch_warnings():  # Ray's own property uses a deprecated call inside
            warnings.simplefilter("ignore", DeprecationWarning)
            self.restarted = bool(context.was_current_actor_reconstructed)
        self.started_at = time.time()
        self._events: deque[IncidentEvent] = deque(maxlen=MAX_UNCOLLECTED)
        self._progress: dict[str, tuple[int, float]] = {}  # camera -> (frames analysed, when that count changed)
        self.runner = LiveRunner(
            config,
            listeners=[self._events.append],
            node=self.node,
            retention=False,
            delivery_options=delivery_options,
        )
        self.orphans_ended = 0
        self.runner.start()
        threading.Thread(target=self._end_orphans, name=f"vigil-{name}-orphans", daemon=True).start()
        log.info("group %s on %s: %d camera(s), restarted=%s", name, self.node, len(self.runner.cameras),
                 self.restarted)  # fmt: skip

    def _end_orphans(self, wait_s: float = 120.0) -> None:
        """End the incidents this group's cameras left open (a crash of the group or of its node).

        First the group's journal must be stored (a restart on the same node, or a
        shared journal folder, replays what the dead run had not stored), so the
        ``end`` follows the incident's last event. Incidents this run opened started
        after it did and are left alone.
        """
        started = datetime.fromtimestamp(self.started_at, UTC)
        deadline = time.monotonic() + wait_s
        while self.runner.publisher.status()["waiting"] and time.monotonic() < deadline:
            time.sleep(0.2)
        try:
            for camera_id in self.runner.cameras:
                for record in self.runner.store.list_incidents(state="open", camera_id=camera_id, limit=10_000):
                    if record.started_at < started:
                        self.runner.publish(orphan_end(record))
                        self.orphans_ended += 1
        except Exception:
            log.exception("group %s: ending the incidents left open by a previous run failed", self.name)
        if self.orphans_ended:
            log.warning("group %s: ended %d incident(s) left open by a previous run", self.name, self.orphans_ended)

    def ready(self) -> dict[str, Any]:
        """Where the group runs (answered once ``__init__`` has finished)."""
        return {"group": self.name, "node": self.node, "node_id": self.node_id, "pid": os.getpid(),
                "restarted": self.restarted}  # fmt: skip

    def status(self) -> dict[str, Any]:
        """The runner's status (cameras, journal, detector, backlog) with the group's place, memory and CPU."""
        usage = resource.getrusage(resource.RUSAGE_SELF)
        status = self.runner.status()
        now = time.monotonic()
        for camera_id, cam in status["cameras"].items():  # lag: how long since the camera's last analysed frame
            count, since = self._progress.get(camera_id, (0, None))
            if cam["analysed"] != count:
                count, since = cam["analysed"], now
                self._progress[camera_id] = (count, since)
            cam["idle_s"] = None if since is None else round(now - since, 1)
        return {
            **status,
            **self.ready(),
            "orphans_ended": self.orphans_ended,
            "finished": self.runner.finished(),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),  # the group process's CPU time (benchmarks)
        }

    def collect_events(self) -> list[IncidentEvent]:
        """Events stored since the last call, for the driver's listeners (console output, API push)."""
        out = []
        while self._events:
            out.append(self._events.popleft())
        return out

    def redacted_jpeg(self, camera_id: str) -> bytes | None:
        """The camera's newest frame, redacted here (fail closed) and encoded: what the API may show."""
        from vigil.api.context import encode_jpeg

        frame = self.runner.latest(camera_id)
        if frame is None:
            return None
        try:
            out = self.runner.redactor.redact(frame)
        except Exception:
            log.exception("group %s: redacting a live frame of %s failed; obscuring it whole", self.name, camera_id)
            out = Redactor.fail_closed(frame)
        if not isinstance(out, RedactedFrame):
            out = Redactor.fail_closed(frame)
        return encode_jpeg(out)

    def stop(self) -> bool:
        """Stop cleanly: end open incidents, write their clips, drain the journal and the outbox."""
        self.runner.stop()
        return True
