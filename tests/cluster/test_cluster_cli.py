"""``vigil run --cluster local`` from the command line, on file cameras, to their end (``--exit-at-end``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from tests.pipeline.test_runner_live import camera, cut_clip, write_config
from tests.storage.test_db import PostgresServer
from vigil.cli.main import main
from vigil.storage import Store

try:
    import ray  # noqa: F401 - only whether it is installed
except ImportError:  # CI installs the extra (./dev pins it) and must not skip these tests silently
    if os.environ.get("VIGIL_REQUIRE_CLUSTER"):
        raise
    pytest.skip("the cluster extra is not installed (pip install -e .[cluster])", allow_module_level=True)

pytestmark = pytest.mark.cluster


def test_vigil_run_on_a_local_cluster_watches_file_cameras_to_their_end(
    tmp_path: Path, postgres: PostgresServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cut_clip(tmp_path / "cut.mp4", 4.0, 16.0)  # a person walks into the zone at about 3 s
    cams = [camera(cid, "cut.mp4", realtime=True) for cid in ("a", "b")]  # relative to the working folder
    path = write_config(tmp_path, cams, cluster={"cameras_per_group": 1, "cpus_per_group": 0.5})
    data = yaml.safe_load(path.read_text())
    data["storage"] = {"database_url": postgres.url(), "media_dir": "data/media"}  # relative too
    path.write_text(yaml.safe_dump(data))
    monkeypatch.chdir(tmp_path)

    assert main(["run", "-c", str(path), "--cluster", "local", "--exit-at-end", "--no-api"]) == 0

    out = capsys.readouterr()
    printed = {line.split("]")[0].lstrip("[") for line in out.out.splitlines() if " NEW " in line}
    assert printed == {"a", "b"}, out.err[-3000:]  # the driver's console output got the groups' events
    assert "cameras online on 1 node(s)" in out.err  # the status line counts the nodes
    store = Store(postgres.url(), migrate=False)
    try:
        incidents = store.list_incidents(limit=100)
        assert {i.camera_id for i in incidents} == {"a", "b"}
        assert all(i.state == "ended" for i in incidents)  # ended when the groups stopped
        clips = [Path(i.clip_path) for i in incidents if i.clip_path]
        assert clips and all(c.is_file() and c.is_relative_to(tmp_path / "data" / "media") for c in clips)
        nodes = {c.id: c.node for c in store.list_cameras()}
        assert set(nodes) == {"a", "b"} and len(set(nodes.values())) == 1 and None not in nodes.values()
    finally:
        store.close()
