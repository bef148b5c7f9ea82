"""The shared image helpers: reduction without aliasing or needless work, connected components."""

import cv2
import numpy as np

from vigil.core.images import components, shrink


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


def test_components_are_the_labels_and_stats_of_opencvs_default_algorithm():
    rng = np.random.default_rng(1)
    for trial in range(60):
        h, w = (int(v) for v in rng.integers(8, 300, 2))
        mask = (rng.random((h, w)) < (0.002, 0.05, 0.4, 0.9)[trial % 4]).astype(np.uint8)
        if trial % 2:
            mask = cv2.dilate(mask, np.ones((3, 3), np.uint8)) * 255  # blobs, and 255 as foreground
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        got = components(mask)
        assert got[0] == n and np.array_equal(got[1], labels) and np.array_equal(got[2], stats), trial
    diagonal = np.eye(5, dtype=np.uint8)  # 8-connected: one component, not five
    assert components(diagonal)[0] == 2
