"""Make the INT8 CenterFace (``centerface-int8.onnx``) from the shipped fp32 one.

Why: on a CPU with AVX512-VNNI (or AVX-VNNI) onnxruntime runs QDQ INT8 convolutions
much faster than fp32 ones, and the face search is most of the redaction's CPU time.

How: onnxruntime static quantisation, QDQ format, per-channel symmetric INT8
weights, UINT8 activations with MinMax ranges, after ``quant_pre_process`` (with
``skip_symbolic_shape``: the input's H and W are free dims, and stay free). The
four output head convolutions (heatmap, box scale, offset, landmarks) stay fp32
by default (``--quantize-head`` quantises them too): they are a tiny share of the
work, and the heatmap logit decides which small faces pass the low threshold.

Calibration images are fed exactly as the redactor feeds them
(:func:`vigil.detection.centerface.network_input`, at the scales of
``Redactor.face_scale`` with the default ``RedactionConfig``, plus the 1.0 pass
that an enlarged search also makes):

* the 12 photos of ``../shared/data/dlib_faces_voc`` (real faces at many sizes);
* every 10th frame of the bundled clip ``one-by-one-person-detection.mp4``
  (768x432), as it is, and every 30th enlarged to 1920x1080 (the two video sizes
  the redaction benchmark times); 208 network inputs in all.

``faces_kaggle``, on which the redaction benchmark scores face recall, is not
used, so the score is measured on photos the calibration never saw.

Run from the repo root (needs the ``onnx`` package, present in the dev venv)::

    .venv/bin/python tools/quantize/quantize_centerface.py

It writes ``src/vigil/assets/models/centerface/centerface-int8.onnx`` and prints
its sha256. The result is deterministic for a given onnxruntime version (1.32.0
made the shipped file).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import av
import cv2
import numpy as np
import onnx
from onnx import version_converter
from onnxruntime.quantization import CalibrationDataReader
from onnxruntime.quantization.shape_inference import quant_pre_process
from qdq import quantize_qdq  # tools/quantize/qdq.py, beside this script

from vigil.assets import CENTERFACE_INT8_PATH, CENTERFACE_PATH, SAMPLE_CLIP
from vigil.detection.centerface import network_input
from vigil.redaction.config import RedactionConfig
from vigil.redaction.engine import Redactor

ROOT = Path(__file__).resolve().parents[2]
DLIB = ROOT.parent / "shared" / "data" / "dlib_faces_voc"
CLIP_STEP = 10
OPSET = 13
VIDEO_SIZES = ((768, 432), (1920, 1080))
_OUTPUT_NAMES = {"537", "538", "539", "540"}


def _clip_frames(path: Path, step: int) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="bgr24") for i, f in enumerate(container.decode(video=0)) if i % step == 0]


def _scales(image: np.ndarray) -> list[float]:
    """The scales the redactor searches a whole image of this size at (tiles: 1.0)."""
    scale = Redactor.face_scale(SimpleNamespace(config=RedactionConfig()), image)  # type: ignore[arg-type]
    if scale is None:
        return [1.0]
    return [scale, 1.0] if scale > 1.0 else [1.0]


def calibration_blobs() -> list[np.ndarray]:
    """Network inputs for the calibration, in a fixed order."""
    images: list[np.ndarray] = []
    photos = sorted(p for p in DLIB.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not photos:
        raise SystemExit(f"no calibration photos in {DLIB}")
    for p in photos:
        img = cv2.imread(str(p))
        if img is None:
            raise SystemExit(f"cannot read {p}")
        images.append(img)
    frames = _clip_frames(SAMPLE_CLIP, CLIP_STEP)
    for w, h in VIDEO_SIZES:
        step = 1 if w <= 768 else 3  # fewer of the large ones: each costs ~7x the small
        for f in frames[::step]:
            images.append(f if f.shape[1] == w else cv2.resize(f, (w, h), interpolation=cv2.INTER_LANCZOS4))
    return [network_input(img, s) for img in images for s in _scales(img)]


class _Reader(CalibrationDataReader):
    def __init__(self, blobs: list[np.ndarray], input_name: str) -> None:
        self._it = iter(blobs)
        self._name = input_name

    def get_next(self) -> dict[str, np.ndarray] | None:
        blob = next(self._it, None)
        return None if blob is None else {self._name: blob}


def head_convs(model: onnx.ModelProto) -> list[str]:
    """Names of the Conv nodes that make the graph outputs (directly or through the Sigmoid)."""
    producer = {o: n for n in model.graph.node for o in n.output}
    names = []
    for out in _OUTPUT_NAMES:
        node = producer[out]
        if node.op_type == "Sigmoid":
            node = producer[node.input[0]]
        if node.op_type != "Conv":
            raise SystemExit(f"unexpected head layout: output {out} comes from {node.op_type}")
        names.append(node.name)
    return names


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=CENTERFACE_INT8_PATH, help="where to write the INT8 model")
    ap.add_argument("--quantize-head", action="store_true", help="also quantise the four output head convs")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        named = Path(tmp) / "named.onnx"
        pre = Path(tmp) / "pre.onnx"
        # Per-channel weights need DequantizeLinear's axis attribute: opset 13 (the export is opset 9).
        model = version_converter.convert_version(onnx.load(str(CENTERFACE_PATH)), OPSET)
        # The export left every node unnamed; nodes_to_exclude needs names.
        for i, node in enumerate(model.graph.node):
            if not node.name:
                node.name = f"{node.op_type}_{i}"
        onnx.save(model, str(named))
        quant_pre_process(str(named), str(pre), skip_symbolic_shape=True)
        pre_model = onnx.load(str(pre))
        exclude = [] if args.quantize_head else head_convs(pre_model)
        input_name = pre_model.graph.input[0].name
        blobs = calibration_blobs()
        print(f"calibrating on {len(blobs)} inputs; fp32 nodes: {exclude}", file=sys.stderr)
        quantize_qdq(pre, args.out, _Reader(blobs, input_name), exclude)
    out = onnx.load(str(args.out))
    dims = [d.dim_param or d.dim_value for d in out.graph.input[0].type.tensor_type.shape.dim]
    if not (isinstance(dims[2], str) and isinstance(dims[3], str)):
        raise SystemExit(f"the quantised model lost its free input dims: {dims}")
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(f"wrote {args.out} input dims {dims} sha256={digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
