"""The shared image reduction: no aliasing of fine texture, no needless work."""

import cv2
import numpy as np

from vigil.core.images import shrink


def stripes(width: int, height: int, period: int) -> np.ndarray:
    """Vertical black/white stripes, ``period`` px each."""
    row = ((np.arange(width) // period) % 2 * 255).astype(np.uint8)
    return np.repeat(row[None, :], height, axis=0)


def test_a_frame_of_the_asked_size_is_returned_as_it_is():
    image = stripes(64, 32, 1)
    assert shrink(image, 64, 32) is image


def test_whole_factors_average_fine_texture_instead_of_sampling_it():
    # One-pixel stripes reduced 4.3x: area averaging (by 4, then linear) gives an even grey; plain linear
    # sampling gives bands.
    image = stripes(430, 130, 1)
    out = shrink(image, 100, 30)
    assert out.shape == (30, 100)
    assert abs(float(out.mean()) - 127.5) < 3 and float(out.std()) < 10
    aliased = cv2.resize(image, (100, 30), interpolation=cv2.INTER_LINEAR)
    assert float(aliased.std()) > 5 * float(out.std())
