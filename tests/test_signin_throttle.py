"""Sign-in throttling that slows guessing without letting a stranger lock the owner out, the
client address behind trusted proxies, and anonymous input refused before any work
(docs/security.md, "Sign-in and throttling"). Time is a fake clock: no test waits."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from types import SimpleNamespace

import bcrypt
import httpx
import pytest
import sqlalchemy as sa

from api import clients, registry
from api.db import get_engine
from api.services import links, signin
from api.settings import get_settings
from models import AuditEntry

OWNER_HOME = "198.51.100.7"
ATTACKER = "203.0.113.9"


class Clock:
    """Moves time.time() forward on demand (everything that stamps or compares times reads it)."""

    def __init__(self, monkeypatch) -> None:
        self.offset = 0.0
        real = time.time
        monkeypatch.setattr(time, "time", lambda: real() + self.offset)

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture
def clock(monkeypatch) -> Iterator[Clock]:
    yield Clock(monkeypatch)
    # Creation times are kept strictly increasing in this process: back to the real clock for
    # the next test (which has its own database).
    registry._last_now = 0.0  # noqa: SLF001


@pytest.fixture
async def client_at(database_url):
    """client_at(address) -> an httpx client whose requests come from that socket address."""
    from api.http import create_api

    app = create_api()
    opened: list[httpx.AsyncClient] = []

    def make(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        client = httpx.AsyncClient(transport=transport, base_url="http://threadline.test")
        opened.append(client)
        return client

    yield make
    for client in opened:
        await client.aclose()


async def sign_in(client: httpx.AsyncClient, email: str, password: str, **headers: str):
    return await client.post(
        "/api/auth/signin", json={"email": email, "password": password}, headers=headers
    )


def failures() -> list[dict]:
    table = AuditEntry.__table__
    with get_engine().connect() as conn:
        rows = conn.execute(
            sa.select(table.c.target, table.c.actor_label, table.c.details)
            .where(table.c.action == "signin.failure")
            .order_by(table.c.creation_time)
        ).all()
    return [dict(row._mapping) for row in rows]


async def guess_at_full_speed(client, email: str, clock: Clock, count: int) -> list[int]:
    """`count` wrong guesses, each as soon as the server allows (following Retry-After)."""
    statuses = []
    for i in range(count):
        response = await sign_in(client, email, f"wrong guess {i}")
        if response.status_code == 429:
            clock.advance(int(response.headers["retry-after"]))
            response = await sign_in(client, email, f"wrong guess {i}")
        statuses.append(response.status_code)
    return statuses


# ---- the owner is not locked out ---------------------------------------------------------------


async def test_a_strangers_flood_of_guesses_does_not_lock_the_owner_out(people, client_at, clock):
    owner = people["admin"]
    home, attacker = client_at(OWNER_HOME), client_at(ATTACKER)
    assert (await sign_in(home, owner["email"], owner["password"])).status_code == 200
    for _round in range(6):
        # The attacker keeps guessing as fast as the throttle lets them...
        statuses = await guess_at_full_speed(attacker, owner["email"], clock, 8)
        assert set(statuses) == {401}
        # ...and the owner, on a device they signed in from before, is not held back at all.
        assert (await sign_in(home, owner["email"], owner["password"])).status_code == 200
    # A new device of the owner is not held back by a single attacker either (the account-wide
    # throttle starts only once PER_ACCOUNT_MIN_CLIENTS clients have failed).
    new_device = client_at("192.0.2.50")
    assert (await sign_in(new_device, owner["email"], owner["password"])).status_code == 200
    assert len(failures()) == 48


async def test_a_distributed_attack_slows_new_devices_but_not_known_ones(people, client_at, clock):
    owner = people["reviewer"]
    home = client_at(OWNER_HOME)
    assert (await sign_in(home, owner["email"], owner["password"])).status_code == 200
    for i in range(2):
        bot = client_at(f"203.0.113.{10 + i}")
        assert await guess_at_full_speed(bot, owner["email"], clock, 4) == [401] * 4
    # Two clients failing do not hold back a new device of the owner...
    assert (
        await sign_in(client_at("192.0.2.60"), owner["email"], owner["password"])
    ).status_code == 200
    third = client_at("203.0.113.12")
    assert await guess_at_full_speed(third, owner["email"], clock, 1) == [401]
    # ...a third does: 9 failures from 3 clients, and every new client now waits...
    waiting = await sign_in(client_at("203.0.113.99"), owner["email"], owner["password"])
    assert waiting.status_code == 429
    assert (
        int(waiting.headers["retry-after"]) == 16
    )  # 1 s after the 5th failure, ... 16 s after the 9th
    # ...but the owner's known device does not.
    assert (await sign_in(home, owner["email"], owner["password"])).status_code == 200


async def test_a_reset_link_gets_the_owner_in_during_a_distributed_attack(
    people, client_at, clock, as_role
):
    owner = people["viewer"]
    for i in range(4):
        await guess_at_full_speed(client_at(f"203.0.113.{20 + i}"), owner["email"], clock, 3)
    with pytest.raises(signin.TooManyAttempts):
        await signin.sign_in(owner["email"], owner["password"], ip="192.0.2.77")
    issued = await as_role("admin").mutation("users:passwordLink", {"userId": owner["id"]})
    token = issued["path"].split("token=", 1)[1]
    email = await links.redeem_password_link(token, "a brand new password")
    session = await signin.sign_in(email, "a brand new password", ip="192.0.2.77", after_link=True)
    assert session.user_id == owner["id"]


# ---- guessing stays slow -----------------------------------------------------------------------


async def test_guesses_from_one_client_wait_longer_and_longer(people, client_at, clock):
    email, attacker = people["viewer"]["email"], client_at(ATTACKER)
    free = signin.PER_ACCOUNT_AND_CLIENT.free
    for i in range(free):
        assert (await sign_in(attacker, email, f"guess {i}")).status_code == 401
    waits = []
    for i in range(14):
        refused = await sign_in(attacker, email, f"guess again {i}")
        assert refused.status_code == 429
        assert refused.json()["code"] == "TooManyAttempts"
        waits.append(int(refused.headers["retry-after"]))
        # Even the right password is refused while waiting (it is not checked at all).
        right = await sign_in(attacker, email, people["viewer"]["password"])
        assert right.status_code == 429
        clock.advance(waits[-1])
        assert (await sign_in(attacker, email, f"guess again {i}")).status_code == 401
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 3600, 3600]
    # About 39 guesses in the first day from one client, then one an hour.
    assert "try again in 60 minutes" in (await sign_in(attacker, email, "x" * 8)).json()["message"]


async def test_the_backoff_numbers_in_docs_security_md():
    backoff = signin.PER_ACCOUNT_AND_CLIENT
    day, elapsed, guesses, failures = 86400, 0.0, 0, 0
    while True:
        elapsed += backoff.delay_seconds(failures)
        if elapsed > day:
            break
        guesses, failures = guesses + 1, failures + 1
    assert guesses == 39
    assert backoff.saturation == backoff.free + 12


async def test_spraying_one_password_over_many_accounts_is_slowed_per_client(
    database_url, client_at, clock
):
    sprayer = client_at(ATTACKER)
    for i in range(signin.PER_CLIENT.free):
        assert (await sign_in(sprayer, f"person{i}@example.com", "Summer2026!")).status_code == 401
    refused = await sign_in(sprayer, "one-more@example.com", "Summer2026!")
    assert refused.status_code == 429
    # Another client is not affected.
    assert (
        await sign_in(client_at("192.0.2.1"), "one-more@example.com", "Summer2026!")
    ).status_code == 401


async def test_a_success_forgets_that_clients_own_failures(people, client_at, clock):
    viewer, home = people["viewer"], client_at(OWNER_HOME)
    for i in range(signin.PER_ACCOUNT_AND_CLIENT.free):
        assert (await sign_in(home, viewer["email"], f"typo {i}")).status_code == 401
    clock.advance(1)
    assert (await sign_in(home, viewer["email"], viewer["password"])).status_code == 200
    assert (await sign_in(home, viewer["email"], "typo again")).status_code == 401


# ---- the client address, and trusted proxies ---------------------------------------------------


@pytest.fixture
def trusted_proxies(monkeypatch):
    def use(value: str) -> None:
        monkeypatch.setenv("TRUSTED_PROXIES", value)
        get_settings.cache_clear()

    yield use
    get_settings.cache_clear()


def test_client_address_reads_x_forwarded_for_only_from_trusted_proxies(trusted_proxies):
    trusted_proxies("10.0.0.0/8, 2001:db8::1")
    chain = "198.51.100.1, 203.0.113.9, 10.1.2.3"
    assert clients.client_address("10.0.0.1", chain) == "203.0.113.9"
    # Several headers count in order, as one list.
    assert clients.client_address("10.0.0.1", ["198.51.100.1", "203.0.113.9, 10.1.2.3"]) == (
        "203.0.113.9"
    )
    assert clients.client_address("2001:db8::1", "[2001:db8::5]:443") == "2001:db8::5"
    assert clients.client_address("10.0.0.1", "203.0.113.9:5555") == "203.0.113.9"
    # An untrusted peer's header is ignored, whatever it says.
    assert clients.client_address("192.0.2.8", "10.0.0.1, 203.0.113.9") == "192.0.2.8"
    # A made-up hop stops the walk at the last proxy that relayed it.
    assert clients.client_address("10.0.0.1", "203.0.113.9, not-an-ip") == "10.0.0.1"
    assert clients.client_address("10.0.0.1", None) == "10.0.0.1"
    assert clients.client_address("10.0.0.1", "10.0.0.2") == "10.0.0.2"
    # Without the setting, nobody's header counts.
    trusted_proxies("")
    assert clients.client_address("10.0.0.1", "203.0.113.9") == "10.0.0.1"


def test_a_bad_trusted_proxies_setting_is_refused_with_its_name(trusted_proxies):
    trusted_proxies("10.0.0.0/8, proxy.internal")
    with pytest.raises(ValueError, match="TRUSTED_PROXIES: 'proxy.internal' is not an IP"):
        get_settings()


def test_ipv6_clients_are_throttled_per_64():
    assert clients.throttle_key("2001:db8:1:2::a") == clients.throttle_key("2001:db8:1:2:ffff::1")
    assert clients.throttle_key("2001:db8:1:3::a") != clients.throttle_key("2001:db8:1:2::a")
    assert clients.throttle_key("::ffff:192.0.2.1") == "192.0.2.1"


def test_the_console_takes_the_client_address_from_the_socket(trusted_proxies):
    def router(peer: str, forwarded: str | None):
        headers = {"x-forwarded-for": forwarded} if forwarded else {}
        return SimpleNamespace(
            session=SimpleNamespace(client_ip=peer),
            headers=SimpleNamespace(raw_headers=headers),
        )

    trusted_proxies("127.0.0.1")
    assert clients.from_router(router("127.0.0.1", "203.0.113.9")) == "203.0.113.9"
    assert clients.from_router(router("192.0.2.8", "203.0.113.9")) == "192.0.2.8"
    assert clients.from_router(router("", None)) is None


async def test_behind_a_trusted_proxy_the_attacker_is_told_apart_from_the_owner(
    people, client_at, clock, trusted_proxies
):
    trusted_proxies("10.0.0.1")
    owner, proxy = people["admin"], client_at("10.0.0.1")
    home = {"X-Forwarded-For": OWNER_HOME}
    assert (await sign_in(proxy, owner["email"], owner["password"], **home)).status_code == 200
    for i in range(30):
        attempt = await sign_in(
            proxy, owner["email"], f"guess {i}", **{"X-Forwarded-For": f"1.2.3.4, {ATTACKER}"}
        )
        assert attempt.status_code in (401, 429)
    assert (await sign_in(proxy, owner["email"], owner["password"], **home)).status_code == 200
    # The failures were counted against the attacker's address, not the proxy's nor the
    # address the attacker wrote themselves.
    assert {row["actor_label"] for row in failures()} == {ATTACKER}


async def test_x_forwarded_for_from_an_untrusted_peer_is_not_honoured(
    people, client_at, clock, trusted_proxies
):
    trusted_proxies("10.0.0.1")
    attacker = client_at(ATTACKER)
    for i in range(3):
        # Each guess claims a new address: the claims are ignored, the guesses add up.
        await sign_in(
            attacker, people["viewer"]["email"], "wrong guess", **{"X-Forwarded-For": f"9.9.9.{i}"}
        )
    assert [row["actor_label"] for row in failures()] == [ATTACKER] * 3


# ---- anonymous input refused before any work ---------------------------------------------------


@pytest.fixture
def bcrypt_calls(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = bcrypt.checkpw

    def counting(password, hashed):
        calls.append(1)
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting)
    return calls


async def test_an_oversized_email_is_refused_without_hashing(people, http, bcrypt_calls):
    response = await http.post(
        "/api/auth/signin", json={"email": "a" * 310 + "@example.com", "password": "x" * 8}
    )
    assert response.status_code == 400
    assert response.json() == {
        "code": "BadRequest",
        "message": "email must be at most 320 characters",
    }
    assert bcrypt_calls == []
    # A normal attempt does check a hash (so the counter counts).
    await http.post("/api/auth/signin", json={"email": "x@example.com", "password": "x" * 8})
    assert bcrypt_calls == [1]


async def test_an_oversized_password_is_refused_without_hashing(people, http, bcrypt_calls):
    for password in ("p" * 73, "é" * 37):  # 73 and 74 bytes
        response = await http.post(
            "/api/auth/signin", json={"email": people["viewer"]["email"], "password": password}
        )
        assert response.status_code == 400
        assert response.json()["message"] == "password must be at most 72 bytes"
    assert bcrypt_calls == []
    assert failures() == []
    with pytest.raises(signin.BadSignInInput, match="password must be at most 72 bytes"):
        await signin.sign_in(people["viewer"]["email"], "p" * 100)


async def test_an_oversized_sign_in_body_is_refused_before_parsing(database_url, http, monkeypatch):
    parsed: list[int] = []
    real_loads = json.loads

    def counting_loads(*args, **kwargs):
        parsed.append(1)
        return real_loads(*args, **kwargs)

    monkeypatch.setattr(json, "loads", counting_loads)
    body = json.dumps({"email": "x@example.com", "password": "y" * 8, "pad": "z" * 5000})
    declared = await http.post(
        "/api/auth/signin", content=body, headers={"content-type": "application/json"}
    )

    async def chunks():  # no Content-Length: counted as it arrives
        for _ in range(10):
            yield b" " * 1000

    streamed = await http.post("/api/auth/signin", content=chunks())
    assert parsed == []  # (before reading the answers, which parses them)
    assert declared.status_code == streamed.status_code == 413
    assert declared.json()["message"] == "Request body is larger than 4096 bytes"


# ---- @convex-dev/auth's auth:signIn applies the same limits ------------------------------------


def _password_action(email: str, password: str) -> dict:
    params = {"email": email, "password": password, "flow": "signIn"}
    return {"path": "auth:signIn", "args": {"provider": "password", "params": params}}


async def test_auth_sign_in_action_has_the_same_limits(
    people, client_at, clock, bcrypt_calls, trusted_proxies
):
    trusted_proxies("10.0.0.1")
    proxy = client_at("10.0.0.1")
    attacker = {"X-Forwarded-For": ATTACKER}
    long_email = await proxy.post(
        "/api/action", json=_password_action("a" * 321, "x" * 8), headers=attacker
    )
    assert long_email.json()["errorMessage"] == "email must be at most 320 characters"
    assert bcrypt_calls == []
    big = await proxy.post(
        "/api/action", json={**_password_action("a@example.com", "x" * 8), "pad": "z" * 5000}
    )
    assert big.status_code == 413
    email = people["viewer"]["email"]
    for _ in range(signin.PER_ACCOUNT_AND_CLIENT.free):
        await proxy.post("/api/action", json=_password_action(email, "wrong"), headers=attacker)
    blocked = await proxy.post(
        "/api/action", json=_password_action(email, people["viewer"]["password"]), headers=attacker
    )
    assert "Too many failed sign-in attempts" in blocked.json()["errorMessage"]
    assert {row["actor_label"] for row in failures()} == {ATTACKER}
    # The owner, elsewhere behind the same proxy, is not held back.
    owner = await proxy.post(
        "/api/action",
        json=_password_action(email, people["viewer"]["password"]),
        headers={"X-Forwarded-For": OWNER_HOME},
    )
    assert owner.json()["status"] == "success"


@pytest.fixture
def bcrypt_hashes(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = bcrypt.hashpw

    def counting(password, salt):
        calls.append(1)
        return real(password, salt)

    monkeypatch.setattr(bcrypt, "hashpw", counting)
    return calls


async def test_setup_and_password_links_hash_nothing_for_a_dead_token(
    people, bcrypt_hashes, as_role
):
    from api.errors import FunctionError

    for token in ("", "tlo_guess", "x" * 5000):
        with pytest.raises(FunctionError, match="setup link is not valid any more"):
            await links.complete_setup(token, "x@example.com", "X", "a good password")
        with pytest.raises(FunctionError, match="link is not valid any more"):
            await links.redeem_password_link(token, "a good password")
    assert bcrypt_hashes == []
    # A live link does hash (so the counter counts), and a too-long password is refused first.
    issued = await as_role("admin").mutation(
        "users:passwordLink", {"userId": people["viewer"]["id"]}
    )
    token = issued["path"].split("token=", 1)[1]
    with pytest.raises(FunctionError, match="at most 72 bytes"):
        await links.redeem_password_link(token, "p" * 73)
    assert bcrypt_hashes == []
    await links.redeem_password_link(token, "a good password")
    assert bcrypt_hashes == [1]
