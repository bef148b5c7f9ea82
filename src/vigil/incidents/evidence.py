"""Redacted snapshots and clips for incidents, cut from an in-memory ring of raw frames.

Raw frames live only in :class:`FrameRing` (memory, a few seconds). When an
incident starts, its pre-roll is copied out of the ring and, with the post-roll
frames that follow, passed through the redaction stage before anything is
encoded; :class:`~vigil.storage.VideoWriter` accepts nothing but redacted
frames. One background thread does the redaction and encoding for all cameras,
so a camera's analysis never waits for evidence to be written.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from vigil.config.models import EvidenceConfig
from vigil.core import Frame
from vigil.redaction import Redactor, TemporalRedactor
from vigil.storage import VideoWriter, write_image

log = logging.getLogger(__name__)

# (incident_id, kind "snapshot" | "clip", path, size in bytes)
EvidenceCallback = Callable[[str, str, Path, int], None]


class FrameRing:
    """The last ``seconds`` of raw frames, thinned to at most ``fps`` (memory only)."""

    def __init__(self, seconds: float, fps: float) -> None:
        self.seconds = seconds
        self.period = 1.0 / fps
        self._frames: deque[Frame] = deque()
        self._last_pts = -float("inf")

    def due(self, pts: float) -> bool:
        """Whether a frame at ``pts`` would be kept (no side effect)."""
        return not (pts - self._last_pts < self.period - 1e-3 and pts >= self._last_pts)

    def push(self, frame: Frame) -> bool:
        """Keep the frame if it is due at the ring's rate; returns whether it was kept."""
        if not self.due(frame.pts):
            return False
        self._last_pts = frame.pts
        self._frames.append(frame)
        while self._frames and frame.pts - self._frames[0].pts > self.seconds:
            self._frames.popleft()
        return True

    def frames(self) -> list[Frame]:
        return list(self._frames)


@dataclass
class _Clip:
    incident_id: str
    path: Path
    until_pts: float
    frames: list[Frame] = field(default_factory=list)


class EvidenceWriter:
    """Background redaction and encoding of snapshots and clips for all cameras."""

    def __init__(self, redactor: Redactor, on_ready: EvidenceCallback | None = None, max_queue: int = 4096) -> None:
        self.redactor = redactor
        self.on_ready = on_ready
        self._jobs: queue.Queue[tuple[str, object] | None] = queue.Queue(max_queue)
        self._thread = threading.Thread(target=self._run, name="vigil-evidence", daemon=True)
        self._thread.start()
        self.written = 0
        self.failed = 0

    def snapshot(self, incident_id: str, frame: Frame, path: Path) -> None:
        self._jobs.put(("snapshot", (incident_id, frame, path)))

    def clip(self, incident_id: str, frames: list[Frame], path: Path, fps: float) -> None:
        self._jobs.put(("clip", (incident_id, frames, path, fps)))

    def close(self, timeout: float = 60.0) -> None:
        """Finish queued work, then stop."""
        self._jobs.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            kind, args = job
            try:
                if kind == "snapshot":
                    self._write_snapshot(*args)  # type: ignore[misc]
                else:
                    self._write_clip(*args)  # type: ignore[misc]
            except Exception:  # one failed clip must not stop the others
                self.failed += 1
                log.exception("writing %s evidence failed", kind)

    def _write_snapshot(self, incident_id: str, frame: Frame, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_image(path, self.redactor.redact(frame))
        self._done(incident_id, "snapshot", path)

    def _write_clip(self, incident_id: str, frames: list[Frame], path: Path, fps: float) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporal = TemporalRedactor(self.redactor)
        tmp = path.with_name(f".{path.name}.part.mp4")
        with VideoWriter(tmp, Fraction(fps).limit_denominator(1001)) as writer:
            t0 = frames[0].pts if frames else 0.0
            for raw in frames:
                shifted = Frame(raw.image, raw.source_id, raw.index, raw.pts - t0)
                for redacted in temporal.push(shifted):
                    writer.write(redacted)
            for redacted in temporal.flush():
                writer.write(redacted)
        tmp.replace(path)
        self._done(incident_id, "clip", path)

    def _done(self, incident_id: str, kind: str, path: Path) -> None:
        self.written += 1
        if self.on_ready is not None:
            self.on_ready(incident_id, kind, path, path.stat().st_size)


class EvidenceRecorder:
    """Per camera: the ring buffer and the clips being collected for open incidents."""

    def __init__(
        self, camera_id: str, media_dir: Path, config: EvidenceConfig, writer: EvidenceWriter, source_fps: float
    ) -> None:
        self.camera_id = camera_id
        self.media_dir = Path(media_dir)
        self.config = config
        self.writer = writer
        self.fps = min(config.clip_fps or source_fps, source_fps)
        self.ring = FrameRing(config.pre_roll_s, self.fps)
        self._open: list[_Clip] = []

    def paths(self, incident_id: str, pts: float) -> tuple[Path, Path]:
        folder = self.media_dir / self.camera_id
        return folder / f"{incident_id}.jpg", folder / f"{incident_id}.mp4"

    def push(self, frame: Frame) -> None:
        """Offer every decoded frame; kept at the clip rate for the ring and open clips."""
        if not self.ring.push(frame):
            return
        still_open = []
        for clip in self._open:
            clip.frames.append(frame)
            if frame.pts >= clip.until_pts:
                self.writer.clip(clip.incident_id, clip.frames, clip.path, self.fps)
            else:
                still_open.append(clip)
        self._open = still_open

    def start(self, incident_id: str, frame: Frame) -> tuple[Path, Path]:
        """Begin evidence for a new incident seen in ``frame``; returns (snapshot, clip) paths."""
        snap, clip_path = self.paths(incident_id, frame.pts)
        self.writer.snapshot(incident_id, frame, snap)
        pre = [f for f in self.ring.frames() if f.pts <= frame.pts]
        self._open.append(_Clip(incident_id, clip_path, frame.pts + self.config.post_roll_s, pre))
        return snap, clip_path

    def flush(self) -> None:
        """End of stream: write the clips that are still collecting post-roll."""
        for clip in self._open:
            if clip.frames:
                self.writer.clip(clip.incident_id, clip.frames, clip.path, self.fps)
        self._open = []
