"""Configuration of the object and face detectors (strict pydantic models)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vigil.assets import NANODET_PATH

DetectorType = Literal["nanodet", "yolox", "yolov8", "rtdetr"]


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
        None, ge=1, title="CPU threads", description="onnxruntime intra-op threads; empty uses all cores."
    )

    @model_validator(mode="after")
    def _model_needed(self) -> ObjectDetectorConfig:
        if self.type != "nanodet" and self.model_path is None:
            raise ValueError(f"model_path is required for detector type {self.type!r}")
        return self

    def resolved_model_path(self) -> Path:
        return self.model_path or NANODET_PATH
