"""A directory of images played as a camera (frame dumps, snapshot drops, demos)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from vigil.core import Frame
from vigil.sources.base import Clock, Pacer, Select, camera_error
from vigil.sources.encoded import EncodedSink, image_unit
from vigil.sources.files import SourceError, is_image_path, read_image

log = logging.getLogger(__name__)

#: Images carry no timestamps; frames are spaced as if taken at this rate. 25 fps
#: matches the common case of frames extracted from a video.
DEFAULT_IMAGE_FPS = 25.0


class ImageDirSource:
    """The images of a directory in name order, or a single image file.

    The listing is read again at the start of every pass, so images added while
    looping are picked up. An unreadable image is skipped with a warning (one bad
    file must not take the camera down); a pass with no readable image at all is
    an error.

    Parameters
    ----------
    camera_id : str
        Named in errors and set as ``Frame.source_id``.
    path : Path
        Directory (its image files, not sub-directories) or one image file.
    loop, realtime : bool
        Start again after the last image; pace images at ``fps``.
    fps : float
        Timestamps are ``index / fps``, continuing across loops.
    """

    live = False

    def __init__(
        self,
        camera_id: str,
        path: Path,
        *,
        loop: bool = False,
        realtime: bool = False,
        fps: float = DEFAULT_IMAGE_FPS,
        clock: Clock = time.monotonic,
    ) -> None:
        if fps <= 0:
            raise ValueError("fps must be positive")
        self.camera_id = camera_id
        self.path = Path(path)
        self._loop = loop
        self._realtime = realtime
        self._fps = fps
        self._clock = clock
        self._closing = threading.Event()
        #: Gets every image's file bytes (for the evidence ring); set before ``frames``.
        self.on_encoded: EncodedSink | None = None

    def close(self) -> None:
        """Ask :meth:`frames` to stop before the next image."""
        self._closing.set()

    def _listing(self) -> list[Path]:
        if self.path.is_file():
            return [self.path]
        try:
            files = sorted(p for p in self.path.iterdir() if p.is_file() and is_image_path(p))
        except OSError as exc:
            raise camera_error(self.camera_id, f"cannot list {self.path} ({exc.strerror or exc})") from exc
        if not files:
            raise camera_error(self.camera_id, f"no images in {self.path}")
        return files

    def frames(self, select: Select | None = None) -> Iterator[Frame]:
        pacer = Pacer(self._closing, self._clock) if self._realtime else None
        index = 0
        while not self._closing.is_set():
            files = self._listing()
            good = 0
            first_error: str | None = None
            for file in files:
                if self._closing.is_set():
                    return
                pts = index / self._fps
                if self.on_encoded is not None:
                    try:
                        self.on_encoded(image_unit(file.read_bytes(), pts))
                    except OSError as exc:
                        log.debug("camera %s: %s not kept for evidence (%s)", self.camera_id, file, exc)
                if select is not None and not select(pts):
                    index += 1
                    good += 1  # not read, so not known to be bad
                    continue
                try:
                    image = read_image(file).image
                except SourceError as exc:
                    first_error = first_error or str(exc)
                    log.warning("camera %s: skipped %s", self.camera_id, exc)
                    continue
                if pacer is not None and not pacer.wait_for(pts):
                    return
                yield Frame(image, self.camera_id, index, pts)
                index += 1
                good += 1
            if good == 0:
                raise camera_error(self.camera_id, f"none of the {len(files)} images could be read ({first_error})")
            if not self._loop:
                return
