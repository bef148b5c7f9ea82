"""Outbox queries: the delivery queue that :mod:`vigil.delivery` works through.

A mixin of :class:`~vigil.storage.store.Store`, kept apart so the queue's rules
(per-incident order, attempts, dead letters, leases) read in one place.

Several dispatchers may work through one outbox (one per node of a cluster, or a
spare one): :meth:`OutboxMixin.claim_due` hands each row to one dispatcher under
a lease. On PostgreSQL the claim is ``SELECT ... FOR UPDATE SKIP LOCKED``, so two
dispatchers claiming at the same moment take different rows instead of waiting
for each other; SQLite serialises writers anyway (``BEGIN IMMEDIATE``). A
dispatcher that dies holding rows strands nothing: they are due again once the
lease runs out. The marks (delivered, retry, dead) apply only while the caller
still holds the lease, and a dispatcher renews a lease that is running low before
it sends (:meth:`OutboxMixin.renew_lease`), so a row is never in two senders'
hands. Lease times use the nodes' clocks, as ``next_attempt_at`` does: keep them
in sync (NTP); a skew far below the lease length is harmless.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from vigil.storage.db import IncidentEventRow, OutboxRow
from vigil.storage.records import OutboxEntry, OutboxItem, OutboxStatus


def _now(now: datetime | None) -> datetime:
    return datetime.now(UTC) if now is None else now.astimezone(UTC)


def _heads(target: str) -> list[ColumnElement[bool]]:
    """Pending rows of ``target`` that are the earliest pending event of their incident."""
    earlier = aliased(OutboxRow)
    blocked = (
        select(earlier.id)
        .where(
            earlier.target == OutboxRow.target,
            earlier.incident_id == OutboxRow.incident_id,
            earlier.status == "pending",
            earlier.sequence < OutboxRow.sequence,
        )
        .exists()
    )
    return [OutboxRow.target == target, OutboxRow.status == "pending", ~blocked]


def _unleased(now: datetime) -> ColumnElement[bool]:
    """Rows no dispatcher holds: never leased, released, or whose lease ran out (its holder died)."""
    return or_(OutboxRow.lease_until.is_(None), OutboxRow.lease_until <= now)


class OutboxMixin:
    """Delivery-queue operations; needs ``session()`` and ``read_session()``."""

    def session(self) -> AbstractContextManager[Session]:  # pragma: no cover - provided by Store
        raise NotImplementedError

    def read_session(self) -> AbstractContextManager[Session]:  # pragma: no cover - provided by Store
        raise NotImplementedError

    def claim_due(
        self,
        target: str,
        limit: int = 50,
        now: datetime | None = None,
        *,
        worker: str | None = None,
        lease_s: float = 60.0,
    ) -> list[OutboxItem]:
        """Pending items for ``target`` that are due, oldest first, leased to ``worker``.

        Only the earliest pending event of each incident is returned, so a later
        event never overtakes one that is waiting for a retry: receivers see each
        incident's events in order. The next one becomes due once it is delivered
        or dead-lettered. Rows leased to another dispatcher (and not expired) are
        skipped; the returned rows are leased to ``worker`` for ``lease_s``.
        ``worker=None`` reads without leasing (inspection, single-dispatcher tests).
        """
        now = _now(now)
        due = [*_heads(target), OutboxRow.next_attempt_at <= now, _unleased(now)]
        if worker is not None:
            pick = select(OutboxRow.id).where(*due).order_by(OutboxRow.id).limit(limit)
            with self.session() as s:
                ids = list(s.scalars(pick.with_for_update(skip_locked=True, of=OutboxRow)))
                if not ids:
                    return []
                s.execute(
                    update(OutboxRow)
                    .where(OutboxRow.id.in_(ids))
                    .values(lease_owner=worker, lease_until=now + timedelta(seconds=lease_s))
                )
            where: list[ColumnElement[bool]] = [OutboxRow.id.in_(ids)]
        else:
            where = due
        q = (
            select(OutboxRow, IncidentEventRow.payload)
            .join(IncidentEventRow, IncidentEventRow.event_id == OutboxRow.event_id)
            .where(*where)
            .order_by(OutboxRow.id)
            .limit(limit)
        )
        with self.read_session() as s:
            return [
                OutboxItem(
                    id=o.id,
                    event_id=o.event_id,
                    incident_id=o.incident_id,
                    sequence=o.sequence,
                    target=o.target,
                    attempts=o.attempts,
                    payload=dict(payload),
                    created_at=o.created_at,
                )
                for o, payload in s.execute(q)
            ]

    def renew_lease(self, outbox_id: int, worker: str, lease_s: float, now: datetime | None = None) -> bool:
        """Extend ``worker``'s lease on a pending row; False if it no longer holds one (do not send it)."""
        now = _now(now)
        with self.session() as s:
            result = s.execute(
                update(OutboxRow)
                .where(
                    OutboxRow.id == outbox_id,
                    OutboxRow.status == "pending",
                    OutboxRow.lease_owner == worker,
                    OutboxRow.lease_until > now,
                )
                .values(lease_until=now + timedelta(seconds=lease_s))
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def release_leases(self, outbox_ids: list[int], worker: str) -> None:
        """Hand back rows ``worker`` claimed but did not attempt; they are due again at once."""
        with self.session() as s:
            s.execute(
                update(OutboxRow)
                .where(OutboxRow.id.in_(outbox_ids), OutboxRow.lease_owner == worker)
                .values(lease_owner=None, lease_until=None)
            )

    def next_due_at(self, target: str) -> datetime | None:
        """When :meth:`claim_due` will next return something for ``target`` (to sleep until then).

        Leases are not considered: a leased row is due again at the latest when its
        lease ends, which is after its dispatcher has normally settled it.
        """
        q = select(func.min(OutboxRow.next_attempt_at)).where(*_heads(target))
        with self.read_session() as s:
            value = s.scalar(q)
        if value is not None and value.tzinfo is None:  # min() bypasses the column type on SQLite
            value = value.replace(tzinfo=UTC)
        return value

    def _set(self, outbox_id: int, worker: str | None, **values: Any) -> bool:
        """Update a pending row (only while ``worker`` holds its lease, when given) and release the lease."""
        where = [OutboxRow.id == outbox_id, OutboxRow.status == "pending"]
        if worker is not None:
            where.append(OutboxRow.lease_owner == worker)
        with self.session() as s:
            result = s.execute(update(OutboxRow).where(*where).values(lease_owner=None, lease_until=None, **values))
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def mark_delivered(self, outbox_id: int, now: datetime | None = None, *, worker: str | None = None) -> bool:
        """Record a delivery; False when ``worker`` had lost the row (another dispatcher holds or settled it)."""
        return self._set(
            outbox_id,
            worker,
            status="delivered",
            attempts=OutboxRow.attempts + 1,
            delivered_at=_now(now),
            last_error=None,
        )

    def mark_retry(
        self,
        outbox_id: int,
        error: str,
        next_attempt_at: datetime,
        *,
        count_attempt: bool = True,
        worker: str | None = None,
    ) -> bool:
        """Reschedule an item; ``count_attempt=False`` when the target was unreachable.

        Not counting attempts while a receiver or broker is down keeps a long
        outage from dead-lettering the backlog: those events are still owed.
        """
        values: dict[str, Any] = {"last_error": error[:2000], "next_attempt_at": next_attempt_at}
        if count_attempt:
            values["attempts"] = OutboxRow.attempts + 1
        return self._set(outbox_id, worker, **values)

    def mark_dead(self, outbox_id: int, error: str, *, worker: str | None = None) -> bool:
        return self._set(outbox_id, worker, status="dead", attempts=OutboxRow.attempts + 1, last_error=error[:2000])

    def requeue_dead(self, target: str | None = None, now: datetime | None = None) -> int:
        """Put dead-lettered items back in the queue (after fixing a receiver). Returns the count."""
        q = update(OutboxRow).where(OutboxRow.status == "dead")
        if target is not None:
            q = q.where(OutboxRow.target == target)
        with self.session() as s:
            result = s.execute(
                q.values(status="pending", attempts=0, next_attempt_at=_now(now), lease_owner=None, lease_until=None)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def pending_counts(self) -> dict[str, int]:
        """Delivery backlog per target (only targets with pending items)."""
        q = select(OutboxRow.target, func.count()).where(OutboxRow.status == "pending").group_by(OutboxRow.target)
        with self.read_session() as s:
            return {t: int(n) for t, n in s.execute(q)}

    def list_outbox(
        self, *, target: str | None = None, status: OutboxStatus | None = None, event_id: str | None = None
    ) -> list[OutboxEntry]:
        q = select(OutboxRow)
        if target is not None:
            q = q.where(OutboxRow.target == target)
        if status is not None:
            q = q.where(OutboxRow.status == status)
        if event_id is not None:
            q = q.where(OutboxRow.event_id == event_id)
        with self.read_session() as s:
            return [
                OutboxEntry(
                    o.id,
                    o.event_id,
                    o.incident_id,
                    o.sequence,
                    o.target,
                    o.status,  # type: ignore[arg-type]
                    o.attempts,
                    o.next_attempt_at,
                    o.last_error,
                    o.delivered_at,
                )
                for o in s.scalars(q.order_by(OutboxRow.id))
            ]
