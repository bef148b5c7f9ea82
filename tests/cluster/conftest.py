"""One throw-away PostgreSQL server for the cluster tests (cluster mode refuses SQLite)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.storage.test_db import PostgresServer, started_postgres


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    server = started_postgres()
    yield server
    server.stop()
