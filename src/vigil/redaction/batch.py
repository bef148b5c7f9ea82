"""The ``vigil redact`` job: redacted copies of images, folders of images and videos.

Decoding, analysis and encoding of a video overlap in three threads (PyAV and
onnxruntime release the GIL), so the detector is rarely left waiting for I/O.
A file that fails is reported and the rest still run.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vigil.core import Frame, RedactedFrame
from vigil.redaction.engine import Redactor
from vigil.redaction.temporal import TemporalRedactor
from vigil.sources import SourceError, is_image_path, is_video_path, iter_video, probe_video, read_image
from vigil.storage import VideoWriter, write_image

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int | None], None]  # (item, done units, total units or None)


@dataclass
class RedactReport:
    """Counts of one ``vigil redact`` run, written by ``--report``."""

    inputs: int = 0
    written: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    images: int = 0
    videos: int = 0
    frames: int = 0
    fail_closed_frames: int = 0
    changed_frames: int = 0  # video frames between detection frames that changed and were searched themselves
    regions: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def add(self, frame: RedactedFrame) -> None:
        self.frames += 1
        self.fail_closed_frames += int(frame.fail_closed)
        kinds = frame.regions.data.get("kind")
        if kinds is not None:
            self.regions.update(str(k) for k in kinds)

    def as_dict(self) -> dict[str, Any]:
        return {
            "inputs": self.inputs,
            "written": self.written,
            "failed": self.failed,
            "images": self.images,
            "videos": self.videos,
            "frames": self.frames,
            "fail_closed_frames": self.fail_closed_frames,
            "changed_frames": self.changed_frames,
            "regions": dict(sorted(self.regions.items())),
            "seconds": round(self.seconds, 3),
            "fps": round(self.frames / self.seconds, 2) if self.seconds > 0 else None,
        }


def collect_inputs(path: Path) -> list[Path]:
    """The files a ``vigil redact INPUT`` call works on, in a stable order.

    Raises
    ------
    SourceError
        If ``path`` does not exist.
    """
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    if path.is_file():
        return [path]
    raise SourceError(f"{path}: no such file or directory")


def output_path(src: Path, outdir: Path) -> Path:
    """Images keep their names; videos become ``<stem>.mp4``."""
    return outdir / (src.name if is_image_path(src) else f"{src.stem}.mp4")


def redact_inputs(
    inputs: list[Path], outdir: Path, redactor: Redactor, progress: Progress | None = None
) -> RedactReport:
    """Redact every input into ``outdir``; failures are recorded, never raised."""
    outdir.mkdir(parents=True, exist_ok=True)
    report = RedactReport(inputs=len(inputs))
    t0 = time.perf_counter()
    for n, src in enumerate(inputs):
        try:
            if is_video_path(src):
                redact_video(src, output_path(src, outdir), redactor, report, progress)
                report.videos += 1
            else:
                # Anything else is tried as an image, so a mislabelled file gets a clear error.
                frame = redactor.redact(read_image(src))
                report.add(frame)
                write_image(output_path(src, outdir), frame)
                report.images += 1
            report.written.append(str(output_path(src, outdir)))
        except (SourceError, OSError, ValueError) as exc:
            log.error("%s", exc)
            report.failed.append({"path": str(src), "error": str(exc)})
        if progress is not None and not is_video_path(src):
            progress("files", n + 1, len(inputs))
    report.seconds = time.perf_counter() - t0
    return report


_END = object()


def _put(out: queue.Queue[Any], item: Any, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            out.put(item, timeout=0.2)
            return True
        except queue.Full:
            continue
    return False


def _produce(frames: Iterator[Frame], out: queue.Queue[Any], stop: threading.Event) -> None:
    try:
        for frame in frames:
            if not _put(out, frame, stop):
                return
        _put(out, _END, stop)
    except BaseException as exc:  # noqa: BLE001 - handed to the consumer thread
        _put(out, exc, stop)


def redact_video(
    src: Path, dst: Path, redactor: Redactor, report: RedactReport, progress: Progress | None = None
) -> None:
    """Redact one video into an H.264 MP4 without audio.

    Raises
    ------
    SourceError
        If the video cannot be opened or breaks part-way; the frames before the
        break are still written (redacted) to ``dst``.
    """
    info = probe_video(src)
    temporal = TemporalRedactor(redactor)
    frames_in: queue.Queue[Any] = queue.Queue(maxsize=16)
    frames_out: queue.Queue[Any] = queue.Queue(maxsize=16)
    stop = threading.Event()
    reader = threading.Thread(target=_produce, args=(iter_video(src), frames_in, stop), daemon=True)
    error: BaseException | None = None
    write_error: BaseException | None = None
    written = 0

    def encode() -> None:
        nonlocal written, write_error
        try:
            with VideoWriter(dst, info.fps) as writer:
                while (item := frames_out.get()) is not _END:
                    writer.write(item)
                    written += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            write_error = exc
            while frames_out.get() is not _END:  # keep the producer side unblocked
                pass

    writer_thread = threading.Thread(target=encode, daemon=True)
    reader.start()
    writer_thread.start()
    done = 0
    try:
        while True:
            item = frames_in.get()
            if item is _END:
                break
            if isinstance(item, BaseException):
                error = item
                break
            ready = temporal.push(item)
            for frame in ready:
                report.add(frame)
                frames_out.put(frame)
            done += 1
            if progress is not None:
                progress(src.name, done, info.frames or None)
        for frame in temporal.flush():
            report.add(frame)
            frames_out.put(frame)
    finally:
        report.changed_frames += temporal.searched_frames
        stop.set()
        frames_out.put(_END)
        writer_thread.join()
        reader.join(timeout=5)
    if write_error is not None:
        raise OSError(f"{dst}: cannot write video ({write_error})") from write_error
    if error is not None:
        raise error if isinstance(error, SourceError) else SourceError(f"{src}: {error}")
    if info.frames and done < info.frames * 0.98:
        raise SourceError(f"{src}: truncated: decoded {done} of {info.frames} frames (output kept, {written} frames)")
