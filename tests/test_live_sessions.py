"""Re-checking every open console tab's session reads them all at once
(api.auth.sessions_for_digests): the same rules as one token's check, in one statement per 500."""

from __future__ import annotations

import hashlib

from api import auth
from api.services import signin


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def test_only_live_sessions_are_found_each_with_its_person(people):
    tokens = {role: person["token"] for role, person in people.items()}
    await signin.sign_out(tokens["viewer"])
    # More digests than one statement takes, most of them unknown.
    junk = [digest(f"tls_nobody_{i}") for i in range(1200)]
    found = auth.sessions_for_digests([*junk, *(digest(t) for t in tokens.values())])
    assert set(found) == {digest(tokens[role]) for role in ("admin", "reviewer", "user")}
    reviewer = found[digest(tokens["reviewer"])]
    assert reviewer["role"] == "reviewer" and reviewer["email"] == people["reviewer"]["email"]
    assert reviewer == auth.session_for_token(tokens["reviewer"])  # the one-token check agrees
    assert auth.session_for_token(tokens["viewer"]) is None
    assert auth.sessions_for_digests([]) == {}


async def test_a_disabled_person_has_no_live_session(people):
    from api.calls import call
    from api.cli import CLI_CALLER

    args = {"userId": people["reviewer"]["id"], "disabled": True}
    await call("users:setDisabled", args, CLI_CALLER)
    assert auth.live_sessions_by_digest([digest(people["reviewer"]["token"])]) == {}
