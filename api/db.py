"""The SQLAlchemy engine: one per process, configured for the database in use.

SQLite runs in WAL mode with a busy timeout and foreign keys on. `synchronous=NORMAL` in WAL mode
keeps every committed transaction across a crash of the server process (it is in the WAL file the
moment COMMIT returns); only an operating-system crash or power loss can lose the last commits.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool

from api.settings import get_settings

_engines: dict[str, Engine] = {}


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # pysqlite's own transaction handling is switched off (isolation_level=None) so that
    # BEGIN IMMEDIATE below takes the write lock at the start of each write transaction.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB of page cache per connection
    cursor.execute("PRAGMA mmap_size=268435456")  # reads straight from the mapped file
    cursor.close()


def _sqlite_begin(conn) -> None:
    # Writers take the lock up front: a deferred transaction that upgrades to a writer
    # later can fail with SQLITE_BUSY without waiting for busy_timeout.
    writer = conn.get_execution_options().get("writer", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")


def in_memory(url: str) -> bool:
    """Whether `url` is an in-memory SQLite database (one process's only: a worker process
    cannot open it)."""
    return url in ("sqlite://", "sqlite:///:memory:")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        memory = in_memory(url)
        if not memory:
            path = url.split("///", 1)[1]
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 10},
            poolclass=StaticPool if memory else None,
        )
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    return sa.create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def get_engine() -> Engine:
    return engine_for(get_settings().sqlalchemy_url)


def engine_for(url: str) -> Engine:
    """This process's engine for `url` (a worker process gets the URL from its job)."""
    engine = _engines.get(url)
    if engine is None:
        engine = _engines[url] = make_engine(url)
    return engine


def sole_engine_for(url: str) -> Engine:
    """engine_for(url), after disposing any other: a worker process (api/processes.py) keeps
    one engine, for the database its latest job named (tests give each job another one)."""
    if url not in _engines:
        reset_engines()
    return engine_for(url)


def reset_engines() -> None:
    """Dispose every engine (tests switch databases by changing settings)."""
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()
