"""Shared fixtures: the real third-party data beside the repo, and loaded models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; tests that need it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture(scope="session")
def redactor():
    from vigil.redaction import Redactor

    r = Redactor()
    yield r
    r.close()


def unredacted_for_test(image: np.ndarray, pts: float = 0.0):
    """A :class:`~vigil.core.RedactedFrame` of ``image`` exactly as it is, for testing writers and encoders.

    Test-only: it goes through the redaction stage (``Redactor.seal``) with every
    detector switched off and no regions, which is the only way to get pixels
    into a RedactedFrame unchanged. Never use it for a frame that shows people.
    """
    from vigil.core import Detections, Frame
    from vigil.redaction import RedactionConfig, Redactor

    off = RedactionConfig(faces={"enabled": False}, heads={"enabled": False}, plates={"enabled": False})
    return Redactor(off).seal(Frame(image, pts=pts), Detections.empty())


def checkerboard(h: int = 120, w: int = 160, cell: int = 4) -> np.ndarray:
    """A high-contrast test image: every pixel of it visibly changes when obscured."""
    yy, xx = np.mgrid[0:h, 0:w]
    board = (((yy // cell) + (xx // cell)) % 2 * 255).astype(np.uint8)
    return np.dstack([board, board, 255 - board])


def _changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    import cv2

    d = cv2.GaussianBlur(a - b, (0, 0), 0.8)
    return cv2.medianBlur(np.abs(d).astype(np.float32), 5) > 3.0


def changed_fraction(original: np.ndarray, redacted: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """Share of a box's pixels visibly changed, by the rule of ../shared/tools/redaction_score.py.

    A pixel is changed when the light-blurred luma difference exceeds 3 grey
    levels; pixels that no blur could change (flat patches) only count when the
    tool changed them anyway, with a floor of a quarter of the box. An output
    equal to its input gives 0.
    """
    import cv2

    x1, y1, x2, y2 = box
    a = cv2.cvtColor(original, cv2.COLOR_BGR2GRAY).astype(np.float32)
    b = cv2.cvtColor(redacted, cv2.COLOR_BGR2GRAY).astype(np.float32)
    changed = _changed(a, b)[y1:y2, x1:x2]
    if changed.size == 0:
        return 0.0
    sigma = max(2.0, min(x2 - x1, y2 - y1) / 8)
    redactable = _changed(a, cv2.GaussianBlur(a, (0, 0), sigma))[y1:y2, x1:x2]
    denom = max(int((changed | redactable).sum()), int(0.25 * changed.size), 1)
    return float(changed.sum() / denom)
