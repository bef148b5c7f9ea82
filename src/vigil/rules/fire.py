"""Fire and smoke, from the fire detector's boxes.

Logic
-----
Detections of the fire detector with ``data["label"]`` ``fire`` or ``smoke`` and
a score of at least ``min_score`` (default 0.5) are grouped per label; each
label present gives one signal of that type (``fire`` or ``smoke``), key equal
to the label, with the union of its boxes (flames flicker into many small
boxes that are one fire) and the best score as confidence. Severity is the
rule's ``severity`` (default 5) for both: smoke in a tunnel is as urgent as
flames. Flicker between frames is the lifecycle's business (``confirm_frames``,
``end_after_s``).
"""

from __future__ import annotations

import numpy as np

from vigil.config.rules import FireRule
from vigil.incidents.types import Signal
from vigil.rules.base import FrameContext, union_box

LABELS: tuple[str, ...] = ("fire", "smoke")


class FireSmoke:
    """Signals ``fire`` and ``smoke`` while the detector sees them with ``min_score``."""

    type = "fire"
    windows: tuple[float, ...] = ()

    def __init__(self, cfg: FireRule) -> None:
        self.cfg = cfg

    def update(self, ctx: FrameContext) -> list[Signal]:
        det = ctx.fire
        labels = det.data.get("label")
        if len(det) == 0 or labels is None:
            return []
        strong = det.confidence >= self.cfg.min_score
        if not strong.any():
            return []
        out: list[Signal] = []
        for label in LABELS:
            m = strong & (labels == label)
            if not m.any():
                continue
            out.append(
                ctx.signal(
                    label,
                    label,
                    union_box(det.xyxy[m]),
                    float(det.confidence[m].max()),
                    self.cfg.severity,
                    {"detections": int(np.count_nonzero(m))},
                )
            )
        return out
