"""Head regions of detected people.

CenterFace misses faces that are turned away, tiny, masked or motion-blurred.
A person's head is where their face would be, so the top of every person box
is obscured too, unless a face found there already accounts for it. The
geometry follows body proportions: a head is about a fifth of a standing
person's height and about half of a cropped upper body's width.
"""

from __future__ import annotations

import numpy as np

_GRID = 12  # sample points per side of a head box when measuring how much of it faces cover


def head_boxes(
    person_xyxy: np.ndarray,
    pad: float = 0.15,
    width_share: float = 0.55,
    height_share: float = 0.4,
    drop: float = 1.2,
) -> np.ndarray:
    """Head boxes (N, 4) for person boxes (N, 4), padded by ``pad`` of their size.

    The head is taken as a square of side ``min(width_share * width,
    height_share * height)`` centred horizontally at the top of the person
    box, extended downwards to ``drop`` sides for the chin and neck.
    """
    p = np.asarray(person_xyxy, dtype=np.float32).reshape(-1, 4)
    w = p[:, 2] - p[:, 0]
    h = p[:, 3] - p[:, 1]
    side = np.minimum(width_share * w, height_share * h)
    cx = (p[:, 0] + p[:, 2]) / 2
    top = p[:, 1]
    hw = side / 2 * (1 + 2 * pad)
    return np.stack([cx - hw, top - side * pad, cx + hw, top + side * (drop + pad)], axis=1)


def uncovered_heads(heads: np.ndarray, faces: np.ndarray, min_face_share: float = 0.25) -> np.ndarray:
    """Mask of head boxes that no found face already accounts for.

    A head box exists to catch a face the face detector missed. When a face of
    plausible size (at least ``min_face_share`` of the head box's width) has its
    centre inside the head box, that face is already obscured and the larger
    head box would only blur background.
    """
    heads = np.asarray(heads, dtype=np.float32).reshape(-1, 4)
    faces = np.asarray(faces, dtype=np.float32).reshape(-1, 4)
    if len(heads) == 0 or len(faces) == 0:
        return np.ones(len(heads), dtype=bool)
    cx = (faces[:, 0] + faces[:, 2]) / 2
    cy = (faces[:, 1] + faces[:, 3]) / 2
    fw = faces[:, 2] - faces[:, 0]
    inside = (
        (cx[None, :] >= heads[:, None, 0])
        & (cx[None, :] <= heads[:, None, 2])
        & (cy[None, :] >= heads[:, None, 1])
        & (cy[None, :] <= heads[:, None, 3])
    )
    big_enough = fw[None, :] >= min_face_share * (heads[:, 2] - heads[:, 0])[:, None]
    return ~(inside & big_enough).any(axis=1)


def covered_share(heads: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Share (N,) of each head box that the union of the face boxes covers (sampled on a grid)."""
    heads = np.asarray(heads, dtype=np.float32).reshape(-1, 4)
    faces = np.asarray(faces, dtype=np.float32).reshape(-1, 4)
    if len(heads) == 0 or len(faces) == 0:
        return np.zeros(len(heads), np.float32)
    t = (np.arange(_GRID, dtype=np.float32) + 0.5) / _GRID
    xs = heads[:, 0:1] + t[None, :] * (heads[:, 2:3] - heads[:, 0:1])  # (N, G)
    ys = heads[:, 1:2] + t[None, :] * (heads[:, 3:4] - heads[:, 1:2])
    in_x = (xs[:, None, :] >= faces[None, :, 0:1]) & (xs[:, None, :] <= faces[None, :, 2:3])  # (N, F, G)
    in_y = (ys[:, None, :] >= faces[None, :, 1:2]) & (ys[:, None, :] <= faces[None, :, 3:4])
    grid = (in_y[:, :, :, None] & in_x[:, :, None, :]).any(axis=1)  # (N, G, G)
    return grid.mean(axis=(1, 2)).astype(np.float32)
