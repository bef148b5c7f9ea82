"""The one set of static-quantisation settings both INT8 models are made with (shared by the tools here)."""

from __future__ import annotations

from pathlib import Path

from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static


def quantize_qdq(model: Path, out: Path, reader: CalibrationDataReader, exclude: list[str]) -> None:
    """QDQ, per-channel int8 weights, uint8 activations, MinMax calibration; ``exclude`` stays fp32."""
    quantize_static(
        str(model),
        str(out),
        reader,
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
        nodes_to_exclude=exclude,
    )
