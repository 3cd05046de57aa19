"""Signing in and out of the console."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.e2e.conftest import PEOPLE

pytestmark = pytest.mark.e2e


def _sign_in(page, email: str, password: str) -> None:
    page.fill("#email", email)
    page.fill("#password", password)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_and_out(tabs, console):
    page = tabs.open(None, "/approvals")
    expect(page).to_have_url(re.compile(r"/signin/?\?next=%2Fapprovals"))

    email, name, password = PEOPLE["reviewer"]
    _sign_in(page, email, "wrong-password-1")
    expect(page.get_by_test_id("signin-error")).to_contain_text("Wrong email or password")

    _sign_in(page, email, password)
    expect(page).to_have_url(re.compile(r"/approvals/?$"))
    expect(page.get_by_text(name)).to_be_visible()
    expect(page.get_by_test_id("person-role")).to_have_text("reviewer")

    page.get_by_test_id("sign-out").click()
    expect(page).to_have_url(re.compile(r"/signin/?(\?next=.*)?$"))
    page.goto(console.url("/threads"))
    expect(page).to_have_url(re.compile(r"/signin/?(\?next=.*)?$"))


def _distributed_attack(email: str) -> None:
    """17 failed sign-ins on `email` from 3 other clients, just now: the account-wide throttle
    then holds every new client back for an hour (docs/security.md)."""
    from api.db import get_engine
    from api.registry import next_creation_time
    from models import AuditEntry
    from models.ids import new_id

    with get_engine().begin() as conn:
        for i in range(17):
            conn.execute(
                sa.insert(AuditEntry.__table__).values(
                    id=new_id("audit_log"),
                    creation_time=next_creation_time(),
                    actor="system:anonymous",
                    actor_label=f"203.0.113.{i % 3 + 1}",
                    action="signin.failure",
                    target=email,
                    details={"reason": "wrong password"},
                )
            )


def test_too_many_attempts_is_said_plainly(tabs):
    page = tabs.open(None, "/signin")
    email, _, password = PEOPLE["lockout"]
    _sign_in(page, email, "not-the-password")
    expect(page.get_by_test_id("signin-error")).to_contain_text("Wrong email or password")
    _distributed_attack(email)
    _sign_in(page, email, password)
    expect(page.get_by_test_id("signin-error")).to_contain_text(
        "Too many failed sign-in attempts; try again in 60 minutes"
    )


def test_a_revoked_session_is_sent_to_signin(tabs, console):
    page = tabs.open("viewer", "/threads")
    expect(page.get_by_role("heading", name="Threads", exact=True)).to_be_visible()
    token = page.context.cookies()[0]["value"]
    console.http.post("/api/auth/signout", headers={"Authorization": f"Bearer {token}"})
    page.goto(console.url("/artifacts"))
    expect(page).to_have_url(re.compile(r"/signin/?(\?next=.*)?$"))


def test_signin_leads_back_to_the_shared_link(tabs, console):
    _, _, request_id = console.plan_thread("Linked from a notification")
    page = tabs.open(None, f"/approvals/{request_id}")
    expect(page).to_have_url(re.compile(r"/signin"))
    email, _, password = PEOPLE["viewer"]
    _sign_in(page, email, password)
    expect(page).to_have_url(re.compile(f"/approvals/{request_id}/?$"))
    expect(page.get_by_test_id("plan")).to_be_visible()


def test_signin_never_leads_off_site(tabs):
    page = tabs.open(None, "/signin?next=//evil.example/x")
    email, _, password = PEOPLE["viewer"]
    _sign_in(page, email, password)
    expect(page).to_have_url(re.compile(r"/approvals/?$"))
