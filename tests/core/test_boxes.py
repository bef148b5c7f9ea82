import numpy as np

from vigil.core import boxes


def test_iou_matrix_known_values():
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], np.float32)
    np.testing.assert_allclose(boxes.iou_matrix(a, b), [[1.0, 50 / 150, 0.0]], rtol=1e-6)
    assert boxes.iou_matrix(a, np.zeros((0, 4))).shape == (1, 0)


def test_nms_keeps_best_and_non_overlapping():
    xyxy = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    keep = boxes.nms(xyxy, np.array([0.6, 0.9, 0.5]), 0.5)
    assert keep.tolist() == [1, 2]


def test_batched_nms_does_not_suppress_across_classes():
    xyxy = np.array([[0, 0, 10, 10], [0, 0, 10, 10]], np.float32)
    assert sorted(boxes.batched_nms(xyxy, np.array([0.9, 0.8]), np.array([0, 1]), 0.5).tolist()) == [0, 1]
    assert boxes.batched_nms(xyxy, np.array([0.9, 0.8]), np.array([0, 0]), 0.5).tolist() == [0]


def test_pad_clip_and_hull():
    padded = boxes.pad(np.array([[10, 10, 20, 30]]), 0.5)
    np.testing.assert_allclose(padded, [[5, 0, 25, 40]])
    np.testing.assert_allclose(boxes.clip(padded, 22, 35), [[5, 0, 22, 35]])
    np.testing.assert_allclose(boxes.hull(np.array([[0, 0, 5, 5]]), np.array([[3, 4, 9, 6]])), [[0, 0, 9, 6]])
    assert boxes.pad(np.array([[0, 0, 2, 2]]), 0.0, min_px=3).tolist() == [[-3, -3, 5, 5]]


def test_at_border_within_margin_on_any_side_and_any_leading_shape():
    xyxy = np.array([[[1, 50, 40, 90], [50, 50, 90, 90]], [[50, 50, 98.5, 90], [50, 50, 90, 97]]], np.float32)
    assert boxes.at_border(xyxy, 100, 100, 2.0).tolist() == [[True, False], [True, False]]
    assert boxes.at_border(xyxy, 100, 100, 3.0).tolist() == [[True, False], [True, True]]
