"""Give the converted NanoDet ONNX a free input height/width (run once after convert.py).

NanoDet is fully convolutional; only the TF.js export fixed its input at
416x416. With symbolic dims, Vigil letterboxes a 16:9 frame into 416x256
instead of 416x416, which skips the padding rows (about a third of the work).

    python tools/convert_nanodet/make_dynamic.py src/vigil/assets/models/nanodet/nanodet-g-416.onnx
"""

from __future__ import annotations

import sys

import onnx


def main(path: str) -> None:
    model = onnx.load(path)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "H", "W"
    for out in model.graph.output:
        out.type.tensor_type.shape.dim[1].dim_param = "N"
    del model.graph.value_info[:]  # stale fixed shapes of intermediate tensors
    onnx.checker.check_model(model)
    onnx.save(model, path)


if __name__ == "__main__":
    main(sys.argv[1])
