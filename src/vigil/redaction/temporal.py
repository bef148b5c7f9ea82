"""Temporal redaction for video: detection on every Nth frame, memory for misses.

Frames between two detection frames ("keys") are held back until the next key
has been analysed, then covered by both keys' regions: a region found in both
is widened to the hull of its two positions (which contains every position on
the way between them), one found in only one key is padded for motion. A
region that a key no longer finds stays covered for ``memory`` more keys, so a
face missed for a frame or two is still obscured. If a key's detection fails,
every frame that depends on it is obscured whole.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vigil.core import Detections, Frame, RedactedFrame, boxes
from vigil.redaction.engine import RedactionError, Redactor

MOTION_PAD = 0.25  # extra margin for a region seen in only one of two keys
MATCH_BUFFER = 1.0  # boxes are grown by this share of their size before matching keys


@dataclass(frozen=True)
class _Key:
    frame: Frame
    regions: Detections | None  # None: detection failed


def _match(a: np.ndarray, b: np.ndarray, min_iou: float = 0.05) -> list[tuple[int, int]]:
    """Greedy one-to-one matching by IoU."""
    iou = boxes.iou_matrix(a, b)
    pairs: list[tuple[int, int]] = []
    if iou.size == 0:
        return pairs
    order = np.dstack(np.unravel_index(np.argsort(-iou, axis=None), iou.shape))[0]
    used_a, used_b = set(), set()
    for i, j in order:
        if iou[i, j] < min_iou:
            break
        if i in used_a or j in used_b:
            continue
        used_a.add(int(i))
        used_b.add(int(j))
        pairs.append((int(i), int(j)))
    return pairs


def bridge(a: Detections, b: Detections) -> Detections:
    """Regions that cover every frame between two keys with regions ``a`` and ``b``."""
    # Matching on buffered boxes pairs a face with itself even when it moved
    # more than its own width between the two keys.
    pairs = _match(boxes.pad(a.xyxy, MATCH_BUFFER), boxes.pad(b.xyxy, MATCH_BUFFER))
    ia = [i for i, _ in pairs]
    ib = [j for _, j in pairs]
    joined = a[ia].with_xyxy(boxes.hull(a.xyxy[ia], b.xyxy[ib])) if pairs else Detections.empty()
    only_a = a[np.setdiff1d(np.arange(len(a)), ia)]
    only_b = b[np.setdiff1d(np.arange(len(b)), ib)]
    lone = Detections.merge([only_a, only_b])
    lone = lone.with_xyxy(boxes.pad(lone.xyxy, MOTION_PAD)) if len(lone) else lone
    return Detections.merge([joined, lone])


class TemporalRedactor:
    """Redact a video stream frame by frame, in order, with bounded look-ahead.

    ``push`` returns the frames that are ready (possibly none, while frames wait
    for the next key); ``flush`` returns the rest at the end of the stream.
    Latency is at most ``detect_every - 1`` frames.
    """

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        cfg = redactor.config.video
        self.detect_every = cfg.detect_every
        self.memory = cfg.memory
        self._key: _Key | None = None
        self._pending: list[Frame] = []
        self._remembered = Detections.empty()  # regions with data["age"]
        self.failed_frames = 0

    def push(self, frame: Frame, objects: Detections | None = None) -> list[RedactedFrame]:
        """Add the next frame; ``objects`` are detections made for it upstream, if any."""
        if self._key is not None and len(self._pending) + 1 < self.detect_every:
            self._pending.append(frame)
            return []
        return self._close_window(self._analyse(frame, objects))

    def flush(self) -> list[RedactedFrame]:
        """Analyse the last held frame as a key and release everything."""
        if not self._pending:
            return []
        last = self._pending.pop()
        return self._close_window(self._analyse(last, None))

    def _analyse(self, frame: Frame, objects: Detections | None) -> _Key:
        try:
            found = self.redactor.detect_checked(frame.image, objects)
        except RedactionError:
            self._remembered = Detections.empty()
            return _Key(frame, None)
        return _Key(frame, self._remember(found))

    def _remember(self, found: Detections) -> Detections:
        """Add regions that earlier keys saw and this one missed (up to ``memory`` keys old)."""
        found = found.with_data(age=np.zeros(len(found), np.int32))
        old = self._remembered
        if len(old):
            buffered = _match(boxes.pad(old.xyxy, MATCH_BUFFER), boxes.pad(found.xyxy, MATCH_BUFFER))
            matched = {i for i, _ in buffered}
            keep = np.array([i not in matched for i in range(len(old))]) & (old.data["age"] < self.memory)
            carried = old[keep]
            carried = carried.with_data(age=carried.data["age"] + 1)
            found = Detections.merge([found, carried])
        self._remembered = found
        return found

    def _close_window(self, key: _Key) -> list[RedactedFrame]:
        prev, pending = self._key, self._pending
        self._key, self._pending = key, []
        out: list[RedactedFrame] = []
        if pending:
            ok = prev is not None and prev.regions is not None and key.regions is not None
            between = bridge(prev.regions, key.regions) if ok else None  # type: ignore[union-attr,arg-type]
            for frame in pending:
                out.append(self._seal(frame, between))
        out.append(self._seal(key.frame, key.regions))
        return out

    def _seal(self, frame: Frame, regions: Detections | None) -> RedactedFrame:
        if regions is None:
            self.failed_frames += 1
            return self.redactor.fail_closed(frame)
        return self.redactor.seal(frame, regions)
