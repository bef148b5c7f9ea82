"""Event-level matching of reported incidents to labels.

The rule
--------
* A reported incident of type T **matches** a label of type T when its start
  (``start_s``, the stream time its condition began) lies in
  ``[label.start - TOLERANCE_S, label.end]``, with ``TOLERANCE_S`` = 1 s for
  the hand-read label times. Each label matches at most once: the earliest
  matching incident. It is then **detected**, and its **time to detect** is the
  stream time at which the ``new`` event was emitted minus ``label.start``
  (never negative: a report within the tolerance before the label counts as 0).
* A further incident of type T inside an already detected label's window is a
  **duplicate**; it is counted as a false alarm (an operator sees it as a
  second incident) and listed apart.
* An incident of type T that matches no label of type T is a **false alarm**.
  It is also a **wrong-type alarm** when its start lies in the window of a
  label of another type (a collision reported as a stopped vehicle), or in the
  window of a ``not`` item of type T (dust after a crash reported as smoke).
* **False alarms per camera-hour** = false alarms / hours of video analysed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from vigil.evaluation.labels import ClipLabels, Label

TOLERANCE_S = 1.0


@dataclass(frozen=True)
class Reported:
    """One incident as the pipeline reported it."""

    type: str
    start_s: float
    reported_s: float  # stream time of the frame that emitted its ``new`` event
    incident_id: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Detection:
    label: Label
    incident: Reported | None

    @property
    def delay_s(self) -> float | None:
        if self.incident is None:
            return None
        return max(0.0, self.incident.reported_s - self.label.start)


@dataclass
class ClipResult:
    """What one clip's run matched, per label and per incident."""

    clip: str
    video_s: float
    detections: list[Detection] = field(default_factory=list)
    false_alarms: list[Reported] = field(default_factory=list)
    duplicates: list[Reported] = field(default_factory=list)
    wrong_type: list[tuple[Reported, Label]] = field(default_factory=list)
    forbidden: list[Label] = field(default_factory=list)  # the ``not`` items that were reported anyway

    def as_dict(self) -> dict[str, Any]:
        return {
            "clip": self.clip,
            "video_s": round(self.video_s, 2),
            "labels": [
                {
                    "type": d.label.type,
                    "start": d.label.start,
                    "end": d.label.end,
                    "detected": d.incident is not None,
                    "time_to_detect_s": None if d.delay_s is None else round(d.delay_s, 2),
                    "incident_start_s": None if d.incident is None else round(d.incident.start_s, 2),
                }
                for d in self.detections
            ],
            "false_alarms": [_brief(r) for r in self.false_alarms],
            "duplicates": [_brief(r) for r in self.duplicates],
            "wrong_type": [
                {**_brief(r), "label": {"type": lab.type, "start": lab.start, "not": lab in self.forbidden}}
                for r, lab in self.wrong_type
            ],
        }


def _brief(r: Reported) -> dict[str, Any]:
    return {"type": r.type, "start_s": round(r.start_s, 2), "reported_s": round(r.reported_s, 2)}


def _inside(r: Reported, label: Label) -> bool:
    return label.start - TOLERANCE_S <= r.start_s <= label.end


def match_clip(clip: ClipLabels, reported: Iterable[Reported], video_s: float) -> ClipResult:
    """Match one clip's incidents to its labels by the rule in this module's docstring."""
    result = ClipResult(clip.name(), video_s)
    incidents = sorted(reported, key=lambda r: (r.start_s, r.reported_s))
    used: set[int] = set()
    for label in sorted(clip.incidents, key=lambda lab: lab.start):
        hit = next(
            (k for k, r in enumerate(incidents) if k not in used and r.type == label.type and _inside(r, label)), None
        )
        if hit is not None:
            used.add(hit)
        result.detections.append(Detection(label, None if hit is None else incidents[hit]))
    detected = [d.label for d in result.detections if d.incident is not None]
    for k, r in enumerate(incidents):
        if k in used:
            continue
        result.false_alarms.append(r)
        if any(lab.type == r.type and _inside(r, lab) for lab in detected):
            result.duplicates.append(r)
            continue
        other = next((lab for lab in clip.incidents if lab.type != r.type and _inside(r, lab)), None)
        forbidden = next((lab for lab in clip.not_ if lab.type == r.type and _inside(r, lab)), None)
        if forbidden is not None:
            result.forbidden.append(forbidden)
            result.wrong_type.append((r, forbidden))
        elif other is not None:
            result.wrong_type.append((r, other))
    return result
