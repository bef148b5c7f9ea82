"""Constant-velocity Kalman filter on (cx, cy, aspect, height), batched and time-aware.

The state is ByteTrack's ``(cx, cy, a, h, vcx, vcy, va, vh)`` with ``a = w / h``,
but velocities are per **second** and every prediction takes the time since
the previous frame, because Vigil's analytics skip frames (motion gating,
overload) and cameras have different frame rates: a fixed per-frame model
would think an object slowed down whenever frames were dropped.

Noise scales with the box height (ByteTrack's choice: a near, big object moves
more pixels than a far one). Process noise grows linearly with elapsed time
(a random walk), so a long gap widens the prediction as it should. The rates
below are ByteTrack's per-frame values converted at its 30 fps.
"""

from __future__ import annotations

import numpy as np

# Per-measurement std, fraction of height (ByteTrack std_weight_position = 1/20).
_MEAS_POS = 1.0 / 20.0
_MEAS_ASPECT = 1e-1
# Process noise std per sqrt(second): position (fraction of h) and velocity (fraction of h per second).
_PROC_POS = np.sqrt(30.0) / 20.0
_PROC_VEL = 30.0 * np.sqrt(30.0) / 160.0
_PROC_ASPECT = 1e-2 * np.sqrt(30.0)
_PROC_ASPECT_VEL = 1e-5 * 30.0 * np.sqrt(30.0)
# Initial std: position (fraction of h) and velocity (fraction of h per second).
_INIT_POS = 2.0 / 20.0
_INIT_VEL = 10.0 * 30.0 / 160.0


def xyxy_to_xyah(xyxy: np.ndarray) -> np.ndarray:
    """(N, 4) corner boxes to (N, 4) centre x, centre y, aspect w/h, height (float64)."""
    b = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    w = np.maximum(b[:, 2] - b[:, 0], 1e-3)
    h = np.maximum(b[:, 3] - b[:, 1], 1e-3)
    return np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, w / h, h], axis=1)


def xyah_to_xyxy(xyah: np.ndarray) -> np.ndarray:
    """(N, >=4) states or measurements to (N, 4) float32 corner boxes (degenerate sizes kept positive)."""
    s = np.asarray(xyah, dtype=np.float64)
    s = s.reshape(len(s), -1) if s.size else np.zeros((0, 4))
    h = np.maximum(s[:, 3], 1e-3)
    w = np.maximum(s[:, 2], 1e-3) * h
    return np.stack([s[:, 0] - w / 2, s[:, 1] - h / 2, s[:, 0] + w / 2, s[:, 1] + h / 2], axis=1).astype(np.float32)


def initiate(measurement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """New states from (N, 4) xyah measurements: position known, velocity zero but uncertain.

    Returns
    -------
    mean : np.ndarray
        (N, 8) float64.
    covariance : np.ndarray
        (N, 8, 8) float64.
    """
    z = np.asarray(measurement, dtype=np.float64).reshape(-1, 4)
    h = z[:, 3]
    mean = np.concatenate([z, np.zeros_like(z)], axis=1)
    std = np.stack(
        [
            _INIT_POS * h,
            _INIT_POS * h,
            np.full_like(h, 1e-2),
            _INIT_POS * h,
            _INIT_VEL * h,
            _INIT_VEL * h,
            np.full_like(h, 1e-5 * 30.0),
            _INIT_VEL * h,
        ],
        axis=1,
    )
    cov = np.zeros((len(z), 8, 8))
    idx = np.arange(8)
    cov[:, idx, idx] = std**2
    return mean, cov


def predict(mean: np.ndarray, cov: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Advance (N, 8) states by ``dt`` seconds; returns new arrays."""
    if len(mean) == 0 or dt <= 0:
        return mean.copy(), cov.copy()
    f = np.eye(8)
    f[np.arange(4), np.arange(4) + 4] = dt
    h = np.maximum(mean[:, 3], 1e-3)
    std = np.stack(
        [
            _PROC_POS * h,
            _PROC_POS * h,
            np.full_like(h, _PROC_ASPECT),
            _PROC_POS * h,
            _PROC_VEL * h,
            _PROC_VEL * h,
            np.full_like(h, _PROC_ASPECT_VEL),
            _PROC_VEL * h,
        ],
        axis=1,
    )
    q = np.zeros_like(cov)
    idx = np.arange(8)
    q[:, idx, idx] = std**2 * dt
    new_mean = mean @ f.T
    new_cov = f @ cov @ f.T + q
    return new_mean, new_cov


def update(mean: np.ndarray, cov: np.ndarray, measurement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Correct (N, 8) states with (N, 4) xyah measurements; returns new arrays."""
    if len(mean) == 0:
        return mean.copy(), cov.copy()
    z = np.asarray(measurement, dtype=np.float64).reshape(-1, 4)
    h = mean[:, 3]
    r_std = np.stack([_MEAS_POS * h, _MEAS_POS * h, np.full_like(h, _MEAS_ASPECT), _MEAS_POS * h], axis=1)
    s = cov[:, :4, :4] + np.einsum("ni,ij->nij", r_std**2, np.eye(4))
    pht = cov[:, :, :4]  # P H^T, since H selects the first four states
    gain = np.linalg.solve(s, np.swapaxes(pht, 1, 2)).swapaxes(1, 2)  # K = P H^T S^-1 (S symmetric)
    innovation = z - mean[:, :4]
    new_mean = mean + np.einsum("nij,nj->ni", gain, innovation)
    new_cov = cov - gain @ s @ np.swapaxes(gain, 1, 2)
    return new_mean, new_cov
