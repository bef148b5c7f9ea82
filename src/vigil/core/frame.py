"""The frame types that travel through the pipeline.

A :class:`Frame` holds raw pixels and must never leave process memory. Only a
:class:`RedactedFrame`, produced by the redaction stage, may be written, encoded
or sent anywhere: writers and senders accept nothing else, so forgetting the
redaction stage is a type error rather than a privacy incident.

The type holds that promise by itself: a :class:`RedactedFrame` can only be made
with :data:`_REDACTION_STAGE`, a token that only :mod:`vigil.redaction.engine`
imports (a test checks that no other module does), and the pixels of both
types are read-only, so neither a raw frame nor a sealed one can be painted
over after the fact.
"""

from __future__ import annotations

from dataclasses import InitVar, dataclass, field

import numpy as np

from vigil.core.detections import Detections

#: Handed to :mod:`vigil.redaction.engine`, the only producer of :class:`RedactedFrame`; nothing else imports it.
_REDACTION_STAGE = object()


def _check_image(image: np.ndarray) -> None:
    """Validate the pixels and make them read-only, in place (no copy: frames are large)."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise TypeError("frame image must be a uint8 numpy array")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"frame image must be HxWx3 (BGR), got shape {image.shape}")
    image.flags.writeable = False


@dataclass(frozen=True, eq=False)
class Frame:
    """A decoded raw frame (BGR, uint8) with its stream timing.

    Attributes
    ----------
    image : np.ndarray
        HxWx3 BGR pixels, read-only (the array passed in is made so). Raw: never persisted or sent.
    source_id : str
        Camera id or file name the frame came from; used in errors and events.
    index : int
        0-based decode order within the source.
    pts : float
        Presentation time in seconds, taken from the stream (not the wall clock).
    full_size : tuple of int, optional
        (width, height) of the camera's picture when ``image`` is a copy scaled
        down for analysis (a 4K camera analysed at 1080p); ``None`` when
        ``image`` is the picture at its own size. Boxes found on ``image`` are
        multiplied by :attr:`scale` to place them on the full picture.
    """

    image: np.ndarray
    source_id: str = ""
    index: int = 0
    pts: float = 0.0
    full_size: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        _check_image(self.image)

    @property
    def scale(self) -> tuple[float, float]:
        """(x, y) factors from ``image`` pixels to the full picture's pixels; (1, 1) at full size."""
        if self.full_size is None:
            return 1.0, 1.0
        return self.full_size[0] / self.image.shape[1], self.full_size[1] / self.image.shape[0]

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])


@dataclass(frozen=True, eq=False)
class RedactedFrame:
    """A frame whose identifying regions have been obscured; safe to store or send.

    Made only by the redaction stage (:meth:`vigil.redaction.Redactor.seal` and
    :meth:`~vigil.redaction.Redactor.fail_closed`): building one anywhere else,
    ``dataclasses.replace`` included, raises :class:`TypeError`.

    Attributes
    ----------
    image : np.ndarray
        HxWx3 BGR pixels after redaction, read-only.
    source_id, index, pts
        Copied from the raw :class:`Frame`.
    regions : Detections
        The regions that were obscured (class names in ``data["kind"]``).
    fail_closed : bool
        True when detection failed or ran late and the whole frame was obscured.
    """

    image: np.ndarray
    source_id: str = ""
    index: int = 0
    pts: float = 0.0
    regions: Detections = field(default_factory=Detections.empty)
    fail_closed: bool = False
    # An InitVar is not copied by dataclasses.replace, so a replaced frame needs the token again.
    stage: InitVar[object] = None

    def __post_init__(self, stage: object) -> None:
        if stage is not _REDACTION_STAGE:
            raise TypeError("a RedactedFrame is made only by the redaction stage (vigil.redaction.Redactor)")
        _check_image(self.image)
