"""Issue 7.5: zone edits cannot smuggle ``${...}`` into the configuration, and saving keeps the operator's file.

Through the real app (TestClient): ids have a pattern, nothing the console writes is
expanded by the loader, comments and layout survive, the write is atomic with a backup.
"""

from __future__ import annotations

import difflib
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Env
from vigil.api import ApiSettings, create_app
from vigil.config import ConfigError, load_config

SITE = """\
# Site configuration: ring road, maintained by the traffic centre.
version: 1
cameras:
  # north gantry
  - id: cam-1
    name: "Ring north ${TC_SECRET}"   # not a secret field: kept as written
    source: {url: "rtsp://cam1.local/stream"}
    zones:
      - {id: lane-1, kind: roadway, polygon: [[0.1, 0.5], [0.5, 0.5], [0.6, 1]], direction: [0, 1]}
    lines: []
  - id: cam-2
    name: "South ${VIGIL_TEST_UNSET_VAR}"
    source: {url: "rtsp://cam2.local/stream"}   # second camera
services:
  - {id: tc, webhook: {url: "https://tc.example/hook", secret: "${TC_SECRET}"}}
routing:
  - {types: ["*"], services: [tc]}
storage: {database_url: "sqlite:///${CONFIG_DIR}/vigil.db", media_dir: "${CONFIG_DIR}/media"}
"""
ZONE = {"id": "tracks.a_1", "kind": "tracks", "polygon": [[0, 0], [1, 0], [1, 1]]}


@pytest.fixture
def site(env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, Path]]:
    monkeypatch.setenv("TC_SECRET", "topsecret-value")
    monkeypatch.delenv("VIGIL_TEST_UNSET_VAR", raising=False)
    path = tmp_path / "site.yaml"
    path.write_text(SITE)
    path.chmod(0o640)
    app = create_app(load_config(path), env.store, None, path, settings=ApiSettings(poll_interval_s=0.5))
    with TestClient(app) as client:
        yield client, path


def test_ids_have_a_pattern(env: Env, site: tuple[TestClient, Path]) -> None:
    client, path = site
    for bad in ("${TC_SECRET}", "a b", "x" * 65, "", "<b>", "../x", "$HOME"):
        r = client.put("/api/cameras/cam-2/zones", json={"zones": [dict(ZONE, id=bad)]}, headers=env.auth("admin"))
        assert r.status_code == 422, (bad, r.status_code)
        line = {"id": bad, "points": [[0, 0.5], [1, 0.5]]}
        r = client.put("/api/cameras/cam-2/zones", json={"lines": [line]}, headers=env.auth("admin"))
        assert r.status_code == 422, (bad, r.status_code)
    assert path.read_text() == SITE


def test_env_vars_expand_only_in_designated_fields(env: Env, site: tuple[TestClient, Path]) -> None:
    client, path = site
    config = load_config(path)  # loads although VIGIL_TEST_UNSET_VAR is unset: a name is no secret field
    assert config.cameras[0].name == "Ring north ${TC_SECRET}"
    assert config.cameras[1].name == "South ${VIGIL_TEST_UNSET_VAR}"
    assert config.services[0].webhook is not None and config.services[0].webhook.secret == "topsecret-value"
    assert str(path.parent) in config.storage.database_url
    cams = client.get("/api/cameras", headers=env.auth("viewer")).text
    assert "topsecret" not in cams


def test_save_keeps_comments_and_layout_atomically_with_a_backup(env: Env, site: tuple[TestClient, Path]) -> None:
    client, path = site
    line = {"id": "count-1", "points": [[0, 0.5], [1, 0.5]]}
    r = client.put("/api/cameras/cam-2/zones", json={"zones": [ZONE], "lines": [line]}, headers=env.auth("admin"))
    assert r.status_code == 200, r.text
    text = path.read_text()
    for kept in (
        "# Site configuration: ring road, maintained by the traffic centre.",
        "  # north gantry",
        '    name: "Ring north ${TC_SECRET}"   # not a secret field: kept as written',
        '    source: {url: "rtsp://cam2.local/stream"}   # second camera',
        '  - {id: tc, webhook: {url: "https://tc.example/hook", secret: "${TC_SECRET}"}}',
        'storage: {database_url: "sqlite:///${CONFIG_DIR}/vigil.db", media_dir: "${CONFIG_DIR}/media"}',
        "      - {id: lane-1, kind: roadway, polygon: [[0.1, 0.5], [0.5, 0.5], [0.6, 1]], direction: [0, 1]}",
    ):
        assert kept in text, (kept, text)
    removed = [d for d in difflib.ndiff(SITE.splitlines(), text.splitlines()) if d.startswith("- ")]
    assert removed == [], removed  # every line of the operator's file is still there, in order
    assert "topsecret" not in text
    reread = load_config(path).cameras[1]
    assert [z.id for z in reread.zones] == ["tracks.a_1"] and reread.lines[0].id == "count-1"
    assert (path.parent / "site.yaml.bak").read_text() == SITE
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert not [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    # a second save backs up the first
    assert client.put("/api/cameras/cam-2/zones", json={"zones": []}, headers=env.auth("admin")).status_code == 200
    assert (path.parent / "site.yaml.bak").read_text() == text
    assert load_config(path).cameras[1].zones == []


def test_a_save_that_would_not_load_is_refused_and_the_file_kept(
    env: Env, site: tuple[TestClient, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, path = site
    monkeypatch.delenv("TC_SECRET")  # the file no longer loads in this environment
    with pytest.raises(ConfigError):
        load_config(path)
    r = client.put("/api/cameras/cam-2/zones", json={"zones": [ZONE]}, headers=env.auth("admin"))
    assert r.status_code == 409 and "TC_SECRET" in r.text
    assert path.read_text() == SITE and not (path.parent / "site.yaml.bak").exists()
