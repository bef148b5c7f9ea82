"""CenterFace: the shipped INT8 model file, its free input dims, and which file a precision picks."""

import hashlib

import numpy as np
import onnx
import pytest

from vigil.assets import CENTERFACE_INT8_PATH, CENTERFACE_PATH
from vigil.detection.centerface import CenterFace, model_path_for
from vigil.redaction import Redactor
from vigil.redaction.config import RedactionConfig

# Written by tools/quantize/quantize_centerface.py (see assets/models/centerface/PROVENANCE.md).
CENTERFACE_INT8_SHA256 = "7b168b934a470b27d59bc7cfd45deedf5a19f0b252a198d21e3a36e2c254a194"


def test_int8_model_file_is_the_one_made_by_the_quantisation_tool():
    assert hashlib.sha256(CENTERFACE_INT8_PATH.read_bytes()).hexdigest() == CENTERFACE_INT8_SHA256


def test_int8_model_keeps_free_input_dims_and_runs_at_any_size():
    dims = onnx.load(str(CENTERFACE_INT8_PATH)).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param for d in dims[2:]] == ["H", "W"]
    detector = CenterFace(model_path=CENTERFACE_INT8_PATH, threads=1)
    for h, w in ((64, 96), (432, 768), (200, 1000)):
        found = detector.detect(np.full((h, w, 3), 127, np.uint8))
        assert len(found) == 0


@pytest.mark.parametrize(
    ("precision", "device", "path"),
    [
        ("auto", "cpu", CENTERFACE_INT8_PATH),
        ("auto", "cuda", CENTERFACE_PATH),
        ("auto", "tensorrt", CENTERFACE_PATH),
        ("int8", "cuda", CENTERFACE_INT8_PATH),
        ("fp32", "cpu", CENTERFACE_PATH),
        ("int8", "cpu", CENTERFACE_INT8_PATH),
    ],
)
def test_precision_picks_the_model_file(precision, device, path):
    assert model_path_for(precision, device) == path


@pytest.mark.parametrize(("precision", "path"), [("auto", CENTERFACE_INT8_PATH), ("fp32", CENTERFACE_PATH)])
def test_redactor_loads_the_face_model_of_its_precision(precision, path):
    cfg = RedactionConfig.model_validate(
        {"faces": {"precision": precision}, "heads": {"enabled": False}, "plates": {"enabled": False}}
    )
    redactor = Redactor(cfg)
    try:
        assert redactor._faces.model_path == path
    finally:
        redactor.close()


def test_unknown_precision_is_rejected():
    with pytest.raises(ValueError, match="precision"):
        RedactionConfig.model_validate({"faces": {"precision": "fp16"}})
    with pytest.raises(ValueError, match="fp16"):
        model_path_for("fp16", "cpu")
