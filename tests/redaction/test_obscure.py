import numpy as np
import pytest

from tests.conftest import changed_fraction, checkerboard
from vigil.redaction.obscure import obscure_boxes, obscure_frame, obscure_region


def textured(h: int = 120, w: int = 160, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("method", ["blur", "pixelate", "fill"])
def test_each_method_changes_the_whole_box_and_nothing_outside(method):
    image = checkerboard()
    out = obscure_boxes(image, np.array([[40, 30, 100, 90]]), method, strength=5)
    assert changed_fraction(image, out, (41, 31, 99, 89)) > 0.95
    assert np.array_equal(out[:, :38], image[:, :38])
    assert np.array_equal(out[92:], image[92:])
    assert out is not image and not np.shares_memory(out, image)


def test_blur_is_irreversible_it_keeps_only_a_few_cells():
    # After obscuring, the region carries about strength x strength values of
    # information: downsampling it to that grid and back changes almost nothing.
    import cv2

    roi = textured(60, 60)
    out = obscure_region(roi, "blur", strength=4)
    again = cv2.resize(cv2.resize(out, (4, 4), interpolation=cv2.INTER_AREA), (60, 60), interpolation=cv2.INTER_LINEAR)
    assert np.abs(out.astype(int) - again.astype(int)).mean() < 12
    assert np.abs(out.astype(int) - roi.astype(int)).mean() > 40


def test_small_regions_get_cells_of_at_least_three_pixels():
    roi = textured(9, 9)
    out = obscure_region(roi, "pixelate", strength=8)
    assert len(np.unique(out.reshape(-1, 3), axis=0)) <= 9


def test_boxes_outside_or_degenerate_are_ignored():
    image = textured()
    out = obscure_boxes(image, np.array([[500, 500, 600, 600], [10, 10, 10, 40]]), "blur", 5)
    assert np.array_equal(out, image)


def test_fail_closed_frame_keeps_no_detail():
    image = textured(432, 768)
    out = obscure_frame(image)
    assert out.shape == image.shape
    # a 16-cell sketch: neighbouring pixels are almost equal everywhere
    assert np.abs(np.diff(out.astype(int), axis=1)).mean() < 2
