"""A real SQLite store with users, tokens, incidents and redacted evidence files, and the app over it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from vigil.api import ApiSettings, create_app
from vigil.config import load_config
from vigil.core import Frame
from vigil.core.events import IncidentEvent
from vigil.redaction.engine import Redactor
from vigil.storage import VideoWriter, accounts, write_image
from vigil.storage.store import Store

CONFIG = """\
cameras:
  - id: cam-1
    name: Ring north
    source: {url: "rtsp://cam1.local/stream"}
    location: {lat: 52.37, lon: 4.9}
    zones:
      - {id: lane-1, kind: roadway, polygon: [[0.1, 0.5], [0.5, 0.5], [0.6, 1]], direction: [0, 1]}
  - id: cam-2
    source: {url: "rtsp://cam2.local/stream"}
services:
  - {id: tc, webhook: {url: "https://tc.example/hook", secret: "s3cr3t-value"}}
routing:
  - {types: ["*"], services: [tc]}
storage: {database_url: "sqlite:///${CONFIG_DIR}/vigil.db", media_dir: "${CONFIG_DIR}/media"}
"""
PASSWORD = "correct horse battery"
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
N_INCIDENTS = 13


class FakeTap:
    """Stands in for LiveRunner.latest: a raw frame with a bright square (never to be served raw)."""

    def latest(self, camera_id: str) -> Frame | None:
        if camera_id != "cam-1":
            return None
        image = np.zeros((64, 96, 3), np.uint8)
        image[10:40, 10:40] = 255
        return Frame(image, camera_id)


class BrokenRedactor:
    def redact(self, frame: Frame):  # type: ignore[no-untyped-def]
        raise RuntimeError("detector crashed")


@dataclass
class Env:
    app: object
    client: TestClient
    store: Store
    config_path: Path
    media: Path
    tokens: dict[str, str]
    incident_ids: list[str]

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def _event(i: int, state: str = "new", seq: int = 0, iid: str | None = None) -> IncidentEvent:
    return IncidentEvent(
        event_id=f"ev-{i}-{seq}",
        incident_id=iid or f"inc-{i:02d}",
        sequence=seq,
        state=state,  # type: ignore[arg-type]
        type="pedestrian" if i % 2 else "stopped_vehicle",
        camera_id="cam-1" if i % 3 else "cam-2",
        start_s=float(i),
        end_s=float(i) + 5 if state == "end" else None,
        bbox=(1.0, 2.0, 30.0, 40.0),
        confidence=0.9,
        severity=3,
        # every third pair of incidents share a start time, to test the tie-breaker
        wall_time=(T0 + timedelta(minutes=i // 2)).isoformat(),
    )


def _evidence(store: Store, media: Path, iid: str) -> None:
    frame = Redactor.fail_closed(Frame(np.full((48, 64, 3), 127, np.uint8), "cam-1"))
    snap = write_image(media / f"{iid}.jpg", frame)
    with VideoWriter(media / f"{iid}.mp4", fps=10) as vw:
        for k in range(10):
            vw.write(Redactor.fail_closed(Frame(np.full((48, 64, 3), 20 * k, np.uint8), "cam-1", k, k / 10)))
    exp = datetime.now(UTC) + timedelta(days=7)
    store.attach_evidence(iid, "snapshot", str(snap), snap.stat().st_size, exp)
    clip = media / f"{iid}.mp4"
    store.attach_evidence(iid, "clip", str(clip), clip.stat().st_size, exp)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    cfg_path = tmp_path / "site.yaml"
    cfg_path.write_text(CONFIG)
    config = load_config(cfg_path)
    media = Path(config.storage.media_dir)
    media.mkdir(parents=True)
    store = Store(config.storage.database_url)
    tokens: dict[str, str] = {}
    for role in ("viewer", "operator", "admin"):
        user = accounts.create_user(store, role, PASSWORD, role)
        if role == "admin":
            accounts.create_token(store, user, "decoy")  # id 1, so revoking "1" in route tests is harmless
        tokens[role] = accounts.create_token(store, user, f"{role}-token")[1]
    ids = []
    for i in range(N_INCIDENTS):
        store.record_event(_event(i), ["tc"])
        ids.append(f"inc-{i:02d}")
    store.record_event(_event(0, "end", 1), ["tc"])
    _evidence(store, media, "inc-01")
    store.upsert_camera_status("cam-1", online=True, name="Ring north")
    app = create_app(
        config,
        store,
        None,
        cfg_path,
        settings=ApiSettings(poll_interval_s=0.2),
        frame_tap=FakeTap(),
        redactor=BrokenRedactor(),
    )
    with TestClient(app) as client:
        yield Env(app, client, store, cfg_path, media, tokens, ids)
    store.close()
