"""The pure-numpy matcher against brute force, and the time-aware Kalman filter."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from vigil.tracking import kalman
from vigil.tracking.assignment import hungarian, linear_assignment


def brute_force_gain(cost: np.ndarray, limit: float) -> float:
    """Best total slack ``limit - cost`` over all partial matchings that use only allowed pairs."""
    n, m = cost.shape
    allowed = np.isfinite(cost) & (cost <= limit)
    best = 0.0
    if n <= m:
        for cols in itertools.permutations(range(m), n):
            best = max(best, sum(limit - cost[r, c] for r, c in enumerate(cols) if allowed[r, c]))
    else:
        for rows in itertools.permutations(range(n), m):
            best = max(best, sum(limit - cost[r, c] for c, r in enumerate(rows) if allowed[r, c]))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_linear_assignment_is_optimal(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(150):
        n, m = (int(v) for v in rng.integers(0, 6, 2))
        cost = rng.random((n, m))
        cost[rng.random((n, m)) < 0.3] = np.inf
        limit = 0.7
        matches, free_rows, free_cols = linear_assignment(cost, limit)
        assert np.all(cost[matches[:, 0], matches[:, 1]] <= limit)
        assert len(set(matches[:, 0])) == len(matches) and len(set(matches[:, 1])) == len(matches)
        assert sorted([*matches[:, 0], *free_rows]) == list(range(n))
        assert sorted([*matches[:, 1], *free_cols]) == list(range(m))
        gain = float(sum(limit - cost[r, c] for r, c in matches))
        assert gain == pytest.approx(brute_force_gain(cost, limit), abs=1e-9)


def test_hungarian_square_and_rectangular() -> None:
    cost = np.array([[4.0, 1.0, 3.0], [2.0, 0.0, 5.0], [3.0, 2.0, 2.0]])
    assert hungarian(cost).tolist() == [1, 0, 2]
    assert hungarian(np.array([[5.0, 1.0, 9.0, 0.5]])).tolist() == [3]
    with pytest.raises(ValueError):
        hungarian(np.zeros((3, 2)))


def test_greedy_would_be_wrong() -> None:
    """Greedy takes (0, 0) at 0.1 and strands row 1; the optimum pairs both rows."""
    cost = np.array([[0.1, 0.2], [0.15, np.inf]])
    matches, _, _ = linear_assignment(cost, 0.8)
    assert matches.tolist() == [[0, 1], [1, 0]]


def test_empty_inputs() -> None:
    for shape in ((0, 0), (0, 3), (4, 0)):
        matches, rows, cols = linear_assignment(np.zeros(shape), 0.5)
        assert matches.shape == (0, 2) and len(rows) == shape[0] and len(cols) == shape[1]


def test_kalman_velocity_is_per_second_whatever_the_frame_gaps() -> None:
    """The same motion sampled at irregular times gives the same velocity, in pixels per second."""
    rng = np.random.default_rng(0)
    for fps in (5.0, 30.0):
        t, box = 0.0, np.array([[100.0, 100.0, 140.0, 200.0]])
        mean, cov = kalman.initiate(kalman.xyxy_to_xyah(box))
        for _ in range(40):
            dt = int(rng.integers(1, 4)) / fps
            t += dt
            mean, cov = kalman.predict(mean, cov, dt)
            mean, cov = kalman.update(mean, cov, kalman.xyxy_to_xyah(box + np.array([30.0, -12.0, 30.0, -12.0]) * t))
        np.testing.assert_allclose(mean[0, 4:6], [30.0, -12.0], atol=1.0)
        np.testing.assert_allclose(kalman.xyah_to_xyxy(mean), box + np.array([30.0, -12.0, 30.0, -12.0]) * t, atol=1.0)


def test_kalman_uncertainty_grows_with_elapsed_time() -> None:
    mean, cov = kalman.initiate(kalman.xyxy_to_xyah(np.array([[0.0, 0.0, 40.0, 100.0]])))
    _, short = kalman.predict(mean, cov, 0.1)
    _, long = kalman.predict(mean, cov, 2.0)
    assert long[0, 0, 0] > short[0, 0, 0] > cov[0, 0, 0]
