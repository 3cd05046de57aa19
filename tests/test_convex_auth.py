"""@convex-dev/auth's Password sign-in over POST /api/action (api/sync/convex_auth.py): the wire
format, JWT claims, refresh-token rotation and reuse, sign-out, and the shared sign-in limits."""

from __future__ import annotations

import jwt
import pytest

from api.sync import convex_auth
from tests.conftest import bearer


async def _action(http, path, args, headers=None):
    response = await http.post(
        "/api/action",
        json={"path": path, "format": "convex_encoded_json", "args": [args]},
        headers=headers or {},
    )
    assert response.status_code == 200, response.text
    return response.json()


def _password(email, password, flow="signIn"):
    return {"provider": "password", "params": {"email": email, "password": password, "flow": flow}}


async def _sign_in(http, person):
    body = await _action(http, "auth:signIn", _password(person["email"], person["password"]))
    assert body["status"] == "success", body
    return body["value"]["tokens"]


async def test_sign_in_answers_a_jwt_and_a_refresh_token(http, people):
    tokens = await _sign_in(http, people["reviewer"])
    claims = jwt.decode(tokens["token"], options={"verify_signature": False})
    user_id, _, session_id = claims["sub"].partition("|")
    assert user_id == people["reviewer"]["id"]
    assert session_id.startswith("aus_")
    assert claims["exp"] - claims["iat"] == convex_auth.JWT_SECONDS
    assert claims["aud"] == "convex"
    assert tokens["refreshToken"].startswith("tlr_")
    # The JWT is a credential for the HTTP API too.
    me = await http.post(
        "/api/query", json={"path": "users:me", "args": {}}, headers=bearer(tokens["token"])
    )
    assert me.json()["value"]["email"] == people["reviewer"]["email"]


async def test_wrong_password_and_sign_up_are_refused(http, people):
    wrong = await _action(http, "auth:signIn", _password(people["viewer"]["email"], "nope-nope"))
    assert wrong["status"] == "error"
    assert "Wrong email or password" in wrong["errorMessage"]
    signup = await _action(http, "auth:signIn", _password("new@example.com", "pw-12345", "signUp"))
    assert signup["status"] == "error"
    assert "accounts are made by an admin" in signup["errorMessage"]
    other = await _action(http, "auth:signIn", {"provider": "github"})
    assert 'only "password"' in other["errorMessage"]
    unknown = await _action(http, "auth:nothing", {})
    assert "Could not find public function for 'auth:nothing'" in unknown["errorMessage"]


async def test_sign_in_shares_the_throttle_of_api_auth_signin(http, people):
    from api.services import signin

    email = people["viewer"]["email"]
    for _ in range(signin.PER_ACCOUNT_AND_CLIENT.free):
        await _action(http, "auth:signIn", _password(email, "wrong-password"))
    blocked = await _action(http, "auth:signIn", _password(email, people["viewer"]["password"]))
    assert blocked["status"] == "error"
    assert "Too many failed sign-in attempts" in blocked["errorMessage"]


async def test_refresh_rotates_and_a_late_reuse_ends_the_session(http, people, monkeypatch):
    tokens = await _sign_in(http, people["user"])
    first = await _action(http, "auth:signIn", {"refreshToken": tokens["refreshToken"]})
    fresh = first["value"]["tokens"]
    assert fresh["refreshToken"] != tokens["refreshToken"]
    assert jwt.decode(fresh["token"], options={"verify_signature": False})["sub"].endswith(
        jwt.decode(tokens["token"], options={"verify_signature": False})["sub"].split("|")[1]
    )
    # Within the reuse window (two tabs refreshing at once): another child, same session.
    again = await _action(http, "auth:signIn", {"refreshToken": tokens["refreshToken"]})
    assert again["value"]["tokens"]["refreshToken"] not in (
        tokens["refreshToken"],
        fresh["refreshToken"],
    )
    # After the window, a reuse means the token leaked: the session ends, every token with it.
    monkeypatch.setattr(convex_auth, "REFRESH_REUSE_WINDOW_MS", -1)
    late = await _action(http, "auth:signIn", {"refreshToken": tokens["refreshToken"]})
    assert late == {"status": "success", "value": {"tokens": None}, "logLines": []}
    ended = await _action(http, "auth:signIn", {"refreshToken": fresh["refreshToken"]})
    assert ended["value"]["tokens"] is None
    me = await http.post(
        "/api/query", json={"path": "users:me", "args": {}}, headers=bearer(fresh["token"])
    )
    assert me.status_code == 401


async def test_unknown_refresh_token_answers_no_tokens(http, database_url):
    body = await _action(http, "auth:signIn", {"refreshToken": "tlr_unknown"})
    assert body["value"] == {"tokens": None}
    bad = await _action(http, "auth:signIn", {"refreshToken": 5})
    assert "refreshToken must be a string" in bad["errorMessage"]


async def test_sign_out_ends_the_session(http, people):
    tokens = await _sign_in(http, people["admin"])
    headers = bearer(tokens["token"])
    out = await _action(http, "auth:signOut", {}, headers)
    assert out["status"] == "success"
    assert (await _action(http, "auth:signIn", {"refreshToken": tokens["refreshToken"]}))[
        "value"
    ] == {"tokens": None}
    anonymous = await _action(http, "auth:signOut", {})
    assert "there is no session to end" in anonymous["errorMessage"]


def test_tampered_or_foreign_jwts_are_refused(people):
    assert convex_auth.caller_for_jwt("eyJ.not.valid") is None
    forged = jwt.encode(
        {"sub": f"{people['admin']['id']}|aus_x", "iat": 1, "exp": 2**40, "aud": "convex"},
        "another key",
        algorithm="HS256",
    )
    assert convex_auth.caller_for_jwt(forged) is None


def test_the_signing_key_is_made_once_and_shared(database_url):
    convex_auth._key_cache.clear()
    first = convex_auth.signing_key()
    convex_auth._key_cache.clear()
    assert convex_auth.signing_key() == first
    assert len(first) > 40


@pytest.fixture(autouse=True)
def _fresh_key_cache():
    convex_auth._key_cache.clear()
    yield
    convex_auth._key_cache.clear()
