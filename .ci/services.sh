#!/usr/bin/env bash
# Debian packages the test suite needs (Debian 12 "bookworm"); CI runs this before .ci/run.
# Tests that need a package skip with a reason when it is missing, so a developer
# machine without them still passes; CI must install them so those tests run.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq

# --- sources (tests/sources): a real RTSP server on 127.0.0.1 ---------------------------
# GStreamer's gst-rtsp-server, driven by tests/sources/rtsp_server.py under the SYSTEM
# python3 (/usr/bin/python3 with PyGObject; the venv has no gi). Elements used: filesrc,
# queue (core), qtdemux, rtph264pay, rtpbin, udpsink (-good), h264parse (-bad).
$SUDO apt-get install -y -qq --no-install-recommends \
    python3 python3-gi gir1.2-gst-rtsp-server-1.0 \
    gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
