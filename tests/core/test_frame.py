"""The frame types guarantee what the README promises: raw pixels are read-only, redacted frames come only from
the redaction stage."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import unredacted_for_test
from vigil.core import Detections, Frame, RedactedFrame

SRC = Path(__file__).resolve().parents[2] / "src" / "vigil"


def test_frame_pixels_are_read_only_without_a_copy() -> None:
    pixels = np.zeros((4, 6, 3), np.uint8)
    frame = Frame(pixels, "cam", 0, 0.0)
    assert frame.image is pixels  # no copy: frames are large
    assert not frame.image.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        frame.image[0, 0] = 255


def test_a_redacted_frame_cannot_be_built_outside_the_redaction_stage() -> None:
    with pytest.raises(TypeError, match="only by the redaction stage"):
        RedactedFrame(np.zeros((4, 6, 3), np.uint8))
    with pytest.raises(TypeError, match="only by the redaction stage"):
        RedactedFrame(np.zeros((4, 6, 3), np.uint8), stage=object())
    sealed = unredacted_for_test(np.zeros((4, 6, 3), np.uint8))
    raw = np.full((4, 6, 3), 200, np.uint8)
    with pytest.raises(TypeError, match="only by the redaction stage"):
        dataclasses.replace(sealed, image=raw)  # swapping raw pixels into a sealed frame


def test_sealed_pixels_are_read_only(redactor) -> None:
    out = redactor.seal(Frame(np.full((40, 60, 3), 90, np.uint8)), Detections.empty())
    assert isinstance(out, RedactedFrame) and not out.image.flags.writeable
    failed = redactor.fail_closed(Frame(np.full((40, 60, 3), 90, np.uint8)))
    assert failed.fail_closed and not failed.image.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        out.image[0, 0] = 0


def test_only_the_redaction_engine_holds_the_token() -> None:
    users = sorted(
        str(p.relative_to(SRC)) for p in SRC.rglob("*.py") if "_REDACTION_STAGE" in p.read_text(encoding="utf-8")
    )
    assert users == ["core/frame.py", "redaction/engine.py"]
