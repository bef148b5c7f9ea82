"""Head regions of detected people.

CenterFace misses faces that are turned away, tiny, masked or motion-blurred.
A person's head is where their face would be, so the top of every person box
is obscured too. The geometry follows body proportions: a head is about a
fifth of a standing person's height and about half of a cropped upper body's
width.
"""

from __future__ import annotations

import numpy as np


def head_boxes(person_xyxy: np.ndarray, pad: float = 0.15) -> np.ndarray:
    """Head boxes (N, 4) for person boxes (N, 4), padded by ``pad`` of their size.

    The head is taken as a square of side ``min(0.55 * width, 0.4 * height)``
    centred horizontally at the top of the person box, extended 20% downwards
    for the chin and neck.
    """
    p = np.asarray(person_xyxy, dtype=np.float32).reshape(-1, 4)
    w = p[:, 2] - p[:, 0]
    h = p[:, 3] - p[:, 1]
    side = np.minimum(0.55 * w, 0.4 * h)
    cx = (p[:, 0] + p[:, 2]) / 2
    top = p[:, 1]
    hw = side / 2 * (1 + 2 * pad)
    return np.stack([cx - hw, top - side * pad, cx + hw, top + side * (1.2 + pad)], axis=1)


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
