"""Make the INT8 NanoDet-g (``nanodet-g-416-int8.onnx``) from the shipped fp32 model.

Static quantisation with onnxruntime (QDQ format, per-channel int8 weights,
uint8 activations, MinMax calibration). On an AVX512-VNNI CPU the int8 graph
runs the detector in about half the CPU time of the fp32 one, with scores
within a few hundredths (PROVENANCE.md of the model has the figures).

The three head convolutions (class scores and box distributions) stay fp32:
the tracker's thresholds are calibrated on those scores, so they are kept
closest to the original.

Calibration frames: the bundled person clip (in the package), and road footage
from the shared development data (``../shared/data``: the Intel car clip and
the short UA-DETRAC clip), as whole frames letterboxed as Vigil runs them and
as detail-window crops at native resolution. Held out of the calibration, for
judging the result: PETS09 (vtest), the annotated UA-DETRAC frames and every
incident clip.

Run from the repository root::

    .venv/bin/python tools/quantize/quantize_nanodet.py

It prints the sha256 of the written file; update ``NANODET_INT8_SHA256`` in
``vigil/assets/__init__.py`` and PROVENANCE.md when it changes.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from pathlib import Path

import av
import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader
from onnxruntime.quantization.shape_inference import quant_pre_process
from qdq import quantize_qdq  # tools/quantize/qdq.py, beside this script

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO / "src"))

from vigil.assets import NANODET_INT8_PATH, NANODET_PATH, SAMPLE_CLIP  # noqa: E402
from vigil.detection.config import ObjectDetectorConfig  # noqa: E402
from vigil.detection.nanodet import NanoDet  # noqa: E402

#: (clip, frames taken, every n-th frame)
CALIBRATION = [
    (SAMPLE_CLIP, 20, 15),
    (DATA / "intel_sample_videos" / "car-detection.mp4", 20, 15),
    (DATA / "ua_detrac_evadb" / "ua_detrac_test_short.mp4", 20, 3),
]


def frames(path: Path, n: int, step: int) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        out = []
        for i, frame in enumerate(container.decode(video=0)):
            if i % step == 0:
                out.append(frame.to_ndarray(format="bgr24"))
            if len(out) >= n:
                break
    return out


class Frames(CalibrationDataReader):
    """Whole frames as the pipeline feeds them, then one native-resolution crop of each (a detail window)."""

    def __init__(self, detector: NanoDet, images: list[np.ndarray]) -> None:
        rng = np.random.default_rng(0)
        inputs = []
        for image in images:
            inputs.append(image)
            w, h = detector.input_size_for(image.shape[1], image.shape[0])
            if image.shape[1] > w and image.shape[0] > h:
                x = int(rng.integers(0, image.shape[1] - w + 1))
                y = int(rng.integers(0, image.shape[0] - h + 1))
                inputs.append(image[y : y + h, x : x + w])
        self._detector = detector
        self._it = iter(inputs)

    def get_next(self) -> dict[str, np.ndarray] | None:
        image = next(self._it, None)
        if image is None:
            return None
        w, h = self._detector.input_size_for(image.shape[1], image.shape[0])
        x, _ = self._detector._preprocess(image, w, h)
        return {self._detector._input: x[None]}


def head_convs(model_path: Path) -> list[str]:
    """The convolutions whose outputs are split into class scores and box distributions."""
    graph = onnx.load(str(model_path)).graph
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    return [
        n.name
        for n in graph.node
        if n.op_type == "Conv" and any(c.op_type == "Split" for c in consumers.get(n.output[0], []))
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=NANODET_INT8_PATH)
    args = parser.parse_args()
    missing = [str(p) for p, _, _ in CALIBRATION if not p.is_file()]
    if missing:
        raise SystemExit(f"calibration clips not found: {missing}")
    detector = NanoDet(ObjectDetectorConfig(precision="fp32"))
    images = [f for path, n, step in CALIBRATION for f in frames(path, n, step)]
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(NANODET_PATH), str(pre), skip_symbolic_shape=True)
        excluded = head_convs(pre)
        quantize_qdq(pre, args.out, Frames(detector, images), excluded)
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(f"{args.out}: {len(images)} calibration frames, fp32 head {excluded}, sha256 {digest}")


if __name__ == "__main__":
    main()
