"""Give the converted NanoDet ONNX a free batch size and input height/width (run once after convert.py).

NanoDet is fully convolutional; only the TF.js export fixed its input at
1x3x416x416. With symbolic dims, Vigil letterboxes a 16:9 frame into 416x256
instead of 416x416, which skips the padding rows (about a third of the work),
and runs frames of one size from several cameras (or several windows of one
frame) as one batch. The only batch-bound operators are the six head Reshapes,
whose target shapes ``[1, C, -1]`` become ``[0, C, -1]`` (0 copies the input's
batch dimension); weights and every other operator are unchanged. Running it
on an already converted file changes nothing.

    python tools/convert_nanodet/make_dynamic.py src/vigil/assets/models/nanodet/nanodet-g-416.onnx
"""

from __future__ import annotations

import sys

import numpy as np
import onnx
from onnx import numpy_helper


def main(path: str) -> None:
    model = onnx.load(path)
    graph = model.graph
    dims = graph.input[0].type.tensor_type.shape.dim
    dims[0].dim_param, dims[2].dim_param, dims[3].dim_param = "B", "H", "W"
    for out in graph.output:
        out_dims = out.type.tensor_type.shape.dim
        out_dims[0].dim_param, out_dims[1].dim_param = "B", "N"
    shapes = {n.input[1] for n in graph.node if n.op_type == "Reshape"}
    for k, init in enumerate(graph.initializer):
        if init.name in shapes:
            shape = numpy_helper.to_array(init).copy()
            if len(shape) == 3 and shape[0] in (0, 1) and shape[2] == -1:
                shape[0] = 0
                graph.initializer[k].CopyFrom(numpy_helper.from_array(shape.astype(np.int64), init.name))
    del graph.value_info[:]  # stale fixed shapes of intermediate tensors
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)


if __name__ == "__main__":
    main(sys.argv[1])
