"""``vigil eval``: event-level evaluation of the incident pipeline on labelled clips.

A site labels a few clips from its own cameras (:mod:`~vigil.evaluation.labels`),
draws each camera's zones once, and measures detection rate, time to detect,
false alarms per camera-hour and wrong-type alarms before going live
(:mod:`~vigil.evaluation.matching`, :mod:`~vigil.evaluation.runner`).
"""

from vigil.evaluation.labels import ClipLabels, Label, LabelFile, load_labels
from vigil.evaluation.matching import ClipResult, Reported, match_clip
from vigil.evaluation.runner import EvalReport, evaluate

__all__ = [
    "ClipLabels",
    "ClipResult",
    "EvalReport",
    "Label",
    "LabelFile",
    "Reported",
    "evaluate",
    "load_labels",
    "match_clip",
]
