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
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
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
