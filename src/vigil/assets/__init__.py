"""Model files shipped inside the package (no download at run time)."""

from __future__ import annotations

from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent / "models"
CENTERFACE_PATH = MODELS_DIR / "centerface" / "centerface.onnx"
CENTERFACE_INT8_PATH = MODELS_DIR / "centerface" / "centerface-int8.onnx"
NANODET_PATH = MODELS_DIR / "nanodet" / "nanodet-g-416.onnx"
#: The same network quantised to int8 for CPUs (tools/quantize/quantize_nanodet.py).
NANODET_INT8_PATH = MODELS_DIR / "nanodet" / "nanodet-g-416-int8.onnx"
NANODET_INT8_SHA256 = "65c49145b0109bf97c8125a22fd8994baad3897d74a44f9ce905bcab9ee544e3"
PPOCR_DET_PATH = MODELS_DIR / "ppocr_det" / "PP-OCRv6_det_small.onnx"
PPOCR_DET_SHA256 = "090f04abcd9d9a7498bc4ebf677e4cb9bdce1fe4197ddb7e529f1ef44e1ff94f"
SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
SAMPLE_CLIP = SAMPLES_DIR / "one-by-one-person-detection.mp4"
DEMO_CONFIG = SAMPLES_DIR / "demo.yaml"
