"""Alembic migrations: up, down, up again, and the models agree with the migrations."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from api import migrations
from tests.conftest import PG_OK, PG_SKIP_REASON, pg_url_for

EXPECTED_TABLES = {
    "threads",
    "messages",
    "artifacts",
    "artifact_versions",
    "sessions",
    "tool_calls",
    "approval_requests",
    "users",
    "auth_sessions",
    "api_keys",
    "audit_log",
    "idempotency_keys",
    "one_time_links",
    "refresh_tokens",
    "server_secrets",
    "webhook_endpoints",
    "webhook_deliveries",
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    if not PG_OK:
        pytest.skip(PG_SKIP_REASON)
    name = f"threadline_migrate_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(pg_url_for("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield pg_url_for(name)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def table_names(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        names = set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
        # The title search index's own tables (SQLite FTS5) are not models.
        return {name for name in names if not name.startswith("threads_title_fts")}
    finally:
        engine.dispose()


def test_upgrade_empty_database_to_head_creates_every_table(empty_database):
    migrations.upgrade(empty_database)
    assert table_names(empty_database) == EXPECTED_TABLES
    assert migrations.current_revision(empty_database) is not None


def test_downgrade_to_base_then_upgrade_again(empty_database):
    migrations.upgrade(empty_database)
    head = migrations.current_revision(empty_database)
    migrations.downgrade(empty_database, "base")
    assert table_names(empty_database) == set()
    assert migrations.current_revision(empty_database) is None
    migrations.upgrade(empty_database)
    assert migrations.current_revision(empty_database) == head
    assert table_names(empty_database) == EXPECTED_TABLES


def test_models_and_migrations_agree(empty_database):
    migrations.upgrade(empty_database)
    assert migrations.differences(empty_database) == []


def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_busy_timeout(sqlite_url):
    from api.db import get_engine

    with get_engine().connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10000


def test_title_search_uses_the_trigram_index_and_stays_in_step(database_url):
    """Migration 0004: titles found through the index after insert, update and delete."""
    import asyncio

    from api.calls import call
    from api.cli import CLI_CALLER
    from api.db import get_engine

    async def scenario() -> list[list[str]]:
        first = await call("threads:create", {"title": "Migrate the Billing cron"}, CLI_CALLER)
        await call("threads:create", {"title": "Fix the login flow"}, CLI_CALLER)
        found = []
        for search in ("billing CRON", "login", "nothing like it"):
            page = await call(
                "threads:list",
                {"paginationOpts": {"numItems": 10, "cursor": None}, "search": search},
                CLI_CALLER,
            )
            found.append([t["title"] for t in page["page"]])
        await call("threads:update", {"threadId": first, "title": "Renamed"}, CLI_CALLER)
        for search in ("billing", "renamed"):
            page = await call(
                "threads:list",
                {"paginationOpts": {"numItems": 10, "cursor": None}, "search": search},
                CLI_CALLER,
            )
            found.append([t["title"] for t in page["page"]])
        await call("threads:remove", {"threadId": first}, CLI_CALLER)
        page = await call(
            "threads:list",
            {"paginationOpts": {"numItems": 10, "cursor": None}, "search": "renamed"},
            CLI_CALLER,
        )
        found.append([t["title"] for t in page["page"]])
        return found

    assert asyncio.run(scenario()) == [
        ["Migrate the Billing cron"],
        ["Fix the login flow"],
        [],
        [],
        ["Renamed"],
        [],
    ]
    with get_engine().connect() as conn:
        if conn.dialect.name == "sqlite":
            plan = conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT rowid FROM threads_title_fts WHERE title LIKE '%abc%'"
            ).all()
            assert any("VIRTUAL TABLE INDEX" in str(row) for row in plan)
        else:
            indexes = (
                conn.exec_driver_sql("SELECT indexname FROM pg_indexes WHERE tablename = 'threads'")
                .scalars()
                .all()
            )
            assert "ix_threads_title_trgm" in indexes


def test_title_search_of_a_common_word_reads_newest_first_instead(database_url, monkeypatch):
    import asyncio

    from api.calls import call
    from api.cli import CLI_CALLER
    from api.functions import threads as thread_functions

    monkeypatch.setattr(thread_functions, "COMMON_TITLE_MATCHES", 3)

    async def scenario() -> list[str]:
        for i in range(6):
            await call("threads:create", {"title": f"Common word {i}"}, CLI_CALLER)
        await call("threads:create", {"title": "Something else"}, CLI_CALLER)
        titles, cursor = [], None
        while True:
            page = await call(
                "threads:list",
                {"paginationOpts": {"numItems": 4, "cursor": cursor}, "search": "COMMON"},
                CLI_CALLER,
            )
            titles += [t["title"] for t in page["page"]]
            if page["isDone"]:
                return titles
            cursor = page["continueCursor"]

    assert asyncio.run(scenario()) == [f"Common word {i}" for i in reversed(range(6))]
