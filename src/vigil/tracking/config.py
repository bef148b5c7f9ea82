"""Tracker settings (strict pydantic; every field titled and described)."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from vigil.detection.config import GroupThresholds, ObjectDetectorConfig


class TrackerConfig(BaseModel):
    """ByteTrack-style association thresholds and track lifetimes for one camera.

    The defaults are ByteTrack's (Zhang et al. 2022): detections above
    ``high_threshold`` are matched first, the weaker ones only extend tracks that
    already exist, and only a clearly confident detection starts a new track.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    high_threshold: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        title="High score threshold",
        description="Detections at or above this score take part in the first association, with every track.",
    )
    low_threshold: float = Field(
        0.1,
        ge=0.0,
        le=1.0,
        title="Low score threshold",
        description="Detections between this and the high threshold only keep already running tracks alive "
        "(ByteTrack's second association, which recovers partly occluded objects); below it they are ignored.",
    )
    new_track_threshold: float = Field(
        0.6,
        ge=0.0,
        le=1.0,
        title="New track threshold",
        description="An unmatched detection starts a new (tentative) track only at or above this score, so that "
        "false positives rarely become tracks.",
    )
    match_iou: float = Field(
        0.2,
        gt=0.0,
        le=1.0,
        title="Match IoU",
        description="Minimum overlap between a track's predicted box and a high-score detection in the first "
        "association (ByteTrack's cost limit 0.8 = 1 - IoU).",
    )
    low_match_iou: float = Field(
        0.5,
        gt=0.0,
        le=1.0,
        title="Low-score match IoU",
        description="Minimum overlap for the second association with low-score detections; stricter because "
        "such detections are less reliable.",
    )
    tentative_match_iou: float = Field(
        0.3,
        gt=0.0,
        le=1.0,
        title="Tentative match IoU",
        description="Minimum overlap between a tentative (not yet confirmed) track and a remaining high-score "
        "detection.",
    )
    tentative_match_distance: float = Field(
        2.5,
        ge=0.0,
        title="Tentative match distance (box sizes)",
        description="A tentative track that overlaps no detection is matched by distance instead: to a "
        "detection of its class group and of a similar size (within 1.5x) whose centre lies within this many "
        "box sizes (square root of the area) of it. A small fast object, a car of 20 px at 5 analysed fps, moves "
        "more than its own length between frames, so its first two sightings never overlap; its velocity is then "
        "taken from the two sightings. 0 turns this off.",
    )
    running_match_distance: float = Field(
        1.0,
        ge=0.0,
        title="Running track match distance (box sizes)",
        description="A running track of the groups matched by distance that overlaps no detection enough (a car "
        "of 20 px moving 15 px per analysed frame misses the IoU gate on a few pixels of prediction error) takes a "
        "remaining high-score detection of its group and a similar size whose centre lies within this many box "
        "sizes of its predicted centre. 0 turns this off.",
    )
    distance_match_groups: tuple[str, ...] = Field(
        ("vehicle", "two-wheeler"),
        title="Class groups matched by distance",
        description="The class groups (see vigil.detection.coco) whose tentative tracks may be matched by "
        "distance: road users that can cover more than their length between analysed frames. People and "
        "animals cannot (a walker covers a fraction of a box width in 0.2 s), and in a crowd a distance match "
        "only joins two neighbours (on PETS09 it cost 9 more ID switches).",
    )
    tentative_miss_s: float = Field(
        0.3,
        ge=0.0,
        title="Tentative track patience (s)",
        description="A tentative track of the groups matched by distance is kept this many seconds of stream "
        "time without a sighting before it is dropped (0.3: one missed frame at 5 analysed fps). A small fast "
        "road user that the detector sees in every other frame, as NanoDet sees a motorcycle crossing a "
        "junction, is otherwise never confirmed. Other groups' tentative tracks are dropped at their first miss.",
    )
    min_hits: int = Field(
        2,
        ge=1,
        title="Frames to confirm",
        description="A new track is reported only after it was matched in this many frames (1 reports it at "
        "once). A tentative track that misses a frame is dropped, except as tentative_miss_s allows.",
    )
    track_buffer_s: float = Field(
        2.0,
        ge=0.0,
        title="Lost track buffer (s)",
        description="A confirmed track that is no longer detected is kept, coasting on its motion, this many "
        "seconds of stream time (pts) to take its object back after an occlusion; then it is forgotten.",
    )
    class_aware: bool = Field(
        True,
        title="Class aware",
        description="Match a detection only to a track of the same class, so that a car never continues a "
        "person's track. Off: class is ignored and a track takes the class of its latest detection.",
    )

    by_group: dict[str, GroupThresholds] = Field(
        default_factory=dict,
        title="Per class group",
        description="High and new-track thresholds that replace the two above for one class group (person, "
        "vehicle, two-wheeler, animal): detectors score groups differently.",
    )

    def thresholds_for(self, groups: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(N,) high and (N,) new-track thresholds for detections of these class groups."""
        high = np.full(len(groups), self.high_threshold, np.float32)
        new = np.full(len(groups), self.new_track_threshold, np.float32)
        for k, group in enumerate(groups):
            override = self.by_group.get(group)
            if override is not None:
                high[k], new[k] = override.high_threshold, override.new_track_threshold
        return high, new

    @classmethod
    def for_detector(cls, detector: ObjectDetectorConfig, **overrides: object) -> TrackerConfig:
        """The tracker settings calibrated for a detector (its tracking profile), with ``overrides``."""
        profile = detector.tracking_profile()
        return cls.model_validate({**profile.model_dump(), **overrides})

    @model_validator(mode="after")
    def _ordered(self) -> TrackerConfig:
        highs = [("", self.high_threshold)] + [(f" of {g}", t.high_threshold) for g, t in self.by_group.items()]
        for name, high in highs:
            if self.low_threshold > high:
                raise ValueError(f"low_threshold ({self.low_threshold}) must not exceed high_threshold{name} ({high})")
        return self
