"""The local event journal: durable, ordered, bounded, and readable after a crash."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests.storage.test_db import make_event
from vigil.storage.journal import EventJournal, JournalFullError, encode_event


def test_events_come_back_in_order_exactly_and_the_file_empties(tmp_path: Path) -> None:
    journal = EventJournal(tmp_path / "j" / "events.journal")
    bbox = (1.25, 2.125, 30.0625, 40.5)  # to_dict() would round these: the journal must not
    events = [make_event("inc-1", i, "new" if i == 0 else "update", bbox=bbox) for i in range(5)]
    for event in events:
        journal.append(event)
    assert journal.pending_events() == 5
    got = journal.peek(3)
    assert [e for _, e in got] == events[:3]  # the same dataclasses, floats unrounded
    journal.advance(got[1][0])
    assert [e for _, e in journal.peek()] == events[2:]
    journal.advance(journal.peek()[-1][0])
    assert journal.pending_events() == 0 and (tmp_path / "j" / "events.journal").stat().st_size == 0
    journal.close()
    assert not (tmp_path / "j" / "events.journal").exists()  # nothing left to replay


def test_what_was_not_stored_is_there_after_a_crash_and_a_torn_line_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "events.journal"
    journal = EventJournal(path)
    for i in range(3):
        journal.append(make_event("inc-1", i))
    journal.advance(journal.peek(1)[0][0])  # the first one is stored
    # A crash in the middle of the next append leaves half a line behind.
    with path.open("ab") as f:
        f.write(encode_event(make_event("inc-1", 3))[:40])
    again = EventJournal(path)  # the next start, without closing the first (as after a kill)
    assert [e.sequence for _, e in again.peek()] == [0, 1, 2]  # stored again idempotently: nothing is lost
    again.append(make_event("inc-1", 4))
    assert [e.sequence for _, e in again.peek()] == [0, 1, 2, 4]
    again.close()


def test_a_full_journal_makes_the_writer_wait_until_there_is_room(tmp_path: Path) -> None:
    journal = EventJournal(
        tmp_path / "events.journal", max_bytes=sum(len(encode_event(make_event("inc-1", i))) for i in range(3))
    )
    for i in range(3):
        journal.append(make_event("inc-1", i))
    with pytest.raises(JournalFullError):
        journal.append(make_event("inc-1", 3), timeout=0.2)

    def store_later() -> None:
        time.sleep(0.3)
        journal.advance(journal.peek()[-1][0])

    threading.Thread(target=store_later).start()
    t0 = time.monotonic()
    journal.append(make_event("inc-1", 3), timeout=10)  # waits for the database to take the others
    assert 0.2 < time.monotonic() - t0 < 5
    assert [e.sequence for _, e in journal.peek()] == [3]
    journal.close()


def test_a_long_backlog_is_compacted_as_it_drains(tmp_path: Path) -> None:
    events = [make_event("inc-1", i) for i in range(20)]
    sizes = [len(encode_event(e)) for e in events]
    path = tmp_path / "events.journal"
    journal = EventJournal(path, max_bytes=sum(sizes))
    for event in events:
        journal.append(event)
    stored = journal.peek(12)
    journal.advance(stored[-1][0])  # more than half stored: the rest is rewritten to a fresh file
    assert path.stat().st_size == sum(sizes[12:])
    assert [e.sequence for _, e in journal.peek()] == list(range(12, 20))
    journal.append(make_event("inc-1", 20))
    assert [e.sequence for _, e in journal.peek()][-1] == 20
    journal.close()
