"""Redaction settings (strict pydantic; every field titled and described)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vigil.detection.config import ObjectDetectorConfig


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FaceConfig(_Strict):
    """CenterFace settings and the scale at which it searches."""

    enabled: bool = Field(True, title="Detect faces", description="Run the face detector.")
    threshold: float = Field(
        0.085, gt=0, le=1, title="Face threshold", description="Minimum detector score; lower finds more small faces."
    )
    min_long_side: int = Field(
        800,
        ge=64,
        title="Upscale small images to",
        description="Images whose long side is shorter are enlarged to this size before the face search, so "
        "that small faces keep enough pixels.",
    )
    max_upscale: float = Field(
        3.0, ge=1, title="Maximum upscale", description="Upper bound of the enlargement of small images."
    )
    tile_above: int = Field(
        2000,
        ge=256,
        title="Tile frames larger than",
        description="Frames whose long side exceeds this are searched in overlapping tiles at full resolution.",
    )
    tile_size: int = Field(1024, ge=128, title="Tile size", description="Tile side in pixels.")
    precision: Literal["auto", "fp32", "int8"] = Field(
        "auto",
        title="Face model precision",
        description="Which CenterFace weights run. int8: the statically quantised model (QDQ, made by "
        "tools/quantize/quantize_centerface.py): about 2x less CPU on the face photos of docs/redaction.md (a VNNI "
        "CPU), with slightly lower recall of the smallest faces; fp32: the original weights. auto: int8 when the "
        "face detector runs on the CPU, fp32 on cuda/tensorrt (the QDQ model is made for onnxruntime's CPU kernels).",
    )
    pad: tuple[float, float, float, float] = Field(
        (0.12, 0.05, 0.12, 0.2),
        title="Face padding (left, top, right, bottom)",
        description="Margin added to each side of a face box, as a fraction of its width (left, right) or height "
        "(top, bottom). CenterFace's boxes start at the brow and stop short of the chin, so the bottom needs most.",
    )
    pad_px: tuple[float, float, float, float] = Field(
        (1.0, 1.0, 2.0, 2.0),
        title="Face padding in pixels (left, top, right, bottom)",
        description="Pixels added to each side on top of the fractional padding; what matters for faces of a few "
        "pixels, whose boxes are off by a pixel or two.",
    )

    @field_validator("pad", "pad_px")
    @classmethod
    def _non_negative(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if any(x < 0 or x > 64 for x in v):
            raise ValueError("padding must be between 0 and 64 on every side")
        return v


class HeadConfig(_Strict):
    """Head regions derived from person detections."""

    enabled: bool = Field(True, title="Redact heads", description="Obscure the head region of every person.")
    person_threshold: float = Field(
        0.4,
        gt=0,
        le=1,
        title="Person threshold",
        description="Minimum detector score of a person box that gets a head region.",
    )
    pad: float = Field(
        0.15, ge=0, le=1, title="Head padding", description="Margin around the head, fraction of its size."
    )
    skip_if_face_score: float = Field(
        0.5,
        gt=0,
        le=1,
        title="Face score that replaces a head box",
        description="A head box is left out only when a face at least this confident covers it; weaker faces "
        "(e.g. a false face on the hair of someone turned away) never cancel a head box.",
    )


class PlateConfig(_Strict):
    """Licence plate regions."""

    enabled: bool = Field(True, title="Redact plates", description="Obscure licence plates.")
    vehicle_threshold: float = Field(
        0.2,
        gt=0,
        le=1,
        title="Vehicle threshold",
        description="Minimum detector score of a vehicle box searched for plates. Low, because a car seen close "
        "up (the plate large in the frame) often scores only 0.2-0.3.",
    )
    locator: Literal["text+classical", "classical", "text"] = Field(
        "text+classical",
        title="Plate locator",
        description="text+classical: plate-like text boxes (PP-OCRv6 text detection, never recognition) and the "
        "classical character-row locator, both on every vehicle; classical: the character-row locator alone; "
        "text: text boxes, with the classical locator only for vehicles where no plate-like text was found.",
    )
    search_whole_frame: bool = Field(
        False,
        title="Search frames without vehicles",
        description="Also look for plates in frames where no vehicle was detected (finds plates of vehicles the "
        "detector missed, at the cost of false boxes on signs and textures).",
    )


class VideoConfig(_Strict):
    """How detections carry between frames of a video."""

    detect_every: int = Field(
        3,
        ge=1,
        le=10,
        title="Detect every N frames",
        description="Run the detectors on every Nth frame; frames between two detection frames are covered by "
        "both frames' regions joined along their motion. 1 detects on every frame.",
    )
    memory: int = Field(
        2,
        ge=0,
        title="Memory (detection frames)",
        description="A region not found again stays covered for this many more detection frames.",
    )
    change_threshold: int = Field(
        15,
        ge=1,
        le=255,
        title="Change threshold (grey levels)",
        description="A frame between two detection frames is compared with both, in cells of a few pixels; a "
        "cell whose mean grey level differs from both by more than this, outside the regions already obscured, "
        "makes the frame get a detection of its own there (a cut, a pan, a fast motion). Lower is safer and "
        "slower.",
    )


class RedactionConfig(_Strict):
    """Everything the redaction stage needs."""

    method: Literal["blur", "pixelate", "fill"] = Field(
        "blur", title="Method", description="How regions are obscured; all are irreversible."
    )
    strength: int = Field(
        5, ge=1, le=32, title="Strength", description="Cells across a region's short side; lower is stronger."
    )
    faces: FaceConfig = Field(default_factory=FaceConfig, title="Faces", description="Face detection.")
    heads: HeadConfig = Field(default_factory=HeadConfig, title="Heads", description="Head regions of people.")
    plates: PlateConfig = Field(default_factory=PlateConfig, title="Plates", description="Licence plates.")
    video: VideoConfig = Field(default_factory=VideoConfig, title="Video", description="Temporal settings.")
    detector: ObjectDetectorConfig = Field(
        default_factory=ObjectDetectorConfig,
        title="Object detector",
        description="Finds people and vehicles for head and plate regions.",
    )
    timeout_s: float | None = Field(
        10.0,
        gt=0,
        title="Detection timeout (s)",
        description="A frame whose detection takes longer is obscured whole (fail closed). Given for a frame of "
        "1920x1080 or smaller; larger frames get it in proportion to their pixels (4K: four times), as their "
        "faces are searched in tiles at full resolution. Empty disables.",
    )
