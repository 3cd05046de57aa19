"""The `threadline` command line, run as a real subprocess against a SQLite file."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import httpx
import pytest

from api.http import create_api


def threadline(
    database_url: str, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url, "BCRYPT_ROUNDS": "4"}
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def fresh_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def test_migrate_creates_the_schema_and_is_repeatable(fresh_url):
    first = threadline(fresh_url, "migrate")
    assert first.returncode == 0, first.stderr
    assert "database at revision" in first.stdout
    assert threadline(fresh_url, "migrate").returncode == 0


def test_create_user_with_password_and_duplicate_email_is_refused(fresh_url):
    threadline(fresh_url, "migrate")
    created = threadline(
        fresh_url,
        "create-user",
        "--email",
        "Ada@Example.com",
        "--name",
        "Ada",
        "--role",
        "admin",
        "--password",
        "correct horse",
    )
    assert created.returncode == 0, created.stderr
    assert "created admin ada@example.com" in created.stdout
    again = threadline(
        fresh_url,
        "create-user",
        "--email",
        "ada@example.com",
        "--name",
        "Ada",
        "--role",
        "viewer",
        "--password",
        "correct horse",
    )
    assert again.returncode == 1
    assert "already exists" in again.stderr


def test_create_user_prompts_for_the_password_when_none_is_given(fresh_url):
    threadline(fresh_url, "migrate")
    # getpass falls back to reading stdin when there is no terminal.
    created = threadline(
        fresh_url,
        "create-user",
        "--email",
        "bo@example.com",
        "--name",
        "Bo",
        "--role",
        "reviewer",
        stdin="a long password\na long password\n",
    )
    assert created.returncode == 0, created.stderr + created.stdout


def test_create_user_refuses_a_short_password(fresh_url):
    threadline(fresh_url, "migrate")
    result = threadline(
        fresh_url,
        "create-user",
        "--email",
        "c@example.com",
        "--name",
        "C",
        "--role",
        "viewer",
        "--password",
        "short",
    )
    assert result.returncode == 1
    assert "at least 8" in result.stderr


async def test_api_key_is_printed_last_works_and_stops_working_when_revoked(fresh_url, monkeypatch):
    threadline(fresh_url, "migrate")
    created = threadline(fresh_url, "create-api-key", "--name", "backend")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("tlk_")

    listed = threadline(fresh_url, "list-api-keys")
    key_id = listed.stdout.split()[0]
    assert key_id.startswith("key_") and "active" in listed.stdout
    assert key not in listed.stdout  # only the prefix is ever shown again

    from api import db, writer
    from api.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", fresh_url)
    get_settings.cache_clear()
    db.reset_engines()
    writer.reset_writers()
    body = {"path": "threads:create", "args": {"title": "x"}}
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_api()), base_url="http://t"
    ) as http:
        assert (await http.post("/api/mutation", json=body, headers=headers)).json()[
            "status"
        ] == "success"
        revoked = threadline(fresh_url, "revoke-api-key", key_id)
        assert revoked.returncode == 0, revoked.stderr
        # The server trusts a verified key for AUTH_CACHE_SECONDS (1 s) unless told of the change
        # in-process; a revocation from another process is seen once that has passed.
        for _ in range(50):
            status = (await http.post("/api/mutation", json=body, headers=headers)).status_code
            if status == 401:
                break
            await asyncio.sleep(0.1)
        assert status == 401
    db.reset_engines()
    get_settings.cache_clear()


def test_set_role_disable_and_last_admin_protection(fresh_url):
    threadline(fresh_url, "migrate")
    threadline(
        fresh_url,
        "create-user",
        "--email",
        "a@x.io",
        "--name",
        "A",
        "--role",
        "admin",
        "--password",
        "password-a",
    )
    threadline(
        fresh_url,
        "create-user",
        "--email",
        "b@x.io",
        "--name",
        "B",
        "--role",
        "viewer",
        "--password",
        "password-b",
    )
    demote = threadline(fresh_url, "set-role", "a@x.io", "viewer")
    assert demote.returncode == 1 and "last active admin" in demote.stderr
    assert threadline(fresh_url, "set-role", "b@x.io", "reviewer").returncode == 0
    assert threadline(fresh_url, "disable", "b@x.io").returncode == 0
    assert threadline(fresh_url, "enable", "b@x.io").returncode == 0
    unknown = threadline(fresh_url, "disable", "nobody@x.io")
    assert unknown.returncode == 1 and "no person" in unknown.stderr


def test_demo_data_fills_threads_a_long_thread_and_pending_requests(fresh_url):
    threadline(fresh_url, "migrate")
    result = threadline(
        fresh_url, "demo-data", "--threads", "60", "--big-thread-messages", "120", "--pending", "3"
    )
    assert result.returncode == 0, result.stderr
    assert "60 threads" in result.stdout
    printed_pending = int(
        next(line for line in result.stdout.splitlines() if "pending approvals" in line).split()[0]
    )
    big = result.stdout.strip().splitlines()[-1].split()[-1]
    import sqlalchemy as sa

    engine = sa.create_engine(fresh_url)
    with engine.connect() as conn:
        threads = conn.execute(sa.text("SELECT count(*) FROM threads")).scalar_one()
        pending = conn.execute(
            sa.text("SELECT count(*) FROM approval_requests WHERE status = 'pending'")
        ).scalar_one()
        orders = (
            conn.execute(
                sa.text('SELECT "order" FROM messages WHERE thread_id = :t ORDER BY "order"'),
                {"t": big},
            )
            .scalars()
            .all()
        )
    engine.dispose()
    assert threads == 61
    assert pending == printed_pending <= 3
    assert orders == list(range(120))
