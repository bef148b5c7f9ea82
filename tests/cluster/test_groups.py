"""Cluster mode without a cluster: the refusals (no Ray, SQLite), group planning and each group's config."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from tests.pipeline.test_runner_live import camera, write_config
from vigil.cli.main import main
from vigil.cluster import ClusterError, group_config, plan_groups, require_ray
from vigil.cluster.actor import orphan_end
from vigil.config import load_config
from vigil.storage.records import IncidentRecord


def _config(tmp_path: Path, n: int, **extra: object) -> Path:
    cams = [camera(f"cam-{i}", "clips/road.mp4") for i in range(n)]
    return write_config(tmp_path, cams, **extra)


def _use_postgres(path: Path) -> None:
    data = yaml.safe_load(path.read_text())
    data["storage"]["database_url"] = "postgresql+psycopg://vigil@127.0.0.1:1/vigil"  # never reached
    path.write_text(yaml.safe_dump(data))


def test_cluster_mode_refuses_sqlite_naming_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _config(tmp_path, 1)
    assert main(["run", "-c", str(path), "--cluster", "local", "--no-api"]) == 2
    err = capsys.readouterr().err
    assert "storage.database_url" in err and "PostgreSQL" in err and "sqlite" in err


def test_without_ray_the_flag_names_the_extra(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError, as when it is not installed
    with pytest.raises(ClusterError, match=r"pip install -e \.\[cluster\]"):
        require_ray()
    path = _config(tmp_path, 1)
    _use_postgres(path)
    assert main(["run", "-c", str(path), "--cluster", "auto", "--no-api"]) == 2
    assert "pip install -e .[cluster]" in capsys.readouterr().err


def test_cameras_are_grouped_in_order_and_disabled_ones_left_out(tmp_path: Path) -> None:
    path = _config(tmp_path, 7, cluster={"cameras_per_group": 3})
    data = yaml.safe_load(path.read_text())
    data["cameras"][1]["enabled"] = False
    path.write_text(yaml.safe_dump(data))
    assert plan_groups(load_config(path)) == [["cam-0", "cam-2", "cam-3"], ["cam-4", "cam-5", "cam-6"]]


def test_a_group_config_enables_only_its_cameras_with_absolute_paths_and_its_own_journal(tmp_path: Path) -> None:
    data = {
        "cameras": [camera("a", "clips/a.mp4"), camera("b", "rtsp://10.0.0.2/s"), camera("c", "/abs/c.mp4")],
        "storage": {"database_url": "postgresql+psycopg://h/db", "media_dir": "shared/media"},
        "cluster": {"journal_dir": "local/journals"},
    }
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data))
    config = load_config(path)
    g = group_config(config, ["a", "b"], "group-0001", base=tmp_path)
    assert [(c.id, c.enabled) for c in g.cameras] == [("a", True), ("b", True), ("c", False)]
    assert g.cameras[0].source.url == str(tmp_path / "clips/a.mp4")  # workers do not share the driver's cwd
    assert g.cameras[1].source.url == "rtsp://10.0.0.2/s"
    assert g.storage.media_dir == tmp_path / "shared/media"
    assert g.storage.resolved_journal_path() == tmp_path / "local/journals/events-group-0001.journal"
    with pytest.raises(ValueError, match="unknown camera"):
        group_config(config, ["a", "zz"], "group-0002", base=tmp_path)


def test_an_incident_left_open_by_a_dead_group_is_ended_under_its_own_id() -> None:
    started = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    record = IncidentRecord(
        incident_id="inc-1", type="pedestrian", camera_id="a", state="open", start_s=3.0, end_s=None,
        started_at=started, ended_at=None, updated_at=started + timedelta(seconds=4), last_sequence=2,
        bbox=(1.0, 2.0, 3.0, 4.0), confidence=0.7, severity=3, details={"zone": "z"}, snapshot_path=None,
        clip_path=None, acknowledged_at=None, acknowledged_by=None,
    )  # fmt: skip
    event = orphan_end(record)
    assert (event.incident_id, event.sequence, event.state) == ("inc-1", 3, "end")
    assert event.end_s == pytest.approx(7.0)
    assert event.details == {"zone": "z", "ended_by": "group restart"}


def test_cluster_status_prints_nodes_groups_cameras_lag_and_backlog() -> None:
    from vigil.cluster.status import format_status

    text = format_status(
        {
            "nodes": [{"node": "h1/0a1b2c3d", "address": "10.0.0.1", "alive": True, "cpus": 32, "gpus": 0}],
            "groups": {
                "group-0000": {
                    "state": "running",
                    "node": "h1/0a1b2c3d",
                    "restarted": True,
                    "cameras": ["a"],
                    "journal_waiting": 2,
                    "peak_rss_mb": 512.0,
                },
                "group-0001": {"state": "not answering", "node": None, "cameras": []},
            },
            "cameras": [
                {"camera": "a", "node": "h1/0a1b2c3d", "online": True, "state": "online", "lag_s": 0.4},
                {"camera": "b", "node": None, "online": False, "state": "no group answered", "lag_s": None},
            ],
            "delivery_backlog": {"city": 3},
        }
    )
    assert "nodes (1 alive):" in text and "cpus 32" in text
    assert "group-0000" in text and "(restarted)" in text and "journal 2 waiting" in text
    assert "group-0001   not answering" in text
    assert "cameras (1/2 online):" in text and "last analysed frame 0.4s ago" in text
    assert text.endswith("delivery backlog: city 3")


class _FailingRedactor:
    def redact(self, frame: object) -> object:
        raise RuntimeError("face detector crashed")


class _RawRedactor:
    def redact(self, frame: object) -> object:
        return frame  # a bug that would hand the raw frame on


def test_a_group_never_sends_a_raw_frame_when_its_redaction_fails() -> None:
    """What the API gets from a group is a JPEG of a RedactedFrame; a failing redactor means fully obscured."""
    import cv2
    import numpy as np

    from tests.conftest import changed_fraction
    from vigil.cluster.actor import CameraGroup
    from vigil.core import Frame

    rng = np.random.default_rng(3)
    raw = cv2.resize(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8), (320, 240), interpolation=cv2.INTER_NEAREST)
    group = object.__new__(CameraGroup)  # no Ray: only the frame path is under test
    group.name = "group-0000"
    for redactor in (_FailingRedactor(), _RawRedactor()):
        group.runner = type("R", (), {"latest": lambda self, cid: Frame(raw, "a", 0, 0.0), "redactor": redactor})()
        jpeg = group.redacted_jpeg("a")
        assert jpeg is not None and jpeg[:2] == b"\xff\xd8"
        shown = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert changed_fraction(raw, shown, (0, 0, 320, 240)) > 0.9  # obscured whole, not the picture
    group.runner = type("R", (), {"latest": lambda self, cid: None, "redactor": _RawRedactor()})()
    assert group.redacted_jpeg("a") is None
