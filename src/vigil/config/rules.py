"""Rule thresholds (global defaults, overridable per camera)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, title="Enabled", description="Whether this rule runs.")
    confirm_frames: int = Field(
        3,
        ge=1,
        title="Confirmation frames",
        description="Analysed frames in a row the condition must hold before firing.",
    )
    end_after_s: float = Field(
        5.0, ge=0, title="End after (s)", description="The incident ends once the condition has been false this long."
    )
    severity: int = Field(3, ge=1, le=5, title="Severity", description="1 (info) to 5 (critical).")
    heartbeat_s: float = Field(
        30.0,
        gt=0,
        title="Heartbeat (s)",
        description="An ongoing incident is re-sent this often even when nothing changed.",
    )


class StoppedVehicleRule(_Rule):
    """A vehicle that stays still inside a roadway zone."""

    min_stopped_s: float = Field(
        20.0, gt=0, title="Stopped for (s)", description="Seconds without moving before firing."
    )
    max_speed: float = Field(
        0.05,
        gt=0,
        title="Still speed",
        description="Speed below which a vehicle counts as still, in its own lengths/s.",
    )


class WrongWayRule(_Rule):
    """A vehicle moving against the lane direction of its roadway zone."""

    min_travel: float = Field(
        1.5,
        gt=0,
        title="Travel",
        description="Distance (in the vehicle's lengths) moved against the lane before firing.",
    )
    max_angle_deg: float = Field(
        60.0, gt=0, le=90, title="Angle", description="Largest angle from the reverse lane direction still counted."
    )
    window_s: float = Field(
        3.0,
        gt=0,
        le=10,
        title="Window (s)",
        description="Recent time over which the travel against the lane is measured.",
    )


class PedestrianRule(_Rule):
    """A person on foot where people must not be, or down or staying on an urban street."""

    zone_kinds: tuple[str, ...] = Field(
        ("roadway", "tracks", "restricted"), title="Zone kinds", description="Zone kinds a person must not be in."
    )
    min_dwell_s: float = Field(1.0, ge=0, title="Dwell (s)", description="Seconds inside the zone before firing.")
    street_still_s: float = Field(
        15.0,
        gt=0,
        title="Still on a street (s)",
        description="On a street zone (which people cross), a person is reported only once down, or after "
        "standing still on it this long.",
    )
    still_speed: float = Field(
        0.1,
        gt=0,
        title="Still speed",
        description="A person moving slower than this (own lengths/s) is standing still.",
    )
    down_s: float = Field(
        1.0,
        ge=0,
        title="Down for (s)",
        description="A person seen upright who has been lying down (box wider than tall) this long, on a roadway "
        "or street zone, is reported at once (no dwell).",
    )
    severity: int = Field(4, ge=1, le=5, title="Severity", description="1 (info) to 5 (critical).")


class AnimalRule(_Rule):
    """An animal on the carriageway."""

    zone_kinds: tuple[str, ...] = Field(
        ("roadway", "street", "tracks"), title="Zone kinds", description="Zone kinds where an animal is an incident."
    )
    min_dwell_s: float = Field(
        1.0, ge=0, title="Dwell (s)", description="Seconds the animal is inside the zone before firing."
    )
    severity: int = Field(4, ge=1, le=5, title="Severity", description="1 (info) to 5 (critical).")


class CollisionRule(_Rule):
    """Contact between a vehicle and another road user, then an abrupt stop or a fall."""

    contact_iou: float = Field(
        0.05, gt=0, le=1, title="Contact overlap", description="Box overlap (IoU) that counts as contact."
    )
    contact_overlap: float = Field(
        0.3,
        gt=0,
        le=1,
        title="Contact cover",
        description="Share of the smaller box covered by the other that also counts as contact (small vs large).",
    )
    contact_gap: float = Field(
        0.2,
        ge=0,
        title="Contact gap",
        description="Boxes this close (share of the smaller box's shorter side) also touch: at a few analysed "
        "frames a second the frame of the impact itself is seldom among them. 0 asks for overlapping boxes.",
    )
    min_speed: float = Field(
        0.5,
        ge=0,
        title="Moving speed",
        description="Speed before contact (own lengths/s) above which a stop afterwards counts as abrupt.",
    )
    decel_ratio: float = Field(
        0.3, gt=0, lt=1, title="Abrupt stop", description="Speed after contact below this share of the speed before."
    )
    window_s: float = Field(
        1.2,
        gt=0,
        title="Window (s)",
        description="Time after the contact in which its consequence (stop, deflection, fall) must show. A crash "
        "stops or throws a vehicle at once; a car that slows to a halt behind another over two seconds is queueing.",
    )
    severity: int = Field(5, ge=1, le=5, title="Severity", description="1 (info) to 5 (critical).")
    confirm_frames: int = Field(1, ge=1, title="Confirmation frames", description="Frames the condition must hold.")


class FireRule(_Rule):
    """Fire and smoke from the fire detector (classical baseline or an ONNX model)."""

    min_score: float = Field(0.5, gt=0, le=1, title="Score", description="Detector score needed to count a frame.")
    model_path: str | None = Field(
        None, title="ONNX fire/smoke model", description="Optional ONNX model; empty uses the classical detector."
    )
    severity: int = Field(5, ge=1, le=5, title="Severity", description="1 (info) to 5 (critical).")


class CrowdRule(_Rule):
    """Too many people per area in a crowd zone."""

    max_density: float = Field(
        2.0, gt=0, title="Density", description="People per square metre (needs zone area_m2) or per 1% of the frame."
    )
    count_score: float = Field(
        0.6,
        ge=0,
        le=1,
        title="Counted detection score",
        description="People are counted from the tracks and from person detections at or above this score that no "
        "track covers: in a dense crowd many people are detected but never tracked (occlusions break tracks). "
        "Chosen on the first half of PETS09-S2L1 for the default detector (INT8 NanoDet on the CPU); with "
        "detector.precision: fp32 the best value there was 0.5.",
    )


class CongestionRule(_Rule):
    """Many slow vehicles in a roadway zone."""

    min_vehicles: int = Field(8, ge=1, title="Vehicles", description="Vehicles in the zone at once.")
    max_mean_speed: float = Field(
        0.3, gt=0, title="Mean speed", description="Mean speed (vehicle lengths/s) at or below which traffic is jammed."
    )
    min_duration_s: float = Field(10.0, ge=0, title="Duration (s)", description="Seconds the jam must last.")
    severity: int = Field(2, ge=1, le=5, title="Severity", description="1 (info) to 5 (critical).")


class RulesConfig(BaseModel):
    """Thresholds of every rule."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stopped_vehicle: StoppedVehicleRule = Field(
        default_factory=StoppedVehicleRule,
        title="Stopped vehicle",
        description="A vehicle that stays still inside a roadway zone.",
    )
    wrong_way: WrongWayRule = Field(
        default_factory=WrongWayRule,
        title="Wrong-way driving",
        description="A vehicle moving against its roadway zone's lane direction.",
    )
    pedestrian: PedestrianRule = Field(
        default_factory=PedestrianRule,
        title="Pedestrian in zone",
        description="A person inside a roadway, tracks or restricted zone.",
    )
    animal: AnimalRule = Field(
        default_factory=AnimalRule,
        title="Animal on the road",
        description="An animal (the COCO animal classes but birds) on a roadway, street or tracks zone.",
    )
    collision: CollisionRule = Field(
        default_factory=CollisionRule,
        title="Collision",
        description="Contact between a vehicle and another road user followed by an abrupt stop or fall.",
    )
    fire: FireRule = Field(
        default_factory=FireRule, title="Fire and smoke", description="Fire or smoke seen by the fire detector."
    )
    crowd: CrowdRule = Field(
        default_factory=CrowdRule, title="Crowd density", description="Too many people per area in a crowd-area zone."
    )
    congestion: CongestionRule = Field(
        default_factory=CongestionRule, title="Congestion", description="Many slow vehicles in a roadway zone."
    )

    def merged(self, overrides: dict | None) -> RulesConfig:
        """These thresholds with a camera's overrides applied field by field."""
        if not overrides:
            return self
        data = self.model_dump()
        for rule, values in overrides.items():
            data[rule] = {**data.get(rule, {}), **values}
        return RulesConfig.model_validate(data)
