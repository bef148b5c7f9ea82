#!/usr/bin/env bash
# Create the isolated venv deface runs from: .bench/deface-venv (relative to the repo root).
# deface 1.5.0 + onnx + onnxruntime. Without `onnx`, deface silently falls back to
# OpenCV's DNN backend (slower), so this script checks that onnx/onnxruntime import.
#
# usage: benchmarks/redaction/setup_deface.sh [VENV_DIR]   (env PYTHON=python3.11 to pick the interpreter)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${1:-$ROOT/.bench/deface-venv}"
PY="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/deface" ]; then
    mkdir -p "$(dirname "$VENV")"
    "$PY" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet "deface==1.5.0" onnx onnxruntime
fi

"$VENV/bin/python" - <<'PY'
import importlib.metadata as md
import onnx, onnxruntime  # noqa: F401  (deface needs BOTH for its onnxruntime backend)
print("deface", md.version("deface"), "| onnx", onnx.__version__, "| onnxruntime", onnxruntime.__version__)
if md.version("deface") != "1.5.0":
    raise SystemExit("expected deface 1.5.0")
PY
echo "deface venv ready: $VENV"
