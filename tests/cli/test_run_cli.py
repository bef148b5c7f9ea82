"""``vigil run`` and ``vigil demo`` as an operator runs them: a real process, real signals, real files."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pipeline.test_runner_live import camera, cut_clip, write_config
from vigil.storage import Store

REPO = Path(__file__).resolve().parents[2]
STOPPING = "stopping: ending open incidents and writing their clips..."
EVENT_LINE = re.compile(r"^\[(?P<camera>[^\]]+)\] (?P<state>NEW|UPDATE|END)\s+(?P<type>\S+)\s.* id (?P<id>[0-9a-f]{8})")


def _env() -> dict[str, str]:
    """The test's environment without a VIGIL_DEMO_DIR of the developer's (``vigil demo`` honours it)."""
    env = {k: v for k, v in os.environ.items() if k != "VIGIL_DEMO_DIR"}
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Vigil:
    """``python -m vigil ...`` with stdout read line by line on a thread and stderr to a file.

    A file for stderr (not a pipe) so a chatty process can never block on it;
    the process is always killed at the end if it is still there.
    """

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.err_path = cwd / "stderr.txt"
        self._err = self.err_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vigil", *args],
            cwd=cwd,
            env=_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._err,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_line(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
        """The first stdout line matching ``pattern``; fails on timeout or exit."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                raise AssertionError(
                    f"vigil exited ({self.proc.wait()}) before printing {pattern.pattern}:\n{self.err}"
                )
            self.lines.append(line)
            if m := pattern.search(line):
                return m
        raise AssertionError(f"no line matching {pattern.pattern} within {timeout:g} s:\n{self.err}")

    def finish(self, timeout: float) -> int:
        """Wait for the exit and for the rest of stdout."""
        code = self.proc.wait(timeout)
        self._reader.join(5)
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.lines.append(line)
        return code

    @property
    def err(self) -> str:
        self._err.flush()
        return self.err_path.read_text(errors="replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._err.close()


@pytest.fixture
def vigil_procs() -> Iterator[list[Vigil]]:
    """Processes started through this list are killed if a test leaves them running."""
    procs: list[Vigil] = []
    yield procs
    for p in procs:
        p.close()


@pytest.mark.slow
def test_sigterm_ends_open_incidents_and_exits_cleanly(tmp_path: Path, vigil_procs: list[Vigil]) -> None:
    """SIGTERM (systemd, docker stop) must not lose an open incident: it is ended, its clip written, exit 0."""
    clip = cut_clip(tmp_path / "loop.mp4", 4.0, 16.0)  # a person enters the zone at about 3 s of each pass
    config = write_config(tmp_path, [camera("loop-cam", str(clip), loop=True)])
    vigil = Vigil(["run", "-c", str(config)], tmp_path)
    vigil_procs.append(vigil)

    first = vigil.wait_line(re.compile(r"\] NEW "), timeout=90)
    assert first.string.startswith("[loop-cam] NEW    pedestrian")
    t0 = time.monotonic()
    vigil.proc.send_signal(signal.SIGTERM)
    code = vigil.finish(timeout=15)
    took = time.monotonic() - t0
    assert code == 0, vigil.err
    assert took < 15
    assert STOPPING in vigil.err
    assert "Traceback" not in vigil.err

    printed = [m.groupdict() for line in vigil.lines if (m := EVENT_LINE.match(line))]
    opened = {e["id"] for e in printed if e["state"] == "NEW"}
    assert {e["id"] for e in printed if e["state"] == "END"} == opened  # the console saw every end too
    with Store(f"sqlite:///{tmp_path / 'data' / 'v.db'}", migrate=False) as store:
        incidents = store.list_incidents()
        assert {i.incident_id[:8] for i in incidents} == opened
        for inc in incidents:
            states = [e["state"] for e in store.list_events(inc.incident_id)]
            assert inc.state == "ended" and states[0] == "new" and states[-1] == "end", (inc.incident_id, states)
            assert inc.snapshot_path and Path(inc.snapshot_path).is_file()
            assert inc.clip_path and Path(inc.clip_path).is_file()  # written during the stop
        assert store.pending_counts() == {}


@pytest.mark.slow
def test_demo_runs_the_bundled_clip_to_the_end(tmp_path: Path, vigil_procs: list[Vigil]) -> None:
    """``vigil demo --no-serve -o DIR`` (what CI runs) must finish on its own and show incidents."""
    out = tmp_path / "demo-out"
    vigil = Vigil(["demo", "--no-serve", "-o", str(out)], tmp_path)
    vigil_procs.append(vigil)
    code = vigil.finish(timeout=400)
    assert code == 0, vigil.err
    assert STOPPING in vigil.err and "Traceback" not in vigil.err

    printed = [m.groupdict() for line in vigil.lines if (m := EVENT_LINE.match(line))]
    news = [e for e in printed if e["state"] == "NEW"]
    assert 4 <= len(news) <= 8, vigil.lines  # six people walk to the table
    assert all(e["camera"] == "demo-platform" and e["type"] == "pedestrian" for e in news)
    assert {e["id"] for e in printed if e["state"] == "END"} == {e["id"] for e in news}

    media = (out / "media").resolve()
    clips = sorted(media.rglob("*.mp4"))
    assert len(clips) == len(news)
    assert f"{len(clips)} redacted incident clip(s) and their snapshots are in {media}" in vigil.lines
    assert f"incidents are stored in {out.resolve() / 'vigil.db'}" in vigil.lines
    assert not (tmp_path / "vigil-demo-output").exists()  # -o was honoured
    with Store(f"sqlite:///{out / 'vigil.db'}", migrate=False) as store:
        incidents = store.list_incidents()
        assert len(incidents) == len(news) and all(i.state == "ended" for i in incidents)
        assert sorted(Path(i.clip_path) for i in incidents if i.clip_path) == clips
