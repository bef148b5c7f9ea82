"""Configuration of the object and face detectors (strict pydantic models)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vigil.assets import NANODET_INT8_PATH, NANODET_PATH

DetectorType = Literal["nanodet", "yolox", "yolov8", "rtdetr"]


class DetailConfig(BaseModel):
    """Windows at native resolution where small road users move (see :mod:`vigil.detection.detail`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(
        True,
        title="Detail windows",
        description="Besides the whole frame at the model's input size, run the detector on a few windows at the "
        "frame's own resolution around small moving or tracked objects. A window has the size of the model's "
        "input, so it costs one whole-frame pass and runs in the same batch. Off: the whole frame only.",
    )
    max_windows: int = Field(
        1,
        ge=0,
        le=8,
        title="Windows per frame",
        description="At most this many windows per analysed frame. One keeps about 60% of the recall gain of "
        "two at about two thirds of the cost (docs/detection.md).",
    )
    small_px: float = Field(
        40.0,
        gt=0,
        title="Small object (px)",
        description="An object or moving blob whose long side is below this many pixels at the model's input "
        "scale is small: it gets a window when the frame is larger than the model's input.",
    )
    min_gain: float = Field(
        1.4,
        ge=1.0,
        title="Least resolution gain",
        description="Windows are used only when they see the frame at least this many times larger than the whole-"
        "frame pass does (frames near the model's input size are already seen at full detail).",
    )


class GroupThresholds(BaseModel):
    """Tracker score thresholds for one class group (a detector scores people and vehicles differently)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    high_threshold: float = Field(
        ge=0, le=1, title="High score", description="Detections of the group at or above this match first."
    )
    new_track_threshold: float = Field(
        ge=0, le=1, title="New track score", description="A detection of the group starts a track at this score."
    )


class TrackingProfile(BaseModel):
    """Score thresholds of the tracker for one detector, calibrated on labelled video.

    Detectors differ in how they score the same object (NanoDet's GFL head scores lower than a YOLOX-style
    head), so the tracker's thresholds travel with the detector: a site bringing its own ONNX model sets
    its own profile.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    high_threshold: float = Field(
        0.5, ge=0, le=1, title="High score", description="Detections at or above this take part in the first match."
    )
    low_threshold: float = Field(
        0.1,
        ge=0,
        le=1,
        title="Low score",
        description="Detections between this and the high score only keep running tracks alive.",
    )
    new_track_threshold: float = Field(
        0.6, ge=0, le=1, title="New track score", description="An unmatched detection starts a track at this score."
    )
    by_group: dict[str, GroupThresholds] = Field(
        default_factory=dict,
        title="Per class group",
        description="High and new-track scores for class groups (person, vehicle, two-wheeler, animal; see "
        "vigil.detection.coco.CLASS_GROUPS) that the detector scores differently from the rest.",
    )


class ObjectDetectorConfig(BaseModel):
    """Which object detector runs, on which device, with which thresholds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: DetectorType = Field(
        "nanodet",
        title="Detector type",
        description="Plugin that decodes the model's outputs: the bundled NanoDet-g, or a user ONNX "
        "export in YOLOX, YOLOv8-style or RT-DETR/D-FINE layout.",
    )
    model_path: Path | None = Field(
        None,
        title="ONNX model file",
        description="Path to the ONNX file. Empty for the bundled NanoDet-g; required for other types.",
    )
    labels: tuple[str, ...] | None = Field(
        None,
        title="Class names",
        description="Class names in model order. Empty means the 80 COCO classes.",
    )
    input_size: tuple[int, int] | None = Field(
        None,
        title="Input size (width, height)",
        description="Network input size; empty reads it from the model (416x416 for NanoDet-g).",
    )
    letterbox: bool | None = Field(
        None,
        title="Letterbox",
        description="Keep the aspect ratio and pad (True) or stretch (False). Empty uses the type's default.",
    )
    score_threshold: float = Field(
        0.1,
        ge=0.0,
        le=1.0,
        title="Score threshold",
        description="Detections below this score are dropped. Low on purpose: the tracker keeps tracks alive with "
        "low-score boxes, and redaction and rules apply their own, higher thresholds.",
    )
    nms_iou: float = Field(
        0.6,
        gt=0.0,
        le=1.0,
        title="NMS IoU",
        description="Overlap above which a lower-scored box of the same class is dropped.",
    )
    device: Literal["cpu", "cuda", "tensorrt", "auto"] = Field(
        "cpu", title="Device", description="Execution provider; a device asked for but not available is an error."
    )
    threads: int | None = Field(
        None,
        ge=1,
        title="CPU threads",
        description="onnxruntime intra-op threads of the detector's session; empty uses all cores, or in `vigil run` "
        "the cores shared out among the workers.",
    )
    workers: int | None = Field(
        None,
        ge=1,
        le=64,
        title="Detector workers",
        description="Batches `vigil run` detects at the same time, each in its own thread. Empty: one per CPU core on "
        "the CPU (then each runs on one intra-op thread: two single-threaded runs side by side did 1.25x the frames "
        "of one run on two threads, measured on 2 cores), one on a GPU, which gains from full batches instead.",
    )
    precision: Literal["auto", "fp32", "int8"] = Field(
        "auto",
        title="Precision",
        description="Numeric precision of the bundled NanoDet-g. int8 (quantised for CPUs, docs/detection.md) needs "
        "about 0.6x the CPU of fp32 per analysed frame, with scores within about 0.03 and the same incidents found "
        "on the development clips; auto takes int8 on the CPU and fp32 on a GPU. A model_path of your own runs as "
        "it is: quantise it offline.",
    )
    detail: DetailConfig = Field(
        default_factory=DetailConfig,
        title="Detail",
        description="Windows at native resolution around small movers, for frames larger than the model's input.",
    )
    tracking: TrackingProfile | None = Field(
        None,
        title="Tracking profile",
        description="The tracker's score thresholds for this detector; empty uses the type's calibrated defaults "
        "(PROFILES in vigil.detection.config).",
    )

    @model_validator(mode="after")
    def _model_needed(self) -> ObjectDetectorConfig:
        if self.type != "nanodet" and self.model_path is None:
            raise ValueError(f"model_path is required for detector type {self.type!r}")
        if self.precision == "int8" and self.model_path is not None:
            raise ValueError("precision: int8 applies to the bundled NanoDet-g; quantise your own model_path offline")
        return self

    def resolved_model_path(self) -> Path:
        """The configured model, else the bundled NanoDet-g in the precision asked for."""
        if self.model_path is not None:
            return self.model_path
        if self.precision == "auto":
            from vigil.runtime import resolve_providers  # auto: int8 where the session runs on the CPU

            return NANODET_INT8_PATH if resolve_providers(self.device)[0] == "CPUExecutionProvider" else NANODET_PATH
        return NANODET_INT8_PATH if self.precision == "int8" else NANODET_PATH

    def pool_plan(self, cores: int | None = None) -> tuple[int, int]:
        """(workers, intra-op threads per worker) for the shared detector of `vigil run`.

        Explicit ``workers`` and ``threads`` are kept; otherwise the CPU's cores
        are shared out (at least one thread each) and a GPU gets one worker.
        """
        from vigil.runtime import cpu_cores, resolve_providers

        cores = cores or cpu_cores()
        on_cpu = resolve_providers(self.device)[0] == "CPUExecutionProvider"
        workers = self.workers or (cores if on_cpu else 1)
        threads = self.threads or max(1, cores // workers)
        return workers, threads

    def tracking_profile(self) -> TrackingProfile:
        """The configured tracking profile, or the calibrated default of this detector type."""
        return self.tracking or PROFILES.get(self.type, TrackingProfile())


#: Calibrated tracker thresholds per detector type. YOLOX-, YOLOv8- and RT-DETR-style heads keep
#: ByteTrack's published thresholds (the TrackingProfile defaults).
#:
#: NanoDet-g: chosen by benchmarks/tracking/bench_tracking.py on PETS09-S2L1 (py-motmetrics, the
#: real pipeline with motion gate and detail windows, 5 and 10 analytic fps) on the first half of the
#: clip only, by (MOTA + IDF1) / 2; figures in docs/detection.md. End to end over the whole clip,
#: ByteTrack's 0.5 / 0.1 / 0.6 -> these: MOTA 0.691 -> 0.796 and IDF1 0.703 -> 0.728 at 5 fps,
#: MOTA 0.793 -> 0.814 and IDF1 0.690 -> 0.712 at 10 fps. NanoDet scores people on PETS09 high
#: enough that lower thresholds gain little recall but confirm background as "person" tracks
#: (high 0.4 / new 0.4: 6x the false positives); a low of 0.2 beat 0.1 almost everywhere.
#:
#: PETS09 has tracking ground truth for people only. NanoDet scores vehicles, two-wheelers and animals
#: lower than people (cars 0.4-0.6, motorcycles 0.2-0.65 on the dev clips), and at a new-track score of
#: 0.65 the street collision's car and motorcycle were never tracked. Their thresholds were chosen with
#: `vigil eval` on the development clips and the incident-free footage (benchmarks/incidents), sweeping
#: high/new over 0.35/0.4 .. 0.45/0.65: 0.45/0.5 and 0.45/0.55 found the most (the street collision,
#: the cow within 0.8-1.2 s) with no false alarm; 0.4/0.45 and lower added false alarms (a collision on
#: UA-DETRAC, an animal); 0.65 lost the collision and found the cow 7.8 s late. The lower end is taken.
_NANODET_ROAD = GroupThresholds(high_threshold=0.45, new_track_threshold=0.5)
PROFILES: dict[str, TrackingProfile] = {
    "nanodet": TrackingProfile(
        high_threshold=0.45,
        low_threshold=0.2,
        new_track_threshold=0.65,
        by_group={"vehicle": _NANODET_ROAD, "two-wheeler": _NANODET_ROAD, "animal": _NANODET_ROAD},
    ),
}
