"""Temporal redaction for video: detection on every Nth frame, memory for misses.

Frames between two detection frames ("keys") are held back until the next key
has been analysed, then covered by both keys' regions: a region found in both
is widened to the hull of its two positions (which contains every position on
the way between them), one found in only one key is padded for motion. A
region that a key no longer finds stays covered for ``memory`` more keys, so a
face missed for a frame or two is still obscured. If a key's detection fails,
every frame that depends on it is obscured whole.

The keys' regions only vouch for an in-between frame that shows what the keys
showed. Each in-between frame is therefore compared with both keys
(:class:`~vigil.redaction.change.ChangeCheck`), and a cell that differs from
both is *explained* only

* inside the regions the frame gets anyway, or
* inside the path of a person or vehicle that both keys saw (the hull of its
  two boxes), away from any person that only one key saw (who may have moved
  anywhere near there, face and all).

A frame with unexplained cells is searched itself: inside windows around them
(a person stepping out from behind a pillar), or whole when much of it changed
(a cut, a pan, a stream switch). Its own regions are added to the keys'. So
every frame that is written rests on a detection of that frame or on a check
that it did not change where nothing vouches for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vigil.core import Detections, Frame, RedactedFrame, boxes
from vigil.redaction.change import ChangeCheck, Signature
from vigil.redaction.engine import Analysis, RedactionError, Redactor

MOTION_PAD = 0.25  # extra margin for a region seen in only one of two keys
MATCH_BUFFER = 1.0  # boxes are grown by this share of their size before matching keys
PATH_PAD = 0.05  # growth of an object's path between keys, share of its size
LONE_PERSON_REACH = 1.5  # a person seen in one key only may be this many box sizes away in between
SCENE_CHANGE_SHARE = 0.3  # uncovered share of a frame that differs from both keys: search it whole


@dataclass(frozen=True)
class _Key:
    frame: Frame
    regions: Detections | None  # None: detection failed
    signature: Signature
    objects: Detections  # confident people and vehicles (empty when detection failed)


@dataclass(frozen=True)
class _Held:
    """A frame waiting for the next key, with its change signature and any detections made on it upstream."""

    frame: Frame
    signature: Signature
    objects: Detections | None = None


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


def paths(a: Detections, b: Detections) -> tuple[np.ndarray, np.ndarray]:
    """Hulls of the objects both keys saw, and the people only one of them saw.

    Objects are matched whatever their labels (a detector calls one car "car",
    then "cell phone"): what matters here is that something was there in both
    keys and moved from one box to the other.

    Parameters
    ----------
    a, b : Detections
        Confident objects of two keys, with ``data["label"]``.

    Returns
    -------
    (np.ndarray, np.ndarray)
        (P, 4) hulls of the pairs matched across the keys, and (L, 4) boxes of
        people that one key saw and the other has nothing for.
    """
    pairs = _match(boxes.pad(a.xyxy, MATCH_BUFFER), boxes.pad(b.xyxy, MATCH_BUFFER))
    ia, ib = [i for i, _ in pairs], [j for _, j in pairs]
    hulls = boxes.hull(a.xyxy[ia], b.xyxy[ib]) if pairs else np.zeros((0, 4), np.float32)
    la = np.asarray(a.data.get("label", np.full(len(a), "", dtype=object))).astype(str)
    lb = np.asarray(b.data.get("label", np.full(len(b), "", dtype=object))).astype(str)
    lone_a = np.setdiff1d(np.flatnonzero(la == "person"), ia)
    lone_b = np.setdiff1d(np.flatnonzero(lb == "person"), ib)
    lone = np.concatenate([a.xyxy[lone_a], b.xyxy[lone_b]]).reshape(-1, 4)
    return hulls.astype(np.float32), lone.astype(np.float32)


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

    Attributes
    ----------
    failed_frames : int
        Frames obscured whole because a detection they depend on failed.
    checked_frames, searched_frames, full_searches : int
        In-between frames compared with their keys; those of them that changed
        and were searched themselves; how many of those searches took the whole
        frame (the rest searched windows around the change).
    """

    def __init__(self, redactor: Redactor, change: ChangeCheck | None = None) -> None:
        self.redactor = redactor
        cfg = redactor.config.video
        self.detect_every = cfg.detect_every
        self.memory = cfg.memory
        self.change = change or ChangeCheck(threshold=cfg.change_threshold)
        self._key: _Key | None = None
        self._pending: list[_Held] = []
        self._remembered = Detections.empty()  # regions with data["age"]
        self.failed_frames = 0
        self.checked_frames = 0
        self.searched_frames = 0
        self.full_searches = 0

    def push(self, frame: Frame, objects: Detections | None = None) -> list[RedactedFrame]:
        """Add the next frame; ``objects`` are detections made for it upstream, if any."""
        if self._key is not None and len(self._pending) + 1 < self.detect_every:
            self._pending.append(_Held(frame, self.change.signature(frame.image), objects))
            return []
        return self._close_window(self._analyse(frame, objects))

    def flush(self) -> list[RedactedFrame]:
        """Analyse the last held frame as a key and release everything."""
        if not self._pending:
            return []
        last = self._pending.pop()
        return self._close_window(self._analyse(last.frame, last.objects, last.signature))

    def _analyse(self, frame: Frame, objects: Detections | None, signature: Signature | None = None) -> _Key:
        signature = signature if signature is not None else self.change.signature(frame.image)
        try:
            found: Analysis = self.redactor.analyse_checked(frame.image, objects)
        except RedactionError:
            self._remembered = Detections.empty()
            return _Key(frame, None, signature, Detections.empty())
        return _Key(frame, self._remember(found.regions), signature, found.objects)

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
            for held in pending:
                regions = self._vouch(held, prev, key, between) if between is not None else None  # type: ignore[arg-type]
                out.append(self._seal(held.frame, regions))
        out.append(self._seal(key.frame, key.regions))
        return out

    def _vouch(self, held: _Held, before: _Key, after: _Key, between: Detections) -> Detections | None:
        """Regions for an in-between frame: the keys' if it did not change, plus its own where it did.

        ``None`` (obscure the frame whole) when its own detection fails.
        """
        self.checked_frames += 1
        change, sig = self.change, held.signature
        changed = change.changed(sig, before.signature, after.signature)
        changed &= ~change.cells_inside(sig, between.xyxy)
        if not changed.any():
            return between
        if changed.mean() > SCENE_CHANGE_SHARE:
            windows = None
        else:
            moved, lone = paths(before.objects, after.objects)
            # Box edges jitter by a few pixels: the path is grown a little (no face fits in that band).
            explained = change.cells_touching(sig, boxes.pad(moved, PATH_PAD)) & ~change.cells_touching(
                sig, boxes.pad(lone, LONE_PERSON_REACH)
            )
            windows = change.windows(sig, changed & ~explained)
            if windows is not None and len(windows) == 0:
                return between
        self.searched_frames += 1
        self.full_searches += int(windows is None)
        try:
            own = self.redactor.detect_checked(held.frame.image, held.objects, windows)
        except RedactionError:
            return None
        return Detections.merge([between, own])

    def _seal(self, frame: Frame, regions: Detections | None) -> RedactedFrame:
        if regions is None:
            self.failed_frames += 1
            return self.redactor.fail_closed(frame)
        return self.redactor.seal(frame, regions)
