"""``vigil user add|list|disable`` against the database of a configuration file."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

from tests.api.conftest import CONFIG
from vigil.cli import user_cmds
from vigil.config import load_config
from vigil.storage import accounts, console
from vigil.storage.store import Store


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    user_cmds.add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_user_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "site.yaml"
    cfg.write_text(CONFIG)
    monkeypatch.setattr("sys.stdin", io.StringIO("a long password\n"))
    assert _run(["user", "add", "alice", "--role", "operator", "--password-stdin", "-c", str(cfg)]) == 0
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "another password")
    assert _run(["user", "add", "bob", "--role", "viewer", "-c", str(cfg)]) == 0
    assert _run(["user", "add", "bob", "--role", "viewer", "-c", str(cfg)]) == 1
    assert _run(["user", "disable", "bob", "-c", str(cfg)]) == 0
    assert _run(["user", "list", "-c", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "alice\toperator\tactive" in out and "bob\tviewer\tdisabled" in out
    with Store(load_config(cfg).storage.database_url) as store:
        assert accounts.authenticate(store, "alice", "a long password") is not None
        assert accounts.authenticate(store, "bob", "another password") is None  # disabled
        actions = [r["action"] for r in console.list_audit(store, limit=10, before_id=None)[0]]
        assert actions == ["user.disable", "user.add", "user.add"]
