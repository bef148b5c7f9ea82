"""Real clips for the end-to-end tests; skipped when ../shared/data is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pipeline.helpers import write_reversed

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """``../shared/data`` beside the repo."""
    if not DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return DATA


@pytest.fixture(scope="session")
def ua_detrac(data_dir: Path) -> Path:
    path = data_dir / "ua_detrac_evadb" / "ua_detrac.mp4"
    if not path.is_file():
        pytest.skip(f"{path} is not present")
    return path


@pytest.fixture(scope="session")
def ua_detrac_reversed(ua_detrac: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The UA-DETRAC clip played backwards: every car now drives against its lane."""
    return write_reversed(ua_detrac, tmp_path_factory.mktemp("reversed") / "ua_detrac_reversed.mp4")
