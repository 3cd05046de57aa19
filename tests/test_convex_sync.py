"""The Convex sync WebSocket (api/sync) driven by the official ConvexClient (npm convex 1.48.0)
against a real server process (granian, as in production)."""

from __future__ import annotations

import pytest

from api.calls import call
from api.cli import CLI_CALLER
from tests.convex_support import run_scenario
from tests.server_process import ServerProcess


@pytest.fixture
def server(database_url):
    process = ServerProcess(database_url).start()
    yield process
    process.stop()


@pytest.fixture
async def threads(api_key):
    caller = CLI_CALLER
    return [await call("threads:create", {"title": f"sync {index}"}, caller) for index in range(2)]


def _env(api_key, people, threads, **extra):
    return {
        "key": api_key,
        "token": people["admin"]["token"],
        "viewer_token": people["viewer"]["token"],
        "thread": threads[0],
        "other_thread": threads[1],
        **extra,
    }


def test_subscription_gets_live_updates_in_order(server, api_key, people, threads):
    lines = run_scenario("live", server.url, **_env(api_key, people, threads))
    assert "ok live update after an HTTP write" in lines
    assert "ok order" in lines
    assert "ok unrelated query not updated" in lines


def test_artifact_and_approval_subscriptions_update_live(server, api_key, people, threads):
    lines = run_scenario("families", server.url, **_env(api_key, people, threads))
    assert "ok artifacts:get updates live" in lines
    assert "ok approvalRequests:list updates live" in lines


def test_mutation_over_the_socket(server, api_key, people, threads):
    lines = run_scenario("mutation", server.url, **_env(api_key, people, threads))
    assert "ok read your writes" in lines


def test_forbidden_mutation_throws_the_servers_message(server, api_key, people, threads):
    lines = run_scenario("forbidden", server.url, **_env(api_key, people, threads))
    assert "ok forbidden mutation throws the server's message" in lines


def test_unauthenticated_socket_gets_no_data(server, api_key, people, threads):
    lines = run_scenario("anonymous", server.url, **_env(api_key, people, threads))
    assert "ok unauthenticated socket gets no data" in lines


def test_api_key_as_admin_auth_and_bad_tokens(server, api_key, people, threads):
    lines = run_scenario("tokens", server.url, **_env(api_key, people, threads))
    assert "ok bad token reported as not authenticated" in lines


async def test_reconnect_does_not_apply_a_mutation_twice(server, api_key, people, threads):
    lines = run_scenario("reconnect", server.url, **_env(api_key, people, threads))
    assert "ok applied once" in lines
    messages = await call("messages:list", {"threadId": threads[0]}, CLI_CALLER)
    assert [m["content"] for m in messages] == ["exactly once"]


def test_jwt_from_auth_sign_in_refresh_and_sign_out(server, api_key, people, threads):
    env = _env(api_key, people, threads, email=people["viewer"]["email"])
    env["password"] = people["viewer"]["password"]
    lines = run_scenario("jwt", server.url, **env)
    assert "ok token refreshed after confirmation" in lines
    assert "ok sign-out drops the socket's identity" in lines
    assert "ok queries fail once signed out" in lines


def test_disabling_a_person_drops_their_socket(server, api_key, people, threads):
    env = _env(api_key, people, threads, user_id=people["reviewer"]["id"])
    env["token"] = people["reviewer"]["token"]
    env["admin_token"] = people["admin"]["token"]
    lines = run_scenario("revoked", server.url, **env)
    assert "ok disabling the person drops the socket's identity" in lines


@pytest.mark.postgres
def test_write_on_one_worker_updates_a_subscription_on_another(
    database_url, api_key, people, threads
):
    """Two servers on one PostgreSQL database and one Redis, as two workers would be."""
    import uuid

    from tests.test_scale_out import REDIS_URL, _redis_ok

    if not database_url.startswith("postgresql"):
        pytest.skip("several workers run on PostgreSQL")
    if not _redis_ok():
        pytest.skip("needs TEST_REDIS_URL pointing at a reachable Redis")
    env = {"REDIS_URL": REDIS_URL, "REDIS_CHANNEL": f"threadline-test-{uuid.uuid4().hex[:8]}"}
    servers = [ServerProcess(database_url, **env).start() for _ in range(2)]
    try:
        lines = run_scenario(
            "workers",
            servers[0].url,
            **_env(api_key, people, threads, other_url=servers[1].url),
        )
    finally:
        for process in servers:
            process.stop()
    assert "ok write on one worker updates the other's subscription" in lines


def test_official_python_client(server, api_key, people, threads):
    """PyPI convex 0.8.1 (Convex's Rust client), which is stricter about the protocol."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parent / "convex_py_checks.py"
    completed = subprocess.run(
        [sys.executable, str(script), server.url, api_key, people["viewer"]["token"], threads[0]],
        capture_output=True,
        text=True,
        timeout=90,
    )
    print(completed.stdout)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "ok live update after an HTTP write" in completed.stdout
    assert "ok forbidden mutation throws" in completed.stdout


def test_socket_is_served_on_the_console_port_through_reflex(
    database_url, api_key, people, threads
):
    """`make run` serves Reflex with the API mounted by api_transformer: the sync route reaches
    the API app there too (Reflex's own socket is /_event)."""
    from bench._servers import threadline_server

    if not database_url.startswith("sqlite"):
        pytest.skip("one database is enough for the hosting check")
    with threadline_server({"DATABASE_URL": database_url, "BCRYPT_ROUNDS": "4"}) as url:
        lines = run_scenario("mutation", url, **_env(api_key, people, threads))
    assert "ok read your writes" in lines
