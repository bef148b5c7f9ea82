"""Incident lifecycle: one camera's per-frame signals -> ``new`` / ``update`` / ``end`` events.

Rules report what holds in each frame; services want one message when
something starts, a few while it goes on and one when it is over. Per camera,
:class:`IncidentTracker` does that with these rules (thresholds per incident
type from the camera-merged :class:`~vigil.config.rules.RulesConfig`):

* **Confirmation.** A signal key must be seen in ``confirm_frames``
  *consecutive* analysed frames before the incident is ``new``; one missing
  frame starts the count again. ``update`` must therefore be called for every
  analysed frame, with an empty list when nothing was signalled.
* **Updates** only on a meaningful change: the severity rose, or the smoothed
  confidence moved by more than ``CONFIDENCE_STEP`` (0.1) since the last
  event, or ``heartbeat_s`` passed (default 30 s) so receivers know it is still
  going on. Never one per frame. Confidence starts as the mean over the
  confirming frames and is then smoothed (exponential average, weight
  ``CONFIDENCE_SMOOTHING`` = 0.1, about 2 s at 5 frames/s) because detector
  scores jump by 0.1 from frame to frame; severity never goes
  down within an incident so that flapping around a threshold cannot send a
  stream of escalations and de-escalations (it reaches its peak and stays).
* **End** once the incident's keys have not been signalled for ``end_after_s``;
  ``end_s`` is the time it was last signalled.
* **Id switches.** A key not yet part of an incident that appears while an
  ongoing incident of the same type was *not* signalled in this frame, within
  ``rekey_s`` of its last signal, where its box was (IoU > ``rekey_iou`` or the
  new box's centre inside the old box), continues that incident: trackers
  renumber an object after an occlusion, and that is not a new event. Two
  incidents signalled in the same frame are never merged: two events at once
  stay two incidents.
* An object that leaves and comes back after its incident ended starts a new
  incident (confirmed again).

Everything is deterministic given the inputs: ids come from ``id_factory`` and
the ``wall_time`` stamp from ``wall_clock``, both injectable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from vigil.config.rules import RulesConfig, _Rule
from vigil.incidents.types import BBox, IncidentEvent, IncidentState, Signal, new_id

CONFIDENCE_STEP = 0.1
CONFIDENCE_SMOOTHING = 0.1
# Incident type -> field of RulesConfig holding its thresholds.
RULE_OF_TYPE = {
    "stopped_vehicle": "stopped_vehicle",
    "wrong_way": "wrong_way",
    "pedestrian": "pedestrian",
    "animal": "animal",
    "collision": "collision",
    "fire": "fire",
    "smoke": "fire",
    "crowd": "crowd",
    "congestion": "congestion",
}


@dataclass(frozen=True)
class _Limits:
    confirm_frames: int
    end_after_s: float
    heartbeat_s: float


@dataclass
class _Candidate:
    first_s: float
    count: int
    frame: int
    confidence: float


@dataclass
class _Incident:
    incident_id: str
    type: str
    start_s: float
    last_s: float
    bbox: BBox
    confidence: float
    severity: int
    details: dict[str, Any]
    keys: set[str] = field(default_factory=set)
    sequence: int = 0
    reported_s: float = 0.0
    reported_confidence: float = 0.0
    reported_severity: int = 0


def _utc_now() -> str:
    return datetime.now(UTC).isoformat()


def _iou(a: BBox, b: BBox) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _centre_inside(box: BBox, outer: BBox) -> bool:
    cx, cy = (box[0] + box[2]) * 0.5, (box[1] + box[3]) * 0.5
    return outer[0] <= cx <= outer[2] and outer[1] <= cy <= outer[3]


class IncidentTracker:
    """Turns one camera's signals into incident events.

    Parameters
    ----------
    camera_id : str
    rules : RulesConfig
        Camera-merged thresholds: ``confirm_frames``, ``end_after_s`` and
        ``heartbeat_s`` per incident type.
    rekey_s, rekey_iou : float
        Id-switch bridging (see the module docstring).
    id_factory : callable
        Makes ``incident_id`` and ``event_id`` values (uuid4 hex by default).
    wall_clock : callable
        ISO-8601 time stamp for ``wall_time``.
    """

    def __init__(
        self,
        camera_id: str,
        rules: RulesConfig | None = None,
        *,
        rekey_s: float = 5.0,
        rekey_iou: float = 0.3,
        id_factory: Callable[[], str] = new_id,
        wall_clock: Callable[[], str] = _utc_now,
    ) -> None:
        self.camera_id = camera_id
        self.rules = rules or RulesConfig()
        self.rekey_s = rekey_s
        self.rekey_iou = rekey_iou
        self._new_id = id_factory
        self._clock = wall_clock
        self._frame = 0
        self._limits: dict[str, _Limits] = {}
        self._candidates: dict[tuple[str, str], _Candidate] = {}
        self._incidents: list[_Incident] = []
        self._by_key: dict[tuple[str, str], _Incident] = {}

    @property
    def open_incidents(self) -> int:
        return len(self._incidents)

    def limits(self, incident_type: str) -> _Limits:
        limits = self._limits.get(incident_type)
        if limits is None:
            name = RULE_OF_TYPE.get(incident_type)
            cfg = getattr(self.rules, name) if name else _Rule()  # an unknown type gets the defaults
            limits = _Limits(cfg.confirm_frames, cfg.end_after_s, cfg.heartbeat_s)
            self._limits[incident_type] = limits
        return limits

    def update(self, pts: float, signals: Iterable[Signal]) -> list[IncidentEvent]:
        """Events caused by one analysed frame's signals (ends first, then updates, then new incidents)."""
        self._frame += 1
        best: dict[tuple[str, str], Signal] = {}
        for s in signals:
            k = (s.type, s.key)
            if k not in best or s.confidence > best[k].confidence:
                best[k] = s
        seen: dict[int, Signal] = {}  # id(incident) -> its strongest signal this frame
        loose: list[Signal] = []
        for k, s in best.items():
            inc = self._by_key.get(k)
            if inc is None:
                loose.append(s)
            elif id(inc) not in seen or s.confidence > seen[id(inc)].confidence:
                seen[id(inc)] = s
        fresh: list[Signal] = []
        for s in loose:
            inc = self._continuation(s, pts, seen)
            if inc is None:
                fresh.append(s)
            else:
                inc.keys.add(s.key)
                self._by_key[(s.type, s.key)] = inc
                self._candidates.pop((s.type, s.key), None)
                seen[id(inc)] = s
        ends, updates, news = [], [], []
        for inc in list(self._incidents):
            s = seen.get(id(inc))
            if s is not None:
                event = self._apply(inc, s, pts)
                if event is not None:
                    updates.append(event)
            elif pts - inc.last_s >= self.limits(inc.type).end_after_s - 1e-9:
                ends.append(self._end(inc))
        for s in fresh:
            event = self._candidate(s, pts)
            if event is not None:
                news.append(event)
        self._candidates = {k: c for k, c in self._candidates.items() if c.frame == self._frame}
        return ends + updates + news

    def flush(self, pts: float) -> list[IncidentEvent]:
        """End every open incident (end of stream); ``pts`` is the stream's last time."""
        events = [self._end(inc, min(inc.last_s, pts)) for inc in list(self._incidents)]
        self._candidates.clear()
        return events

    # --- internals ---------------------------------------------------------------------------------------

    def _continuation(self, s: Signal, pts: float, seen: dict[int, Signal]) -> _Incident | None:
        """An ongoing incident that ``s`` continues after an id switch, if any (best overlap wins)."""
        best, best_score = None, -1.0
        for inc in self._incidents:
            if inc.type != s.type or id(inc) in seen or pts - inc.last_s > self.rekey_s:
                continue
            iou = _iou(s.bbox, inc.bbox)
            if (iou > self.rekey_iou or _centre_inside(s.bbox, inc.bbox)) and iou > best_score:
                best, best_score = inc, iou
        return best

    def _candidate(self, s: Signal, pts: float) -> IncidentEvent | None:
        k = (s.type, s.key)
        c = self._candidates.get(k)
        if c is None or c.frame != self._frame - 1:
            c = _Candidate(first_s=pts, count=0, frame=self._frame, confidence=0.0)
        c.count += 1
        c.frame = self._frame
        c.confidence += (s.confidence - c.confidence) / c.count  # mean of the confirming run
        self._candidates[k] = c
        if c.count < self.limits(s.type).confirm_frames:
            return None
        del self._candidates[k]
        inc = _Incident(
            incident_id=self._new_id(),
            type=s.type,
            start_s=c.first_s,
            last_s=pts,
            bbox=s.bbox,
            confidence=c.confidence,
            severity=s.severity,
            details=dict(s.details),
            keys={s.key},
        )
        self._incidents.append(inc)
        self._by_key[k] = inc
        return self._event(inc, "new", pts)

    def _apply(self, inc: _Incident, s: Signal, pts: float) -> IncidentEvent | None:
        inc.last_s = pts
        inc.bbox = s.bbox
        inc.details = dict(s.details)
        inc.confidence += CONFIDENCE_SMOOTHING * (s.confidence - inc.confidence)
        inc.severity = max(inc.severity, s.severity)
        changed = (
            inc.severity != inc.reported_severity
            or abs(inc.confidence - inc.reported_confidence) > CONFIDENCE_STEP
            or pts - inc.reported_s >= self.limits(inc.type).heartbeat_s - 1e-9
        )
        return self._event(inc, "update", pts) if changed else None

    def _end(self, inc: _Incident, end_s: float | None = None) -> IncidentEvent:
        self._incidents.remove(inc)
        for key in inc.keys:
            self._by_key.pop((inc.type, key), None)
        return self._event(inc, "end", inc.last_s, end_s=inc.last_s if end_s is None else end_s)

    def _event(self, inc: _Incident, state: IncidentState, pts: float, end_s: float | None = None) -> IncidentEvent:
        event = IncidentEvent(
            event_id=self._new_id(),
            incident_id=inc.incident_id,
            sequence=inc.sequence,
            state=state,
            type=inc.type,
            camera_id=self.camera_id,
            start_s=float(inc.start_s),
            end_s=None if state != "end" else float(end_s if end_s is not None else pts),
            bbox=tuple(float(v) for v in inc.bbox),  # type: ignore[arg-type]
            confidence=round(float(inc.confidence), 4),
            severity=int(inc.severity),
            details=dict(inc.details),
            wall_time=self._clock(),
        )
        inc.sequence += 1
        inc.reported_s = pts
        inc.reported_confidence = inc.confidence
        inc.reported_severity = inc.severity
        return event
