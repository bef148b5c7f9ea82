"""The bundled NanoDet on real frames, and its decoding maths."""

import numpy as np
import pytest

from vigil.detection.base import fit_image
from vigil.detection.nanodet import _MEAN, _STD, NanoDet, center_priors, decode_distributions


@pytest.fixture(scope="module")
def nanodet():
    return NanoDet()


def frame_at(path, index):
    from vigil.sources import iter_video

    for f in iter_video(path):
        if f.index == index:
            return f.image
    raise AssertionError(f"{path} has fewer than {index} frames")


def test_center_priors_cover_the_three_levels_in_order():
    centres, strides = center_priors(416, 416)
    assert len(centres) == 52 * 52 + 26 * 26 + 13 * 13
    np.testing.assert_allclose(centres[0], [4, 4])
    np.testing.assert_allclose(centres[52 * 52], [8, 8])
    assert strides[0] == 8 and strides[-1] == 32


def test_distribution_expectation_gives_distances_times_stride():
    logits = np.full((1, 44), -50.0, np.float32)
    for side, bin_ in enumerate([2, 3, 4, 5]):  # a one-hot at bin k means distance k * stride
        logits[0, side * 11 + bin_] = 50.0
    box = decode_distributions(logits, np.array([[100.0, 100.0]], np.float32), np.array([8.0], np.float32))
    np.testing.assert_allclose(box, [[100 - 16, 100 - 24, 100 + 32, 100 + 40]], atol=1e-3)


def test_finds_the_person_walking_past(shared_data, nanodet):
    image = frame_at(shared_data / "intel_sample_videos" / "one-by-one-person-detection.mp4", 139)
    found = nanodet.detect(image)
    people = found[found.data["label"] == "person"]
    assert len(people) >= 1 and people.confidence.max() > 0.6
    _, y1, _, y2 = people.xyxy[people.confidence.argmax()]
    assert (y2 - y1) > 200  # a full-height walker in a 432 px frame


def test_finds_cars_at_an_intersection(shared_data, nanodet):
    image = frame_at(shared_data / "ua_detrac_evadb" / "ua_detrac.mp4", 10)
    found = nanodet.detect(image)
    vehicles = np.isin(found.data["label"], ["car", "bus", "truck"])
    assert vehicles.sum() >= 6
    assert (found.xyxy[:, 2] <= image.shape[1]).all() and (found.xyxy[:, 3] <= image.shape[0]).all()


def test_a_batch_runs_in_one_session_call_and_equals_each_image_alone(shared_data, nanodet):
    video = shared_data / "opencv_vtest" / "vtest.avi"
    images = [frame_at(video, 5), frame_at(video, 60), frame_at(video, 5)[::-1].copy()]  # distinct, one size
    singles = [nanodet.detect(im) for im in images]
    calls = []
    real_run = nanodet._session.run
    nanodet._session.run = lambda *a, **kw: calls.append(a[1]["input"].shape) or real_run(*a, **kw)
    try:
        batch = nanodet.detect_batch(images)
    finally:
        nanodet._session.run = real_run
    assert len(calls) == 1 and calls[0][:2] == (3, 3)  # one call, batch of three
    assert [len(b) for b in batch] == [len(s) for s in singles] and len(singles[0]) != len(singles[1])
    for b, s in zip(batch, singles, strict=True):
        np.testing.assert_allclose(b.xyxy, s.xyxy, atol=1e-3)
        np.testing.assert_allclose(b.confidence, s.confidence, atol=1e-4)


def test_images_of_different_sizes_in_one_batch_keep_their_own_coordinates(shared_data, nanodet):
    image = frame_at(shared_data / "opencv_vtest" / "vtest.avi", 5)
    half = image[::2, ::2].copy()
    big, small = nanodet.detect_batch([image, half])
    assert (big.xyxy[:, 2] <= image.shape[1]).all() and (small.xyxy[:, 2] <= half.shape[1]).all()
    assert big.xyxy[:, 3].max() > half.shape[0]  # the full-size frame's boxes were not scaled to the half one


def test_the_int8_model_is_the_one_its_provenance_names():
    import hashlib

    from vigil.assets import NANODET_INT8_PATH, NANODET_INT8_SHA256

    assert hashlib.sha256(NANODET_INT8_PATH.read_bytes()).hexdigest() == NANODET_INT8_SHA256
    assert NANODET_INT8_SHA256 in (NANODET_INT8_PATH.parent / "PROVENANCE.md").read_text()


def test_precision_picks_the_model_file():
    from pydantic import ValidationError

    from vigil.assets import NANODET_INT8_PATH, NANODET_PATH
    from vigil.detection.config import ObjectDetectorConfig

    assert ObjectDetectorConfig().resolved_model_path() == NANODET_INT8_PATH  # auto on the CPU
    assert ObjectDetectorConfig(device="cuda").resolved_model_path() == NANODET_PATH  # auto on a GPU
    assert ObjectDetectorConfig(precision="fp32").resolved_model_path() == NANODET_PATH
    assert ObjectDetectorConfig(precision="int8").resolved_model_path() == NANODET_INT8_PATH
    assert ObjectDetectorConfig(device="cuda", precision="int8").resolved_model_path() == NANODET_INT8_PATH
    own = ObjectDetectorConfig(type="yolox", model_path="/models/own.onnx")
    assert str(own.resolved_model_path()) == "/models/own.onnx"
    with pytest.raises(ValidationError, match="precision"):
        ObjectDetectorConfig(type="yolox", model_path="/models/own.onnx", precision="int8")


def test_int8_finds_what_fp32_finds_on_frames_it_was_not_calibrated_on(shared_data, nanodet):
    """PETS09 (vtest) is held out of the calibration: the same people, at nearly the same scores."""
    from vigil.core.boxes import iou_matrix
    from vigil.detection.config import ObjectDetectorConfig

    fp32 = NanoDet(ObjectDetectorConfig(precision="fp32"))
    int8 = nanodet
    assert int8.config.resolved_model_path() != fp32.config.resolved_model_path()
    video = shared_data / "opencv_vtest" / "vtest.avi"
    kept = matched = 0
    diffs = []
    for index in (5, 120, 300, 600):
        image = frame_at(video, index)
        a, b = fp32.detect(image), int8.detect(image)
        a, b = a[a.confidence >= 0.35], b[b.confidence >= 0.35]
        assert len(a) >= 3
        iou = iou_matrix(a.xyxy, b.xyxy)
        ok = iou.max(axis=1) >= 0.5
        kept += len(a)
        matched += int(ok.sum())
        diffs += list(b.confidence[iou.argmax(axis=1)[ok]] - a.confidence[ok])
    assert matched >= 0.9 * kept
    assert abs(float(np.mean(diffs))) < 0.03 and float(np.std(diffs)) < 0.06


def test_input_is_the_frame_normalised_channel_by_channel_in_planar_order(nanodet):
    # The reference is NanoDet's own recipe: (BGR pixel - mean) / std, channels first.
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (200, 300, 3), dtype=np.uint8)
    w, h = nanodet.input_size_for(300, 200)
    x, _ = nanodet._preprocess(image, w, h)
    fitted, _ = fit_image(image, w, h, True, pad_value=0, centred=True)
    expected = ((fitted.astype(np.float32) - _MEAN) / _STD).transpose(2, 0, 1)
    assert x.shape == (3, h, w) and x.dtype == np.float32
    np.testing.assert_allclose(x, expected, atol=1e-5)
    slot = np.zeros((2, 3, h, w), np.float32)
    nanodet._preprocess(image, w, h, slot[1])
    np.testing.assert_allclose(slot[1], expected, atol=1e-5)
    assert not slot[0].any()  # only its own slot of the batch is written
