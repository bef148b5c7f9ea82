"""Model files shipped inside the package (no download at run time)."""

from __future__ import annotations

from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent / "models"
CENTERFACE_PATH = MODELS_DIR / "centerface" / "centerface.onnx"
NANODET_PATH = MODELS_DIR / "nanodet" / "nanodet-g-416.onnx"
SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
SAMPLE_CLIP = SAMPLES_DIR / "one-by-one-person-detection.mp4"
DEMO_CONFIG = SAMPLES_DIR / "demo.yaml"
