"""Redacted snapshots and clips for incidents, cut from an in-memory ring of the camera's recent seconds.

The ring holds the camera's own compressed stream (video packets from the key
frame before the pre-roll on, or JPEG images) when the source hands it over
(:mod:`vigil.sources.encoded`: files, RTSP, HTTP streams, MJPEG, image
folders), so a camera's recent seconds cost what the camera sends instead of
hundreds of megabytes of decoded frames; otherwise it holds decoded frames as
YUV 4:2:0 planes, half the bytes of BGR. Either way it is memory only, a few
seconds (privacy invariant 1). When an incident starts, its pre-roll is taken
from the ring and, with the post-roll that follows, decoded again and passed
through the redaction stage before anything is encoded;
:class:`~vigil.storage.VideoWriter` accepts nothing but redacted frames. The
detections the pipeline made on analysed frames go with them, so the redaction
stage does not run the object detector again on those frames.

A small pool of threads does the redaction and encoding for all cameras, so a
camera's analysis never waits for evidence to be written, and one long clip does
not hold up the others.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from vigil.config.models import EvidenceConfig
from vigil.core import Detections, Frame
from vigil.incidents.ring import EncodedRing, FrameRing, RingFrame
from vigil.redaction import Redactor, TemporalRedactor
from vigil.sources.encoded import Encoded, decode_runs
from vigil.storage import VideoWriter, write_image

log = logging.getLogger(__name__)

# (incident_id, kind "snapshot" | "clip", path, size in bytes)
EvidenceCallback = Callable[[str, str, Path, int], None]

#: Packets arrive in decode order; a clip waits this much stream time past its end for reordered frames.
REORDER_S = 0.5
#: The reader runs ahead of analysis (frames waiting, a slow detector): the compressed ring keeps this much
#: more than the pre-roll, so an incident found late still gets its whole pre-roll.
RING_SLACK_S = 3.0
#: A clip stops collecting at this many bytes of compressed units (a camera gone berserk must not fill memory).
MAX_CLIP_BYTES = 256 * 1024 * 1024


@dataclass
class _Clip:
    incident_id: str
    path: Path
    start_pts: float
    until_pts: float
    frames: list[RingFrame] = field(default_factory=list)
    units: list[Encoded] = field(default_factory=list)
    unit_bytes: int = 0


def scaled(objects: Detections | None, scale: tuple[float, float]) -> Detections | None:
    """Boxes found on a frame scaled down for analysis, placed on the full picture."""
    if objects is None or scale == (1.0, 1.0) or len(objects) == 0:
        return objects
    sx, sy = scale
    return objects.with_xyxy(objects.xyxy * np.array([sx, sy, sx, sy], np.float32))


#: A snapshot cut from the compressed stream takes the decoded frame whose pts is this close to the incident's.
SNAPSHOT_MATCH_S = 0.02


def _thinned(frames: Iterator[tuple[float, np.ndarray]], start: float, end: float, fps: float) -> Iterator[Frame]:
    """Decoded frames inside [start, end], at most ``fps``, on a fixed schedule (so the mean rate is ``fps``)."""
    period = 1.0 / fps
    nxt: float | None = None
    for pts, image in frames:
        if pts < start - 1e-3 or pts > end + 1e-3:
            continue
        if nxt is None or pts >= nxt - 1e-3:
            nxt = pts + period if nxt is None or pts > nxt + period else nxt + period
            yield Frame(image, "", 0, pts)


class EvidenceWriter:
    """Background redaction and encoding of snapshots and clips for all cameras, on a small pool of threads.

    Parameters
    ----------
    redactor : Redactor
        The process's redaction stage (shared; give it ``workers`` at least this pool's size).
    on_ready : callable, optional
        ``(incident_id, kind, path, size)`` for each file written.
    max_queue : int
        Jobs waiting at most; a camera that would queue more waits up to ``wait_s``, then its job is dropped.
    workers : int
        Threads writing evidence at the same time.
    """

    def __init__(
        self,
        redactor: Redactor,
        on_ready: EvidenceCallback | None = None,
        max_queue: int = 64,
        workers: int = 2,
        wait_s: float = 5.0,
    ) -> None:
        self.redactor = redactor
        self.on_ready = on_ready
        self.wait_s = wait_s
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vigil-evidence")
        self._slots = threading.BoundedSemaphore(max_queue)
        self._idle = threading.Condition()
        self._jobs = 0
        self.written = 0
        self.failed = 0
        self.dropped = 0

    def snapshot(self, incident_id: str, frame: Frame, path: Path, objects: Detections | None = None) -> None:
        """Redact and write one frame; ``objects`` are the pipeline's detections on it, if it ran the detector."""
        self._submit("snapshot", self._write_snapshot, incident_id, frame, path, objects)

    def snapshot_from_units(
        self,
        incident_id: str,
        units: list[Encoded],
        frame: Frame,
        path: Path,
        objects: Detections | None = None,
    ) -> None:
        """Redact and write the full-resolution picture of ``frame`` (analysed scaled down), decoded from ``units``.

        ``units`` run from the key unit before ``frame`` on; ``objects`` are
        the detections on ``frame`` in its own (analysis) pixels. When the
        picture cannot be found among the decoded frames, ``frame`` itself is
        written (redacted, at the analysis size).
        """
        self._submit("snapshot", self._write_snapshot_units, incident_id, units, frame, path, objects)

    def clip(
        self,
        incident_id: str,
        frames: list[Frame] | list[RingFrame],
        path: Path,
        fps: float,
        objects: dict[float, Detections] | None = None,
    ) -> None:
        """Redact and encode decoded frames (``Frame`` or compact ring frames) as a clip."""
        self._submit("clip", self._write_frames, incident_id, frames, path, fps, objects or {})

    def clip_from_units(
        self,
        incident_id: str,
        units: list[Encoded],
        span: tuple[float, float],
        path: Path,
        fps: float,
        objects: dict[float, Detections] | None = None,
    ) -> None:
        """Decode the compressed ``units``, keep the frames in ``span`` (pts) at ``fps``, redact and encode them."""
        self._submit("clip", self._write_units, incident_id, units, span, path, fps, objects or {})

    def close(self, timeout: float = 60.0) -> None:
        """Finish queued work (up to ``timeout``), then stop."""
        with self._idle:
            if not self._idle.wait_for(lambda: self._jobs == 0, timeout):
                log.error("%d evidence jobs were not finished within %.0f s", self._jobs, timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- jobs -----------------------------------------------------------------------------------

    def _submit(self, kind: str, fn: Callable[..., None], *args: object) -> None:
        if not self._slots.acquire(timeout=self.wait_s):
            self.dropped += 1
            log.error("evidence is %.0f s behind: a %s of incident %s is not written", self.wait_s, kind, args[0])
            return
        with self._idle:
            self._jobs += 1
        try:
            self._pool.submit(self._run, kind, fn, args)
        except RuntimeError:  # shut down
            self._finished()
            raise

    def _run(self, kind: str, fn: Callable[..., None], args: tuple[object, ...]) -> None:
        try:
            fn(*args)
        except Exception:  # one failed clip must not stop the others
            self.failed += 1
            log.exception("writing %s evidence failed", kind)
        finally:
            self._finished()

    def _finished(self) -> None:
        self._slots.release()
        with self._idle:
            self._jobs -= 1
            self._idle.notify_all()

    def _write_snapshot(self, incident_id: str, frame: Frame, path: Path, objects: Detections | None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_image(path, self.redactor.redact(frame, objects))
        self._done(incident_id, "snapshot", path)

    def _write_snapshot_units(
        self, incident_id: str, units: list[Encoded], frame: Frame, path: Path, objects: Detections | None
    ) -> None:
        full: Frame | None = None
        best = SNAPSHOT_MATCH_S
        for pts, image in decode_runs(units):
            if abs(pts - frame.pts) <= best:
                full, best = Frame(image, frame.source_id, frame.index, frame.pts), abs(pts - frame.pts)
            elif pts > frame.pts + SNAPSHOT_MATCH_S:
                break
        if full is None:
            log.warning(
                "incident %s: no full-resolution picture at %.3f s; snapshot at analysis size", incident_id, frame.pts
            )
            self._write_snapshot(incident_id, frame, path, objects)
            return
        sx, sy = full.width / frame.width, full.height / frame.height
        self._write_snapshot(incident_id, full, path, scaled(objects, (sx, sy)))

    def _write_frames(
        self, incident_id: str, frames: list, path: Path, fps: float, objects: dict[float, Detections]
    ) -> None:
        def decoded() -> Iterator[Frame]:
            for f in frames:
                yield f.frame() if isinstance(f, RingFrame) else f

        self._encode(incident_id, decoded(), path, fps, objects)

    def _write_units(
        self,
        incident_id: str,
        units: list[Encoded],
        span: tuple[float, float],
        path: Path,
        fps: float,
        objects: dict[float, Detections],
    ) -> None:
        self._encode(incident_id, _thinned(decode_runs(units), span[0], span[1], fps), path, fps, objects)

    def _encode(
        self, incident_id: str, frames: Iterator[Frame], path: Path, fps: float, objects: dict[float, Detections]
    ) -> None:
        """Redact frames in order (with the pipeline's detections where it had some) and encode them."""
        path.parent.mkdir(parents=True, exist_ok=True)
        temporal = TemporalRedactor(self.redactor)
        tmp = path.with_name(f".{path.name}.part.mp4")
        written = 0
        try:
            with VideoWriter(tmp, Fraction(fps).limit_denominator(1001)) as writer:
                t0: float | None = None
                for raw in frames:
                    t0 = raw.pts if t0 is None else t0
                    shifted = Frame(raw.image, raw.source_id, raw.index, raw.pts - t0)
                    for redacted in temporal.push(shifted, objects.get(round(raw.pts, 4))):
                        writer.write(redacted)
                        written += 1
                for redacted in temporal.flush():
                    writer.write(redacted)
                    written += 1
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if written == 0:
            tmp.unlink(missing_ok=True)
            raise RuntimeError(f"clip of incident {incident_id} has no frames")
        tmp.replace(path)
        self._done(incident_id, "clip", path)

    def _done(self, incident_id: str, kind: str, path: Path) -> None:
        self.written += 1
        if self.on_ready is not None:
            self.on_ready(incident_id, kind, path, path.stat().st_size)


class EvidenceRecorder:
    """Per camera: the ring, the detections made on analysed frames, and the clips being collected.

    Frames and detections come from the camera's dispatcher thread, compressed
    units from its reader thread; a lock keeps the two apart.
    """

    def __init__(
        self, camera_id: str, media_dir: Path, config: EvidenceConfig, writer: EvidenceWriter, source_fps: float
    ) -> None:
        self.camera_id = camera_id
        self.media_dir = Path(media_dir)
        self.config = config
        self.writer = writer
        self.fps = min(config.clip_fps or source_fps, source_fps)
        self.ring = FrameRing(config.pre_roll_s, self.fps)
        self.units = EncodedRing(config.pre_roll_s + RING_SLACK_S, self.fps)
        self._lock = threading.Lock()
        self._open: list[_Clip] = []
        self._objects: OrderedDict[float, Detections] = OrderedDict()
        self._encoded_seen = False

    @property
    def encoded(self) -> bool:
        """Whether the source hands over its compressed stream (then decoded frames need not be kept)."""
        return self._encoded_seen

    def paths(self, incident_id: str, pts: float) -> tuple[Path, Path]:
        folder = self.media_dir / self.camera_id
        return folder / f"{incident_id}.jpg", folder / f"{incident_id}.mp4"

    def push_encoded(self, unit: Encoded) -> None:
        """A compressed unit from the reader thread: into the ring and the clips collecting post-roll."""
        done = []
        with self._lock:
            self._encoded_seen = True
            if not self.units.push(unit):
                return
            still_open = []
            for clip in self._open:
                clip.units.append(unit)
                clip.unit_bytes += unit.size
                late = unit.pts is not None and unit.pts >= clip.until_pts + REORDER_S
                (done if late or clip.unit_bytes > MAX_CLIP_BYTES else still_open).append(clip)
            self._open = still_open
        self._write(done)

    def push(self, frame: Frame) -> None:
        """Offer every delivered frame; kept at the clip rate, for sources without a compressed stream."""
        if self._encoded_seen:
            return
        done = []
        with self._lock:
            kept = self.ring.push(frame)
            if kept is None:
                return
            still_open = []
            for clip in self._open:
                clip.frames.append(kept)
                (done if frame.pts >= clip.until_pts else still_open).append(clip)
            self._open = still_open
        self._write(done)

    def note_objects(self, pts: float, objects: Detections, scale: tuple[float, float] = (1.0, 1.0)) -> None:
        """The detector's findings on the analysed frame at ``pts``: the clip's redaction reuses them.

        ``scale`` places them on the full picture when the frame was analysed
        scaled down (clips cut from the compressed stream are full size).
        """
        with self._lock:
            if self._encoded_seen:
                objects = scaled(objects, scale)  # type: ignore[assignment]
            self._objects[round(pts, 4)] = objects
            horizon = self.config.pre_roll_s + self.config.post_roll_s + 2 * REORDER_S + 5.0
            while self._objects and next(iter(self._objects)) < pts - horizon:
                self._objects.popitem(last=False)

    def start(self, incident_id: str, frame: Frame, objects: Detections | None = None) -> tuple[Path, Path]:
        """Begin evidence for a new incident seen in ``frame``; returns (snapshot, clip) paths.

        ``objects`` are the detections made on ``frame`` itself, when the detector ran on it.
        """
        snap, clip_path = self.paths(incident_id, frame.pts)
        if self._encoded_seen and frame.full_size is not None:
            # Analysed scaled down: the snapshot is cut at full resolution from the compressed stream.
            with self._lock:
                units = self.units.since(frame.pts)
            self.writer.snapshot_from_units(incident_id, units, frame, snap, objects)
        else:
            self.writer.snapshot(incident_id, frame, snap, objects)
        start = frame.pts - self.config.pre_roll_s
        clip = _Clip(incident_id, clip_path, start, frame.pts + self.config.post_roll_s)
        with self._lock:
            if self._encoded_seen:
                clip.units = self.units.since(start)
                clip.unit_bytes = sum(u.size for u in clip.units)
            else:
                clip.frames = [f for f in self.ring.frames() if f.pts <= frame.pts]
            self._open.append(clip)
        return snap, clip_path

    def flush(self) -> None:
        """End of stream: write the clips that are still collecting post-roll."""
        with self._lock:
            done, self._open = self._open, []
        self._write(done)

    def _write(self, clips: list[_Clip]) -> None:
        """Hand complete clips to the writer (outside the lock: it may wait), with the detections inside them."""
        for clip in clips:
            with self._lock:
                lo, hi = clip.start_pts - 1e-3, clip.until_pts + 1e-3
                objects = {p: o for p, o in self._objects.items() if lo <= p <= hi}
            if clip.units:
                span = (clip.start_pts, clip.until_pts)
                self.writer.clip_from_units(clip.incident_id, clip.units, span, clip.path, self.fps, objects)
            elif clip.frames:
                self.writer.clip(clip.incident_id, clip.frames, clip.path, self.fps, objects)
