"""Shared fixtures: a migrated database per test (SQLite always; PostgreSQL when
TEST_DATABASE_URL is set), an httpx client on the ASGI app, and credentials for every role.

    async def test_something(api, key_headers):
        value = await api.mutation("threads:create", {"title": "x"}, headers=key_headers)
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

os.environ.setdefault("BCRYPT_ROUNDS", "4")  # tests only; the default is 12

from sqlmodel import SQLModel  # noqa: E402

import models  # noqa: E402, F401
from api import db, migrations, writer  # noqa: E402
from api.settings import get_settings  # noqa: E402

PG_URL = os.environ.get("TEST_DATABASE_URL")


def _pg_reachable() -> bool:
    if not PG_URL:
        return False
    try:
        engine = sa.create_engine(get_settings().__class__(database_url=PG_URL).sqlalchemy_url)
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


PG_OK = _pg_reachable()
PG_SKIP_REASON = (
    "PostgreSQL tests need TEST_DATABASE_URL (e.g. postgresql://postgres@127.0.0.1/test)"
    if not PG_URL
    else f"PostgreSQL at TEST_DATABASE_URL={PG_URL} is not reachable"
)


def pg_url_for(database: str) -> str:
    return (
        sa.make_url(get_settings().__class__(database_url=PG_URL).sqlalchemy_url)
        .set(database=database)
        .render_as_string(hide_password=False)
    )


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> str:
    """A migrated SQLite file, copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrations.upgrade(f"sqlite:///{path}")
    return str(path)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A throwaway PostgreSQL database for this test session, migrated to head."""
    if not PG_OK:
        pytest.skip(PG_SKIP_REASON)
    name = f"threadline_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(pg_url_for("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = pg_url_for(name)
    migrations.upgrade(url)
    yield url
    db.reset_engines()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


_cleaners: dict[str, sa.Engine] = {}


def _truncate_all(url: str) -> None:
    """Empty every table. DELETE is several times faster than TRUNCATE on these small tables;
    replica mode switches triggers off (the audit log's append-only guard) for this transaction."""
    engine = _cleaners.get(url)
    if engine is None:
        engine = _cleaners[url] = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        for table in reversed(SQLModel.metadata.sorted_tables):
            conn.execute(table.delete())


def _use_database(monkeypatch, url: str) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    db.reset_engines()
    writer.reset_writers()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, monkeypatch, tmp_path, sqlite_template) -> Iterator[str]:
    """The test's own database, on SQLite and (when available) on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "threadline.db"
        shutil.copy(sqlite_template, path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("pg_database")
        _truncate_all(url)
    _use_database(monkeypatch, url)
    yield url
    db.reset_engines()
    writer.reset_writers()
    get_settings.cache_clear()


@pytest.fixture
def sqlite_url(monkeypatch, tmp_path, sqlite_template) -> Iterator[str]:
    """SQLite only, for tests whose subject is not the database."""
    path = tmp_path / "threadline.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    _use_database(monkeypatch, url)
    yield url
    db.reset_engines()
    writer.reset_writers()
    get_settings.cache_clear()


class FunctionFailed(AssertionError):
    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(body.get("errorMessage"))
        self.body = body


@dataclass
class Api:
    """Thin helpers over the HTTP API for tests."""

    http: httpx.AsyncClient
    headers: dict[str, str]

    async def raw(
        self, endpoint: str, path: str, args: Any, headers=None, **extra
    ) -> httpx.Response:
        body = {"path": path, "args": args, **extra}
        return await self.http.post(endpoint, json=body, headers=headers or self.headers)

    async def mutation(self, path: str, args: Any = None, headers=None) -> Any:
        return _value(await self.raw("/api/mutation", path, args or {}, headers))

    async def query(self, path: str, args: Any = None, headers=None) -> Any:
        return _value(await self.raw("/api/query", path, args or {}, headers))

    async def error(self, endpoint: str, path: str, args: Any, headers=None) -> str:
        """Call expecting a function error; returns its message."""
        response = await self.raw(endpoint, path, args, headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "error", body
        return body["errorMessage"]

    async def mutation_error(self, path: str, args: Any, headers=None) -> str:
        return await self.error("/api/mutation", path, args, headers)

    async def query_error(self, path: str, args: Any, headers=None) -> str:
        return await self.error("/api/query", path, args, headers)


def _value(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    body = response.json()
    if body["status"] != "success":
        raise FunctionFailed(body)
    return body["value"]


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
async def http(database_url) -> AsyncIterator[httpx.AsyncClient]:
    from api.http import create_api
    from api.ingest import IngestFront

    # As served: the ingest fast lane in front (api/ingest.py), so every HTTP test runs through it.
    transport = httpx.ASGITransport(app=IngestFront(create_api()))
    async with httpx.AsyncClient(transport=transport, base_url="http://threadline.test") as client:
        yield client


@pytest.fixture
async def people(database_url) -> dict[str, dict[str, str]]:
    """One person per role: {role: {"id", "email", "password", "token"}}."""
    from api.calls import call
    from api.cli import CLI_CALLER
    from api.services import signin

    result = {}
    for role in ("admin", "reviewer", "viewer", "user"):
        email, password = f"{role}@example.com", f"{role}-password-1"
        user_id = await call(
            "users:create",
            {"email": email, "name": role.title(), "role": role, "password": password},
            CLI_CALLER,
        )
        session = await signin.sign_in(email, password)
        result[role] = {"id": user_id, "email": email, "password": password, "token": session.token}
    return result


@pytest.fixture
async def api_key(database_url) -> str:
    from api.calls import call
    from api.cli import CLI_CALLER

    created = await call("apiKeys:create", {"name": "test backend"}, CLI_CALLER)
    return created["key"]


@pytest.fixture
def key_headers(api_key) -> dict[str, str]:
    return bearer(api_key)


@pytest.fixture
def api(http, key_headers) -> Api:
    """The API as a backend (API key) sees it."""
    return Api(http=http, headers=key_headers)


@pytest.fixture
def as_role(http, people):
    """as_role("reviewer") -> Api authenticated as that person."""
    return lambda role: Api(http=http, headers=bearer(people[role]["token"]))


@pytest.fixture
async def thread_id(api) -> str:
    return await api.mutation("threads:create", {"title": "Test thread"})
