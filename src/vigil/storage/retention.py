"""Retention: delete evidence and records once they are no longer allowed to exist.

Keeping footage (even redacted) or incident history longer than the operator's
policy says is a privacy failure, so retention deletes the *files*, not only
rows that point at them, and also sweeps files that no row points at (a clip
written just before a crash, say) once they are older than the clip period.
Incidents are only deleted once every delivery of theirs is finished
(delivered or dead): deleting a pending event would silently lose it.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, func, select, update

from vigil.config.models import RetentionConfig
from vigil.storage.db import Evidence, Incident, IncidentEventRow, OutboxRow
from vigil.storage.store import Store

log = logging.getLogger(__name__)
BATCH = 500


@dataclass
class RetentionReport:
    """What one retention run deleted (and what it had to leave)."""

    files_deleted: int = 0
    bytes_freed: int = 0
    evidence_rows_deleted: int = 0
    orphan_files_deleted: int = 0
    incidents_deleted: int = 0
    events_deleted: int = 0
    incidents_kept_pending: int = 0
    audit_rows_deleted: int = 0
    errors: list[str] = field(default_factory=list)


def _resolve(media_dir: Path, path: str) -> Path | None:
    """The absolute file for a stored path, or ``None`` if it lies outside ``media_dir``.

    Refusing paths outside the media folder means a corrupted or hostile row can
    never make retention delete an arbitrary file.
    """
    p = Path(path)
    p = (p if p.is_absolute() else media_dir / p).resolve()
    return p if p.is_relative_to(media_dir) else None


def _unlink(path: Path, report: RetentionReport) -> bool:
    try:
        size = path.stat().st_size
        path.unlink()
    except FileNotFoundError:
        return True  # already gone: the goal is reached
    except OSError as exc:
        report.errors.append(f"{path}: {exc}")
        log.warning("retention could not delete %s: %s", path, exc)
        return False
    report.files_deleted += 1
    report.bytes_freed += size
    return True


def _delete_evidence(store: Store, media_dir: Path, rows: list[Evidence], report: RetentionReport) -> None:
    done: list[Evidence] = []
    for row in rows:
        path = _resolve(media_dir, row.path)
        if path is None:
            report.errors.append(f"{row.path}: outside the media folder {media_dir}; left in place")
            log.warning("evidence %s is outside %s; not deleted", row.path, media_dir)
        elif _unlink(path, report):
            done.append(row)
    if not done:
        return
    with store.session() as s:
        s.execute(delete(Evidence).where(Evidence.id.in_([r.id for r in done])))
        for kind in ("snapshot", "clip"):
            col = getattr(Incident, f"{kind}_path")
            paths = [r.path for r in done if r.kind == kind]
            if paths:
                s.execute(update(Incident).where(col.in_(paths)).values({col: None}))
    report.evidence_rows_deleted += len(done)


def _expired_evidence(store: Store, media_dir: Path, now: datetime, report: RetentionReport) -> None:
    while True:
        with store.read_session() as s:
            rows = list(
                s.scalars(select(Evidence).where(Evidence.expires_at <= now).order_by(Evidence.id).limit(BATCH))
            )
        before = report.evidence_rows_deleted
        _delete_evidence(store, media_dir, rows, report)
        if len(rows) < BATCH or report.evidence_rows_deleted == before:
            return


def _orphans(store: Store, media_dir: Path, cutoff: datetime, report: RetentionReport) -> None:
    with store.read_session() as s:
        kept = {p for p in (_resolve(media_dir, x) for x in s.scalars(select(Evidence.path))) if p is not None}
    cutoff_ts = cutoff.timestamp()
    for root, dirs, files in os.walk(media_dir, topdown=False):
        for name in files:
            path = Path(root) / name
            try:
                old = path.lstat().st_mtime < cutoff_ts
            except FileNotFoundError:
                continue
            if old and path.resolve() not in kept and _unlink(path, report):
                report.orphan_files_deleted += 1
        for name in dirs:  # drop folders emptied above (per camera / per day layouts)
            d = Path(root) / name
            if not d.is_symlink() and not any(d.iterdir()):
                d.rmdir()


def _old_incidents(store: Store, media_dir: Path, cutoff: datetime, report: RetentionReport) -> None:
    pending = select(OutboxRow.id).where(OutboxRow.incident_id == Incident.incident_id, OutboxRow.status == "pending")
    with store.read_session() as s:
        report.incidents_kept_pending = int(
            s.scalar(select(func.count()).select_from(Incident).where(Incident.updated_at < cutoff, pending.exists()))
            or 0
        )
    while True:
        with store.read_session() as s:
            ids = list(
                s.scalars(
                    select(Incident.incident_id)
                    .where(Incident.updated_at < cutoff, ~pending.exists())
                    .order_by(Incident.updated_at)
                    .limit(BATCH)
                )
            )
            evidence = list(s.scalars(select(Evidence).where(Evidence.incident_id.in_(ids))))
        if not ids:
            return
        _delete_evidence(store, media_dir, evidence, report)
        with store.session() as s:
            # Re-check "nothing pending" inside the write transaction: an event may have
            # been recorded for one of these incidents since the read above.
            ids = list(s.scalars(select(Incident.incident_id).where(Incident.incident_id.in_(ids), ~pending.exists())))
            s.execute(delete(OutboxRow).where(OutboxRow.incident_id.in_(ids)))
            events = s.execute(delete(IncidentEventRow).where(IncidentEventRow.incident_id.in_(ids)))
            s.execute(delete(Evidence).where(Evidence.incident_id.in_(ids)))
            s.execute(delete(Incident).where(Incident.incident_id.in_(ids)))
        report.events_deleted += int(events.rowcount or 0)  # type: ignore[attr-defined]
        report.incidents_deleted += len(ids)
        if not ids:
            return


def run_retention(
    store: Store, media_dir: Path | str, retention: RetentionConfig, now: datetime | None = None
) -> RetentionReport:
    """Delete expired evidence files and rows, stray media files and old incidents.

    Parameters
    ----------
    store : Store
    media_dir : Path
        :attr:`StorageConfig.media_dir`; relative evidence paths are under it, and
        nothing outside it is ever deleted.
    retention : RetentionConfig
        ``clips_days`` bounds evidence without an ``expires_at`` that says otherwise
        and stray files; ``incidents_days`` bounds incidents (by their last event);
        ``audit_days`` bounds the audit log.
    now : datetime, optional
        Current time (tests pass one).
    """
    now = datetime.now(UTC) if now is None else now.astimezone(UTC)
    media_dir = Path(media_dir).resolve()
    report = RetentionReport()
    _expired_evidence(store, media_dir, now, report)
    if media_dir.is_dir():
        _orphans(store, media_dir, now - timedelta(days=retention.clips_days), report)
    _old_incidents(store, media_dir, now - timedelta(days=retention.incidents_days), report)
    from vigil.storage.console import purge_audit  # the audit log has its own retention

    report.audit_rows_deleted = purge_audit(store, now - timedelta(days=retention.audit_days))
    log.info(
        "retention: %d files (%d bytes) and %d incidents deleted, %d old incidents still delivering",
        report.files_deleted,
        report.bytes_freed,
        report.incidents_deleted,
        report.incidents_kept_pending,
    )
    return report


class RetentionJob:
    """Runs :func:`run_retention` every ``retention.interval_s`` in a daemon thread.

    The first run happens at start, so a Vigil that was down for a while catches
    up at once. Errors are logged and the next run tries again: retention must
    keep going even if one run hits, say, a locked file.
    """

    def __init__(self, store: Store, media_dir: Path | str, retention: RetentionConfig) -> None:
        self.store = store
        self.media_dir = Path(media_dir)
        self.retention = retention
        self.last_report: RetentionReport | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="vigil-retention", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.last_report = run_retention(self.store, self.media_dir, self.retention)
            except Exception:
                log.exception("retention run failed; retrying in %.0fs", self.retention.interval_s)
            self._stop.wait(self.retention.interval_s)
