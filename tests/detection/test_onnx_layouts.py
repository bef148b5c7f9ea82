"""User-supplied ONNX detectors: each export layout decodes to the right boxes.

The models are tiny ONNX graphs built here whose outputs are fixed tensors laid
out exactly as each exporter lays them out, so the decoding path (session,
pre-processing geometry, decoding, NMS, mapping back to the image) runs for real.
"""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from vigil.detection import ObjectDetectorConfig, build_detector

W, H = 320, 160  # original image size: letterboxed into 640x640 (scale 2, pad y=160 when centred)


def const_model(path, outputs: dict[str, np.ndarray], extra_input: bool = False):
    """An ONNX graph with input 'images' [1,3,640,640] whose outputs are constants."""
    inputs = [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 640, 640])]
    if extra_input:
        inputs.append(helper.make_tensor_value_info("orig_target_sizes", TensorProto.INT64, [1, 2]))
    nodes, outs = [], []
    for name, value in outputs.items():
        nodes.append(helper.make_node("Constant", [], [name], value=numpy_helper.from_array(value, name + "_v")))
        dtype = helper.np_dtype_to_tensor_dtype(value.dtype)
        outs.append(helper.make_tensor_value_info(name, dtype, list(value.shape)))
    graph = helper.make_graph(nodes, "g", inputs, outs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def image():
    return np.zeros((H, W, 3), np.uint8)


def cfg(kind, path, **kw):
    return ObjectDetectorConfig(type=kind, model_path=path, labels=("person", "car", "bus"), **kw)


def test_yolov8_layout_channels_first(tmp_path):
    # two overlapping cars (NMS keeps the better) and one person; centre-xywh in 640 input px
    pred = np.zeros((1, 7, 8400), np.float32)
    rows = [(320, 320, 100, 60, 0, 0.9, 0), (322, 320, 100, 60, 0, 0.7, 0), (100, 250, 20, 60, 0.8, 0, 0)]
    for i, r in enumerate(rows):
        pred[0, :, i] = r
    det = build_detector(cfg("yolov8", const_model(tmp_path / "m.onnx", {"output0": pred})))
    out = det.detect(image())
    assert sorted(out.data["label"].tolist()) == ["car", "person"]
    car = out.xyxy[out.data["label"] == "car"][0]
    # letterbox: scale 2, centred, pad_y = (640 - 320) / 2 = 160
    np.testing.assert_allclose(
        car, [(320 - 50) / 2, (320 - 30 - 160) / 2, (320 + 50) / 2, (320 + 30 - 160) / 2], atol=0.01
    )


def test_yolov8_nms_free_export(tmp_path):
    pred = np.array([[[100, 200, 300, 400, 0.8, 2], [0, 0, 10, 10, 0.05, 0]]], np.float32)
    det = build_detector(cfg("yolov8", const_model(tmp_path / "m.onnx", {"output0": pred})))
    out = det.detect(image())
    assert out.data["label"].tolist() == ["bus"]
    np.testing.assert_allclose(out.xyxy[0], [50, 20, 150, 120], atol=0.01)


def test_yolox_raw_grid_outputs_are_decoded(tmp_path):
    n = 80 * 80 + 40 * 40 + 20 * 20
    pred = np.zeros((1, n, 8), np.float32)
    # cell (x=10, y=30) of the stride-8 grid, offset 0.5, size exp(log 10) * 8 = 80 px
    idx = 30 * 80 + 10
    pred[0, idx] = [0.5, 0.5, np.log(10), np.log(5), 0.9, 0.1, 0.95, 0.0]
    det = build_detector(cfg("yolox", const_model(tmp_path / "m.onnx", {"output": pred})))
    out = det.detect(image())
    assert out.data["label"].tolist() == ["car"]
    cx, cy = (10.5 * 8) / 2, (30.5 * 8) / 2  # top-left letterbox, scale 2
    np.testing.assert_allclose(out.xyxy[0], [cx - 20, cy - 10, cx + 20, cy + 10], atol=0.01)
    assert out.confidence[0] == pytest.approx(0.9 * 0.95, rel=1e-5)


def test_rtdetr_reference_export(tmp_path):
    outputs = {
        "labels": np.array([[1, 0]], np.int64),
        "boxes": np.array([[[10, 20, 110, 90], [0, 0, 5, 5]]], np.float32),
        "scores": np.array([[0.85, 0.05]], np.float32),
    }
    det = build_detector(cfg("rtdetr", const_model(tmp_path / "m.onnx", outputs, extra_input=True)))
    out = det.detect(image())
    assert out.data["label"].tolist() == ["car"]
    np.testing.assert_allclose(out.xyxy[0], [10, 20, 110, 90])


def test_rtdetr_single_output_normalised(tmp_path):
    pred = np.zeros((1, 300, 7), np.float32)
    pred[0, 0] = [0.5, 0.5, 0.25, 0.5, 0.0, 0.0, 0.9]
    det = build_detector(cfg("rtdetr", const_model(tmp_path / "m.onnx", {"pred": pred})))
    out = det.detect(image())
    assert out.data["label"].tolist() == ["bus"]
    np.testing.assert_allclose(out.xyxy[0], [120, 40, 200, 120], atol=0.01)


def test_wrong_layout_is_a_clear_error(tmp_path):
    pred = np.zeros((1, 100, 13), np.float32)
    det = build_detector(cfg("yolov8", const_model(tmp_path / "m.onnx", {"output0": pred})))
    with pytest.raises(ValueError, match="yolov8 layout expects"):
        det.detect(image())


def test_config_requires_a_model_for_user_types():
    with pytest.raises(ValueError, match="model_path is required"):
        ObjectDetectorConfig(type="yolox")
    with pytest.raises(ValueError, match="extra"):
        ObjectDetectorConfig.model_validate({"type": "nanodet", "colour": "red"})


def test_input_is_rgb_planar_in_unit_range(tmp_path):
    # The exporters' own recipe: canvas[:, :, ::-1].transpose(2, 0, 1) / 255 (BGR frame, RGB model).
    pred = np.zeros((1, 7, 8400), np.float32)
    det = build_detector(cfg("yolov8", const_model(tmp_path / "m.onnx", {"output0": pred}), letterbox=False))
    rng = np.random.default_rng(5)
    frame = rng.integers(0, 256, (640, 640, 3), dtype=np.uint8)  # the input size: no resize in between
    x, _ = det._preprocess(frame)
    expected = frame[:, :, ::-1].transpose(2, 0, 1).astype(np.float32) / 255.0
    assert x.shape == (3, 640, 640) and x.dtype == np.float32 and x.flags.c_contiguous
    np.testing.assert_allclose(x, expected, atol=1e-6)
