"""Fire and smoke detection: synthetic scenes for each rule, and real video.

Synthetic frames are fed at the analytic rate (5 fps of pts unless a test says
otherwise). The real-data tests read ../shared/data and skip when it is absent;
they decode with PyAV and keep one frame in every 0.2 s.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from pydantic import ValidationError

from vigil.core.boxes import iou_matrix
from vigil.detection.fire import (
    ClassicalFireDetector,
    FireDetectorConfig,
    OnnxFireDetector,
    build_fire_detector,
)

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
W, H = 320, 180
BLOB = (140, 80, 180, 130)  # x1, y1, x2, y2 of the synthetic flame area


def dark(rng: np.random.Generator) -> np.ndarray:
    """A dark, slightly noisy night scene."""
    return np.clip(rng.normal(25, 2, (H, W, 3)), 0, 255).astype(np.uint8)


def flame(rng: np.random.Generator) -> np.ndarray:
    """One frame of a flickering orange flame: tongues that rise and sway on their own, a brighter core.

    The tongues move independently, so in one step the flame grows in one place
    while it shrinks in another (two-sided flicker), as real flames do.
    """
    img = dark(rng)
    cx, base = 160, 128
    for _ in range(5):
        x, height, width = cx + int(rng.integers(-15, 16)), int(rng.uniform(15, 45)), int(rng.uniform(5, 11))
        cv2.ellipse(img, (x, base - height // 2), (width, height // 2), 0, 0, 360,
                    (0, int(rng.uniform(90, 150)), int(rng.uniform(200, 255))), -1)  # fmt: skip
    core = (cx + int(rng.integers(-4, 5)), base - int(rng.uniform(8, 20)))
    cv2.circle(img, core, int(rng.uniform(3, 8)), (int(rng.uniform(120, 190)), 230, 255), -1)
    return img


def feed(detector, make, seconds: float, fps: float = 5.0, start: float = 0.0) -> list[tuple[float, object]]:
    """(pts, detections) of ``seconds`` of frames made by ``make(k)``."""
    out = []
    for k in range(round(seconds * fps)):
        pts = start + k / fps
        out.append((pts, detector.update(make(k), pts)))
    return out


def inside(box: np.ndarray, area: tuple[int, int, int, int]) -> bool:
    """Whether the centre of ``box`` lies in ``area``."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return bool(area[0] <= cx <= area[2] and area[1] <= cy <= area[3])


def first_fire(results) -> float | None:
    return next((pts for pts, d in results if len(d) and "fire" in d.data["label"]), None)


def test_flickering_flame_is_found_within_two_seconds():
    rng = np.random.default_rng(0)
    results = feed(ClassicalFireDetector(), lambda k: flame(rng), 4.0)
    t = first_fire(results)
    assert t is not None and t <= 2.0
    found = results[-1][1]
    # tongues may form more than one region; every one is fire, on the flame
    assert set(found.data["label"].tolist()) == {"fire"} and set(found.class_id.tolist()) == {0}
    assert all(inside(box, BLOB) for box in found.xyxy)
    assert all(0 < v <= 1 for v in found.confidence)


def test_windows_are_in_seconds_not_frames():
    # At 10 fps the flame needs as many seconds as at 5 fps, not as many frames.
    rng = np.random.default_rng(1)
    t = first_fire(feed(ClassicalFireDetector(), lambda k: flame(rng), 4.0, fps=10.0))
    assert t is not None and 0.9 <= t <= 2.0


def test_full_resolution_boxes_are_scaled_back():
    rng = np.random.default_rng(2)
    results = feed(ClassicalFireDetector(), lambda k: cv2.resize(flame(rng), (4 * W, 4 * H)), 3.0)
    found = results[-1][1]
    assert len(found) == 1
    assert inside(found.xyxy[0] / 4, BLOB) and found.xyxy[0, 2] - found.xyxy[0, 0] > 40


def test_static_red_rectangle_is_not_fire():
    # A parked red car, a brick wall, a sunset: fire-coloured, but steady.
    rng = np.random.default_rng(3)

    def red(k: int) -> np.ndarray:
        img = dark(rng)
        cv2.rectangle(img, (100, 60), (220, 130), (30, 40, 220), -1)
        cv2.rectangle(img, (120, 70), (200, 90), (120, 200, 255), -1)  # a bright orange stripe
        return img

    assert first_fire(feed(ClassicalFireDetector(), red, 10.0)) is None


def test_blinking_light_and_exposure_swings_are_not_fire():
    # An amber beacon switching on and off, and a red wall under auto-exposure that hunts.
    rng = np.random.default_rng(4)

    def scene(k: int) -> np.ndarray:
        img = dark(rng)
        cv2.rectangle(img, (20, 20), (120, 160), (60, 80, 200), -1)
        if (k // 2) % 2:
            cv2.circle(img, (250, 60), 12, (40, 170, 255), -1)
        gain = 1.0 + 0.25 * np.sin(k * 1.3)
        return np.clip(img * gain, 0, 255).astype(np.uint8)

    assert first_fire(feed(ClassicalFireDetector(), scene, 10.0)) is None


def test_moving_flickering_object_is_not_fire():
    # A red car with a bright, changing reflection driving across: it flickers but drifts.
    rng = np.random.default_rng(5)

    def car(k: int) -> np.ndarray:
        img = dark(rng)
        x = 10 + 12 * k
        cv2.rectangle(img, (x, 80), (x + 50, 110), (30, 40, 220), -1)
        cv2.circle(img, (x + 25, 90), int(rng.uniform(3, 9)), (150, 220, 255), -1)
        return img

    assert first_fire(feed(ClassicalFireDetector(), car, 5.0)) is None


def test_uniform_frames_give_nothing():
    detector = ClassicalFireDetector()
    for value in (0, 128, 255):
        results = feed(detector, lambda k, v=value: np.full((H, W, 3), v, np.uint8), 3.0, start=10.0 * value)
        assert all(len(d) == 0 for _, d in results)


def test_reset_clears_state():
    rng = np.random.default_rng(6)
    detector = ClassicalFireDetector()
    assert first_fire(feed(detector, lambda k: flame(rng), 3.0)) is not None
    detector.reset()
    # the history is gone: the flame has to persist again before it is reported
    again = feed(detector, lambda k: flame(rng), 0.6, start=3.0)
    assert all(len(d) == 0 for _, d in again)


def test_pts_going_back_restarts_and_repeated_pts_repeat_the_answer():
    rng = np.random.default_rng(7)
    detector = ClassicalFireDetector()
    results = feed(detector, lambda k: flame(rng), 3.0)
    last_pts, last = results[-1]
    assert detector.update(flame(rng), last_pts) is last
    assert len(detector.update(flame(rng), 0.0)) == 0  # stream looped: history restarts


def test_rejects_images_that_are_not_bgr():
    with pytest.raises(ValueError, match="BGR"):
        ClassicalFireDetector().update(np.zeros((H, W), np.uint8), 0.0)


def textured(rng: np.random.Generator) -> np.ndarray:
    """Paving-like texture (cells of random grey, fixed by the seed) plus a little sensor noise."""
    cells = np.random.default_rng(100).integers(40, 140, (H // 6 + 1, W // 6 + 1)).astype(np.uint8)
    img = cv2.resize(cells, (W, H), interpolation=cv2.INTER_NEAREST)[:H, :W]
    img = np.clip(img.astype(np.float32) + rng.normal(0, 2, img.shape), 0, 255).astype(np.uint8)
    return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)


def plume(
    rng: np.random.Generator,
    t: float,
    t0: float = 6.0,
    grow_s: float = 5.0,
    colour: tuple[int, ...] = (200, 200, 200),
    swirl_at: float | None = None,
) -> np.ndarray:
    """Textured ground with a translucent plume that rises from (160, 160) and grows for ``grow_s`` from ``t0``.

    Its density is modulated by turbulence that moves through it (moving texture), frozen at
    ``swirl_at`` when that is given.
    """
    img = textured(rng).astype(np.float32)
    if t < t0:
        return img.astype(np.uint8)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    grow = min(1.0, (t - t0) / grow_s)
    top = 160 - (20 + 110 * grow)
    half = (8 + 30 * np.clip((160 - yy) / (160 - top), 0, 1)) * (0.5 + 0.5 * grow)
    ts = t if swirl_at is None else swirl_at
    swirl = 0.75 + 0.25 * np.sin(yy / 6 + 4 * ts) * np.cos(xx / 9 - 2 * ts)
    alpha = 0.6 * swirl * np.exp(-(((xx - 160) / half) ** 2)) * (yy <= 160) * (yy >= top)
    veil = np.array(colour, np.float32)
    return (img * (1 - alpha[..., None]) + veil * alpha[..., None]).astype(np.uint8)


def test_rising_translucent_plume_is_smoke():
    rng = np.random.default_rng(8)
    results = feed(ClassicalFireDetector(), lambda k: plume(rng, k / 5), 16.0)
    smoke = [(pts, d) for pts, d in results if len(d) and "smoke" in d.data["label"]]
    assert smoke and smoke[0][0] <= 14.0
    box = smoke[-1][1].xyxy[smoke[-1][1].data["label"] == "smoke"][0]
    assert box[0] <= 160 <= box[2] and box[1] < 150
    assert smoke[-1][1].class_id.tolist() == [1]
    assert first_fire(results) is None


def test_grey_object_that_arrives_and_stays_is_not_smoke():
    # A grey van parks: grey and new, but opaque (hides the texture) and it does not grow.
    rng = np.random.default_rng(9)

    def scene(k: int) -> np.ndarray:
        img = textured(rng)
        x = min(200, 10 + 20 * max(0, k - 30))
        if k >= 30:
            cv2.rectangle(img, (x - 60, 70), (x + 60, 140), (150, 150, 150), -1)
        return img

    results = feed(ClassicalFireDetector(), scene, 20.0)
    assert all(len(d) == 0 for _, d in results)


def test_config_is_strict_and_documented():
    with pytest.raises(ValidationError):
        FireDetectorConfig(flicker=1)  # type: ignore[call-arg]
    for name, info in FireDetectorConfig.model_fields.items():
        assert info.title and info.description, name
    assert not ClassicalFireDetector(FireDetectorConfig(smoke=False)).config.smoke


def fire_model(path: Path) -> Path:
    """A YOLOv8-layout ONNX graph: one fire box whose score is the mean brightness of the input."""
    inp = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 640, 640])
    out = helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 6, 1])
    box = numpy_helper.from_array(np.array([320, 320, 100, 80], np.float32).reshape(1, 4, 1), "box")
    zero = numpy_helper.from_array(np.zeros((1, 1, 1), np.float32), "zero")
    shape = numpy_helper.from_array(np.array([1, 1, 1], np.int64), "shape")
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=1),
        helper.make_node("Reshape", ["mean", "shape"], ["score"]),
        helper.make_node("Concat", ["box", "score", "zero"], ["output0"], axis=1),
    ]
    graph = helper.make_graph(nodes, "fire", [inp], [out], initializer=[box, zero, shape])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def test_onnx_model_boxes_pass_the_persistence_filter(tmp_path):
    detector = build_fire_detector(str(fire_model(tmp_path / "fire.onnx")))
    assert isinstance(detector, OnnxFireDetector) and detector.labels == ("fire", "smoke")
    white, black = np.full((320, 640, 3), 255, np.uint8), np.zeros((320, 640, 3), np.uint8)
    # a single bright frame (a headlight flash) is a one-frame detection: never reported
    flash = feed(detector, lambda k: white if k == 5 else black, 3.0)
    assert all(len(d) == 0 for _, d in flash)
    steady = feed(detector, lambda k: white, 2.0, start=3.0)
    assert all(len(d) == 0 for pts, d in steady if pts < 3.9)
    found = steady[-1][1]
    assert found.data["label"].tolist() == ["fire"]
    # letterboxed 640x320 -> 640x640 (pad 160 at the top): centre (320, 160), 100x80
    np.testing.assert_allclose(found.xyxy[0], [270, 120, 370, 200], atol=0.5)


def test_build_without_a_model_is_classical():
    assert isinstance(build_fire_detector(None), ClassicalFireDetector)


def analysed(path: Path, seconds: float, fps: float = 5.0) -> Iterator[tuple[int, float, np.ndarray]]:
    """(index, pts, BGR) of one frame per 1/fps s over the first ``seconds`` of a video."""
    if not path.exists():
        pytest.skip(f"{path} is not present")
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        due = 0.0
        for index, frame in enumerate(container.decode(stream)):
            pts = float(frame.pts * stream.time_base)
            if pts > seconds:
                break
            if pts + 1e-6 >= due:
                due += 1.0 / fps
                yield index, pts, frame.to_ndarray(format="bgr24")


def test_house_fire_is_found_within_three_seconds_on_an_annotated_flame():
    path = DATA / "furg_fire" / "house6.mp4"
    if not path.with_suffix(".xml").exists():
        pytest.skip("house6.xml is not present")
    frames = ET.parse(path.with_suffix(".xml")).getroot().find("frames")
    assert frames is not None
    annotated = {
        int(f.findtext("frameNumber", "-1")): np.array(
            [list(map(float, a.text.split())) for a in f.iter("_") if a.text]
        )
        for f in frames
    }
    first = min(i for i, boxes in annotated.items() if len(boxes))
    detector = ClassicalFireDetector()
    for index, pts, image in analysed(path, first / 29.97 + 3.0):
        found = detector.update(image, pts)
        if len(found) and "fire" in found.data["label"]:
            xywh = annotated[index].reshape(-1, 4)
            truth = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
            fire = found.xyxy[found.data["label"] == "fire"]
            assert (iou_matrix(fire, truth) > 0.1).any()
            return
    pytest.fail("no fire detected within 3 s of the first annotated fire frame")


def test_road_with_red_cars_gives_no_fire():
    detector = ClassicalFireDetector()
    for _, pts, image in analysed(DATA / "intel_sample_videos" / "car-detection.mp4", 30.0):
        found = detector.update(image, pts)
        assert not (len(found) and "fire" in found.data["label"]), f"fire at {pts:.1f} s"
