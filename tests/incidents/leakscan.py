"""Run ``../shared/tools/leak_scan.py``, the independent face-leak scanner, over written media (see LEAK_SCAN.md)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[2].parent / "shared" / "tools"
LEAK_VENV = Path(
    os.environ.get("VIGIL_LEAK_SCAN_PYTHON", Path(__file__).resolve().parents[2] / ".leak-venv" / "bin" / "python")
)


def leak_scan(media: Path, report: Path) -> dict:
    """The scanner's summary over every file under ``media``; skips (fails in CI) when it is not installed."""
    scanner = TOOLS / "leak_scan.py"
    if not LEAK_VENV.is_file() or not scanner.is_file():
        if os.environ.get("VIGIL_REQUIRE_LEAK_SCAN"):
            pytest.fail(f"leak scanner required but {LEAK_VENV} or {scanner} is missing (.ci/leak-scan.sh)")
        pytest.skip(f"leak scanner venv {LEAK_VENV} not installed (see .ci/leak-scan.sh)")
    proc = subprocess.run(
        [str(LEAK_VENV), str(scanner), str(media), "--json", str(report)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, f"leak_scan exit {proc.returncode}: {proc.stdout[-2000:]} {proc.stderr[-2000:]}"
    return json.loads(report.read_text())["summary"] if report.is_file() else {}
