"""One array-based detections type used by every stage (after supervision's)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False)
class Detections:
    """A set of boxes with scores and classes, stored column-wise.

    Instances are immutable in spirit: every method returns a new object and
    never writes into the arrays it was given.

    Attributes
    ----------
    xyxy : np.ndarray
        (N, 4) float32 boxes in pixel coordinates, x1 < x2 and y1 < y2.
    confidence : np.ndarray
        (N,) float32 scores in [0, 1].
    class_id : np.ndarray
        (N,) int32 class indices (meaning set by the producing detector).
    tracker_id : np.ndarray or None
        (N,) int64 per-camera anonymous track ids once tracked.
    data : dict
        Extra per-box columns, each an array of length N (e.g. ``kind``).
    """

    xyxy: np.ndarray
    confidence: np.ndarray
    class_id: np.ndarray
    tracker_id: np.ndarray | None = None
    data: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        xyxy = np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4)
        n = len(xyxy)
        confidence = np.asarray(self.confidence, dtype=np.float32).reshape(-1)
        class_id = np.asarray(self.class_id, dtype=np.int32).reshape(-1)
        if len(confidence) != n or len(class_id) != n:
            raise ValueError(
                f"Detections columns differ in length: xyxy {n}, confidence {len(confidence)}, class_id {len(class_id)}"
            )
        tracker_id = self.tracker_id
        if tracker_id is not None:
            tracker_id = np.asarray(tracker_id, dtype=np.int64).reshape(-1)
            if len(tracker_id) != n:
                raise ValueError(f"tracker_id has {len(tracker_id)} rows, expected {n}")
        data = {k: np.asarray(v) for k, v in self.data.items()}
        for key, value in data.items():
            if len(value) != n:
                raise ValueError(f"data column {key!r} has {len(value)} rows, expected {n}")
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "confidence", confidence)
        object.__setattr__(self, "class_id", class_id)
        object.__setattr__(self, "tracker_id", tracker_id)
        object.__setattr__(self, "data", data)

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32))

    @classmethod
    def merge(cls, parts: Iterable[Detections]) -> Detections:
        """Concatenate detections; data columns missing in some parts are dropped."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        keys = set.intersection(*(set(p.data) for p in parts))
        tracked = all(p.tracker_id is not None for p in parts)
        return cls(
            xyxy=np.concatenate([p.xyxy for p in parts]),
            confidence=np.concatenate([p.confidence for p in parts]),
            class_id=np.concatenate([p.class_id for p in parts]),
            tracker_id=np.concatenate([p.tracker_id for p in parts]) if tracked else None,  # type: ignore[misc]
            data={k: np.concatenate([p.data[k] for p in parts]) for k in sorted(keys)},
        )

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: Any) -> Detections:
        """Select rows by integer array, slice or boolean mask."""
        if isinstance(index, int | np.integer):
            index = [int(index)]
        return Detections(
            xyxy=self.xyxy[index],
            confidence=self.confidence[index],
            class_id=self.class_id[index],
            tracker_id=None if self.tracker_id is None else self.tracker_id[index],
            data={k: v[index] for k, v in self.data.items()},
        )

    def with_xyxy(self, xyxy: np.ndarray) -> Detections:
        """Same rows with new boxes (e.g. padded or rescaled)."""
        return Detections(xyxy, self.confidence, self.class_id, self.tracker_id, self.data)

    def with_data(self, **columns: np.ndarray | Any) -> Detections:
        """Add or replace data columns; a scalar is broadcast to every row."""
        data = dict(self.data)
        for key, value in columns.items():
            arr = np.asarray(value)
            data[key] = np.full(len(self), value) if arr.ndim == 0 else arr
        return Detections(self.xyxy, self.confidence, self.class_id, self.tracker_id, data)

    @property
    def area(self) -> np.ndarray:
        wh = np.clip(self.xyxy[:, 2:] - self.xyxy[:, :2], 0, None)
        return wh[:, 0] * wh[:, 1]
