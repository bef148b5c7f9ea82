"""A local append-only journal of incident events, so that an outage of the database loses none.

Every event is appended here (one JSON line, ``fsync``'d) before it is written
to the database; a writer then stores the journal's lines in order and moves
its read offset past each line once the store has it. When every line is
stored, the file is emptied. What is still in the journal when Vigil stops
(because the database was down) is stored on the next start: storing is
idempotent on ``event_id`` (:meth:`~vigil.storage.Store.record_event`), so a
line stored just before a crash, but not yet passed, is not stored twice.

Why a journal and not backpressure: blocking the cameras while the database is
down would stop their analysis (every camera would go "stalled" and see
nothing) for as long as the outage lasts, to save a few kilobytes per event.
The journal is bounded (``max_bytes``): only when it is full do the cameras
wait, and that is reported.

The file holds incident events only (types, boxes, times, zone ids), never
pixels: nothing in it is more identifying than what the database holds.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

from vigil.core.events import IncidentEvent

log = logging.getLogger(__name__)


class JournalFullError(RuntimeError):
    """The journal reached its size bound and stayed full for the whole wait."""


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"cannot journal a {type(value).__name__}")


def encode_event(event: IncidentEvent) -> bytes:
    """One journal line: the event's exact fields (floats unrounded), UTF-8 JSON, newline-terminated."""
    return json.dumps(asdict(event), default=_jsonable, separators=(",", ":")).encode() + b"\n"


def decode_event(line: bytes) -> IncidentEvent:
    data = json.loads(line)
    data["bbox"] = tuple(data["bbox"])
    return IncidentEvent(**data)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class EventJournal:
    """The journal file: :meth:`append` from any thread, :meth:`peek` / :meth:`advance` from one reader.

    Parameters
    ----------
    path : Path
        The journal file; its folder is created. Lines already in it (from a
        run that stopped during an outage) are pending.
    max_bytes : int
        Size bound of the file; :meth:`append` waits while it would pass it.
    """

    def __init__(self, path: Path, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._cond = threading.Condition()
        self._offset = 0  # first byte not yet stored
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        _fsync_dir(self.path.parent)
        self._size = self._drop_torn_tail()
        self.appended = 0

    # -- writing (camera threads) -------------------------------------------------------

    def append(self, event: IncidentEvent, timeout: float | None = None) -> None:
        """Add an event durably (written and fsync'd before this returns).

        Raises
        ------
        JournalFullError
            When the journal stayed full for ``timeout`` seconds (``None``: wait as long as it takes).
        """
        line = encode_event(event)
        with self._cond:
            if not self._cond.wait_for(lambda: self._size + len(line) <= self.max_bytes or self._size == 0, timeout):
                raise JournalFullError(f"event journal {self.path} is full ({self._size} bytes)")
            os.write(self._fd, line)
            os.fsync(self._fd)
            self._size += len(line)
            self.appended += 1
            self._cond.notify_all()

    # -- reading (the one writer thread) --------------------------------------------------

    @property
    def pending_bytes(self) -> int:
        with self._cond:
            return self._size - self._offset

    def pending_events(self) -> int:
        """Lines not yet stored (reads the file: for status, not for every frame)."""
        with self._cond:
            start, end = self._offset, self._size
        return 0 if end <= start else os.pread(self._fd, end - start, start).count(b"\n")

    def wait(self, timeout: float) -> bool:
        """Wait until something is pending; True if so."""
        with self._cond:
            return self._cond.wait_for(lambda: self._size > self._offset, timeout)

    def peek(self, limit: int = 100) -> list[tuple[int, IncidentEvent | None]]:
        """Up to ``limit`` pending events in order, each with the offset just past its line.

        An unreadable line (``None``) is logged; the caller passes it like the others.
        """
        with self._cond:
            start, end = self._offset, self._size
        if end <= start:
            return []
        chunk = os.pread(self._fd, min(end - start, 4 << 20), start)
        if b"\n" not in chunk:  # one line longer than the chunk
            chunk = os.pread(self._fd, end - start, start)
        out: list[tuple[int, IncidentEvent | None]] = []
        pos = start
        for line in chunk.split(b"\n")[:-1][:limit]:
            pos += len(line) + 1
            try:
                out.append((pos, decode_event(line)))
            except (ValueError, TypeError, KeyError) as exc:
                log.error("event journal %s: skipping an unreadable line before byte %d: %s", self.path, pos, exc)
                out.append((pos, None))
        return out

    def advance(self, offset: int) -> None:
        """Everything before ``offset`` is stored; empty the file once nothing is left."""
        with self._cond:
            self._offset = max(self._offset, offset)
            if self._offset >= self._size:
                os.ftruncate(self._fd, 0)
                os.fsync(self._fd)
                self._offset = self._size = 0
            elif self._offset > self.max_bytes // 2:
                self._compact()
            self._cond.notify_all()

    def close(self, remove_if_empty: bool = True) -> None:
        """Close the file; an empty journal is removed (nothing is left to replay)."""
        with self._cond:
            empty = self._size == 0
            os.close(self._fd)
            self._fd = -1
        if empty and remove_if_empty:
            self.path.unlink(missing_ok=True)

    # -- internals ---------------------------------------------------------------------------

    def _drop_torn_tail(self) -> int:
        """A crash during an append can leave half a line at the end: cut it off, keep the rest."""
        size = os.fstat(self._fd).st_size
        if size == 0:
            return 0
        data = os.pread(self._fd, size, 0)
        keep = data.rfind(b"\n") + 1
        if keep < size:
            log.warning("event journal %s: dropping a torn last line (%d bytes)", self.path, size - keep)
            os.ftruncate(self._fd, keep)
            os.fsync(self._fd)
        if keep:
            log.warning("event journal %s holds events of an earlier run; they are stored first", self.path)
        return keep

    def _compact(self) -> None:
        """Rewrite the unstored tail to a new file (atomic rename), so the file does not grow without bound."""
        tmp = self.path.with_name(self.path.name + ".compact")
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
        pos = self._offset
        while pos < self._size:
            chunk = os.pread(self._fd, min(self._size - pos, 1 << 20), pos)
            os.write(fd, chunk)
            pos += len(chunk)
        os.fsync(fd)
        tmp.replace(self.path)
        _fsync_dir(self.path.parent)
        os.close(self._fd)
        self._fd = fd
        self._size -= self._offset
        self._offset = 0
