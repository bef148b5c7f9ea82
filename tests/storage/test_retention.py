"""Retention deletes expired evidence files and old incidents, and keeps everything else."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.storage.test_db import db_url, make_event, postgres_server, store  # noqa: F401  (fixtures)
from vigil.config.models import RetentionConfig
from vigil.storage import Store, run_retention

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
POLICY = RetentionConfig(clips_days=7, incidents_days=30)


def _file(path: Path, size: int = 100, age_days: float = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    t = (NOW - timedelta(days=age_days)).timestamp()
    os.utime(path, (t, t))
    return path


def _incident(db: Store, name: str, age_days: float, targets: list[str]) -> None:
    wall = (NOW - timedelta(days=age_days)).isoformat()
    db.record_event(make_event(name, 0, "new", wall_time=wall), targets, now=NOW)
    db.record_event(make_event(name, 1, "end", wall_time=wall), targets, now=NOW)


def test_retention_deletes_expired_files_and_rows_and_keeps_fresh(store: Store, tmp_path: Path) -> None:  # noqa: F811
    media = tmp_path / "media"
    _incident(store, "recent", 1, ["svc"])
    outside = _file(tmp_path / "elsewhere" / "keep.txt", 10, age_days=100)
    store.attach_evidence("recent", "clip", str(outside), 10, NOW - timedelta(days=1))  # never deleted
    old_clip = _file(media / "cam-1" / "recent.mp4", 1000, age_days=8)
    store.attach_evidence("recent", "clip", "cam-1/recent.mp4", 1000, NOW - timedelta(days=1))
    fresh_snap = _file(media / "cam-1" / "recent.jpg", 200, age_days=1)
    store.attach_evidence("recent", "snapshot", str(fresh_snap), 200, NOW + timedelta(days=6))
    stray_old = _file(media / "cam-2" / "crash-leftover.mp4", 50, age_days=10)  # no row points at it
    stray_new = _file(media / "cam-3" / "being-written.mp4", 50, age_days=0)

    # Old and fully delivered (one delivered, one dead): goes, with its events and outbox rows.
    _incident(store, "old-done", 40, ["svc"])
    old_done_clip = _file(media / "cam-1" / "old-done.mp4", 300, age_days=40)
    store.attach_evidence("old-done", "clip", "cam-1/old-done.mp4", 300, NOW + timedelta(days=1))
    (head,) = [i for i in store.claim_due("svc", 100, NOW) if i.incident_id == "old-done"]
    store.mark_delivered(head.id)
    (tail,) = [i for i in store.claim_due("svc", 100, NOW) if i.incident_id == "old-done"]
    store.mark_dead(tail.id, "HTTP 400")
    # Old but an event is still owed to a receiver: kept, or it would be lost.
    _incident(store, "old-pending", 40, ["svc"])

    report = run_retention(store, media, POLICY, now=NOW)

    assert not old_clip.exists() and not stray_old.exists() and not old_done_clip.exists()
    assert not (media / "cam-2").exists()  # emptied folder removed
    assert fresh_snap.exists() and stray_new.exists() and outside.exists()
    assert report.files_deleted == 3 and report.bytes_freed == 1350
    assert report.orphan_files_deleted == 1
    assert report.incidents_deleted == 1 and report.events_deleted == 2
    assert report.incidents_kept_pending == 1
    assert any("outside the media folder" in e for e in report.errors)

    recent = store.get_incident("recent")
    assert recent is not None and recent.clip_path is None and recent.snapshot_path == str(fresh_snap)
    assert store.get_incident("old-done") is None and store.list_events("old-done") == []
    assert store.list_outbox(event_id="old-done-e0") == []
    assert store.get_incident("old-pending") is not None
    assert store.pending_counts() == {"svc": 4}  # recent x2 + old-pending x2, untouched

    # Idempotent: a second run finds nothing more to do.
    again = run_retention(store, media, POLICY, now=NOW)
    assert (again.files_deleted, again.incidents_deleted) == (0, 0)


def test_retention_job_runs_at_start(tmp_path: Path) -> None:
    import time

    from vigil.storage.retention import RetentionJob

    db = Store(f"sqlite:///{tmp_path / 'v.db'}")
    stray = _file(tmp_path / "media" / "old.mp4", 10, age_days=(datetime.now(UTC) - NOW).days + 30)
    job = RetentionJob(db, tmp_path / "media", RetentionConfig(clips_days=7, interval_s=3600))
    job.start()
    deadline = time.monotonic() + 10
    while job.last_report is None and time.monotonic() < deadline:
        time.sleep(0.02)
    job.stop()
    db.close()
    assert job.last_report is not None and job.last_report.orphan_files_deleted == 1
    assert not stray.exists()


def test_audit_log_has_its_own_retention(tmp_path):
    from datetime import UTC, datetime, timedelta

    from vigil.config.models import RetentionConfig
    from vigil.storage import Store, run_retention
    from vigil.storage.console import audit, list_audit

    db = Store(f"sqlite:///{tmp_path}/a.db")
    now = datetime.now(UTC)
    for days, target in ((400, "old"), (10, "recent")):
        audit(
            db,
            "clip.view",
            user="ann",
            role="admin",
            target=target,
            source_ip="127.0.0.1",
            now=now - timedelta(days=days),
        )
    report = run_retention(db, tmp_path / "media", RetentionConfig(audit_days=365), now=now)
    assert report.audit_rows_deleted == 1
    rows, _ = list_audit(db, limit=10, before_id=None)
    assert [r["target"] for r in rows] == ["recent"]
