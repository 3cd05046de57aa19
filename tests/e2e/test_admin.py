"""Running the instance from the browser: first-run setup, people and one-time links, API keys,
the audit log, one's own account and sessions, and admin pages refused to non-admins."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.e2e.conftest import PEOPLE

pytestmark = pytest.mark.e2e

SIZES = {"desktop": (1440, 900), "phone": (390, 844)}


def unique_email(who: str) -> str:
    return f"{who}-{uuid.uuid4().hex[:8]}@example.com"


def sign_in_http(console, email: str, password: str):
    return console.http.post("/api/auth/signin", json={"email": email, "password": password})


def page_with_token(tabs, token: str, path: str, width: int = 1440, height: int = 900):
    page = tabs.new_page(None, width, height)
    page.context.add_cookies(
        [{"name": "threadline_session", "value": token, "url": tabs.console.frontend_url}]
    )
    page.goto(tabs.console.url(path))
    return page


def choose(page, test_id: str, option: str) -> None:
    page.get_by_test_id(test_id).click()
    page.get_by_role("option", name=option, exact=True).click()


def clear_filters(page) -> None:
    """Clicks "Clear" and waits until the filter form has been remounted empty (the button goes
    with it): typing into the old form before that would be lost."""
    page.get_by_role("button", name="Clear").click()
    expect(page.get_by_role("button", name="Clear")).to_have_count(0)


def add_person(console, name: str, role: str = "reviewer", password: str | None = None) -> dict:
    email = unique_email(name.split()[0].lower())
    args = {"email": email, "name": name, "role": role}
    if password is not None:
        args["password"] = password
    user_id = console.mutation("users:create", args, token=console.token("admin"))
    return {"id": user_id, "email": email, "name": name, "password": password}


@pytest.fixture
def no_admin(console) -> Iterator[None]:
    """The harness's database without an admin, as on a first run: every admin is made a viewer
    for the test (straight in SQL: the functions refuse to demote the last admin) and made an
    admin again afterwards; admins the test created become viewers, so that the seeded admin
    stays the only active one for the other tests."""
    from api.db import get_engine
    from models import User

    users = User.__table__
    with get_engine().begin() as conn:
        admins = conn.execute(sa.select(users.c.id).where(users.c.role == "admin")).scalars().all()
        conn.execute(sa.update(users).where(users.c.id.in_(admins)).values(role="viewer"))
    try:
        yield
    finally:
        with get_engine().begin() as conn:
            conn.execute(
                sa.update(users)
                .where(users.c.role == "admin", users.c.id.not_in(admins))
                .values(role="viewer")
            )
            conn.execute(sa.update(users).where(users.c.id.in_(admins)).values(role="admin"))


def setup_link(console) -> str:
    """What `threadline first-run` prints, issued straight in the harness's database."""
    from api.db import get_engine
    from api.registry import next_creation_time
    from api.services import links

    with get_engine().begin() as conn:
        issued = links.issue(conn, "setup", "system:first-run", None, next_creation_time())
    return console.url(issued.path)


def test_setup_says_done_once_an_admin_exists(tabs):
    page = tabs.open(None, "/setup?token=tlo_anything")
    expect(page.get_by_test_id("setup-done")).to_be_visible()
    expect(page.get_by_test_id("setup-form")).to_have_count(0)


def test_first_run_setup_creates_the_admin_and_signs_them_in(tabs, console, no_admin, screenshots):
    page = tabs.open(None, "/setup?token=tlo_not-a-real-link")
    expect(page.get_by_test_id("setup-invalid")).to_contain_text("make run")
    expect(page.get_by_test_id("setup-form")).to_have_count(0)
    page.goto(console.url("/setup"))
    expect(page.get_by_test_id("setup-invalid")).to_be_visible()

    older = setup_link(console)
    link = setup_link(console)
    page.goto(older)  # replaced by the newer link
    expect(page.get_by_test_id("setup-invalid")).to_be_visible()

    page.goto(link)
    expect(page.get_by_test_id("setup-form")).to_be_visible()
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(screenshots / "setup-form-desktop-light.png"), full_page=True)
    email = unique_email("root")
    page.fill("#email", email)
    page.fill("#name", "Rosa Root")
    page.fill("#password", "first admin password")
    page.fill("#repeat", "first admin passwort")
    page.get_by_role("button", name="Create the admin account").click()
    expect(page.get_by_test_id("setup-error")).to_contain_text("not the same")
    page.fill("#repeat", "first admin password")
    page.get_by_role("button", name="Create the admin account").click()

    expect(page).to_have_url(re.compile(r"/admin/users/?$"))
    expect(page.get_by_test_id("person-role")).to_have_text("admin")
    me = page.locator(f'[data-testid="user-row"][data-email="{email}"]')
    expect(me).to_be_visible()
    # The only admin cannot demote themself: the server's refusal is shown, nothing changes.
    me.get_by_test_id("role-select").click()
    page.get_by_role("option", name="reviewer", exact=True).click()
    expect(page.get_by_text("last active admin cannot be demoted")).to_be_visible()
    expect(me.get_by_test_id("role-select")).to_contain_text("admin")
    # The link is spent: the next visitor is told so and gets no form.
    other = tabs.new_page(None)
    other.goto(link)
    expect(other.get_by_test_id("setup-done")).to_be_visible()
    expect(other.get_by_test_id("setup-form")).to_have_count(0)


def test_admin_adds_a_person_with_a_one_time_link_and_they_set_a_password(
    tabs, console, screenshots
):
    admin = tabs.open("admin", "/admin/users")
    expect(admin.get_by_test_id("users-table")).to_be_visible()
    email = unique_email("nina")
    admin.get_by_test_id("add-person").click()
    admin.fill("#email", email)
    admin.fill("#name", "Nina New")
    admin.get_by_role("button", name="Add", exact=True).click()
    link_box = admin.get_by_test_id("one-time-link")
    expect(link_box).to_contain_text("/set-password?token=tlo_")
    expect(admin.get_by_test_id("one-time-link-copy")).to_be_visible()
    expect(admin.get_by_text("24 hours")).to_be_visible()
    link = link_box.inner_text().strip()
    admin.screenshot(path=str(screenshots / "admin-users-link-desktop-light.png"))
    expect(admin.locator(f'[data-testid="user-row"][data-email="{email}"]')).to_be_visible()
    admin.get_by_test_id("one-time-link-dismiss").click()
    expect(admin.get_by_test_id("one-time-link")).to_have_count(0)

    page = tabs.new_page(None)
    page.goto(link)
    expect(page.get_by_test_id("set-password-email")).to_contain_text(email)
    page.fill("#password", "nina-password-1")
    page.fill("#repeat", "nina-password-2")
    page.get_by_role("button", name="Set password and sign in").click()
    expect(page.get_by_test_id("set-password-error")).to_contain_text("not the same")
    too_long = "ü" * 40  # 40 characters, 80 bytes: the browser lets it through, the server not
    page.fill("#password", too_long)
    page.fill("#repeat", too_long)
    page.get_by_role("button", name="Set password and sign in").click()
    expect(page.get_by_test_id("set-password-error")).to_contain_text("at most 72 bytes")
    page.fill("#password", "nina-password-1")
    page.fill("#repeat", "nina-password-1")
    page.get_by_role("button", name="Set password and sign in").click()

    expect(page).to_have_url(re.compile(r"/approvals/?$"))
    expect(page.locator(".top-bar").get_by_text("Nina New")).to_be_visible()
    expect(page.get_by_test_id("person-role")).to_have_text("reviewer")
    token = page.context.cookies()[0]["value"]
    assert console.query("users:me", {}, token=token)["email"] == email
    # The link worked once.
    again = tabs.new_page(None)
    again.goto(link)
    expect(again.get_by_test_id("set-password-invalid")).to_contain_text("Ask an admin")


def test_admin_changes_a_role_disables_and_makes_a_reset_link(tabs, console):
    person = add_person(console, "Dora Disable", password="dora-password-1")
    token = sign_in_http(console, person["email"], person["password"]).json()["token"]
    admin = tabs.open("admin", "/admin/users")
    row = admin.locator(f'[data-testid="user-row"][data-email="{person["email"]}"]')
    expect(row).to_be_visible()

    row.get_by_test_id("role-select").click()
    admin.get_by_role("option", name="viewer", exact=True).click()
    expect(row.get_by_test_id("role-select")).to_contain_text("viewer")
    assert console.query("users:me", {}, token=token)["role"] == "viewer"

    row.get_by_test_id("password-link").click()
    expect(admin.get_by_test_id("one-time-link")).to_contain_text("/set-password?token=tlo_")
    expect(admin.get_by_text("password reset link for Dora Disable")).to_be_visible()

    row.get_by_test_id("disable").click()
    admin.get_by_test_id("confirm-disabled-confirm").click()
    expect(row).to_contain_text("disabled")
    assert (
        console.http.post(
            "/api/query",
            json={"path": "users:me", "args": {}},
            headers={"Authorization": f"Bearer {token}"},
        ).status_code
        == 401
    )

    row.get_by_test_id("enable").click()
    admin.get_by_test_id("confirm-disabled-confirm").click()
    expect(row).to_contain_text("active")

    # The server's refusal is shown: Ada, the only active admin, cannot be disabled.
    choose(admin, "status-filter", "active")
    choose(admin, "role-filter", "admin")
    ada = admin.locator(f'[data-testid="user-row"][data-email="{PEOPLE["admin"][0]}"]')
    expect(admin.get_by_test_id("user-row")).to_have_count(1)
    ada.get_by_test_id("disable").click()
    admin.get_by_test_id("confirm-disabled-confirm").click()
    expect(admin.get_by_text("The last active admin cannot be disabled")).to_be_visible()
    expect(ada).to_contain_text("active")


def test_search_and_filters_narrow_the_people_list(tabs, console):
    person = add_person(console, "Fiona Filter", role="viewer", password="fiona-password-1")
    admin = tabs.open("admin", "/admin/users")
    expect(admin.get_by_test_id("users-table")).to_be_visible()
    admin.get_by_label("Search").fill("fiona filter")
    admin.get_by_role("button", name="Search").click()
    rows = admin.get_by_test_id("user-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-email", person["email"])
    choose(admin, "role-filter", "reviewer")
    expect(admin.get_by_text("Nobody matches")).to_be_visible()
    clear_filters(admin)
    expect(
        admin.locator(f'[data-testid="user-row"][data-email="{PEOPLE["admin"][0]}"]')
    ).to_be_visible()
    expect(
        admin.locator(f'[data-testid="user-row"][data-email="{person["email"]}"]')
    ).to_be_visible()


def test_revoking_a_key_in_the_browser_refuses_it_at_once(tabs, console, screenshots):
    admin = tabs.open("admin", "/admin/keys")
    expect(admin.get_by_test_id("keys-table")).to_be_visible()
    admin.get_by_label("Key name").fill("short-lived backend")
    admin.get_by_role("button", name="Create key").click()
    shown = admin.get_by_test_id("new-key")
    expect(shown).to_contain_text("tlk_")
    expect(admin.get_by_text("it will not be shown again")).to_be_visible()
    key = shown.inner_text().strip()
    admin.screenshot(path=str(screenshots / "admin-keys-new-key-desktop-light.png"))

    def status_with(key: str) -> int:
        return console.http.post(
            "/api/query",
            json={
                "path": "threads:list",
                "args": {"paginationOpts": {"numItems": 1, "cursor": None}},
            },
            headers={"Authorization": f"Bearer {key}"},
        ).status_code

    assert status_with(key) == 200
    admin.reload()  # shown once: not even a reload of the same tab shows it again
    expect(admin.get_by_test_id("keys-table")).to_be_visible()
    expect(admin.get_by_test_id("new-key")).to_have_count(0)
    expect(admin.get_by_text(key)).to_have_count(0)

    row = admin.locator(f'[data-testid="key-row"][data-prefix="{key[:12]}"]')
    expect(row).to_contain_text("short-lived backend")
    expect(row).to_contain_text(PEOPLE["admin"][0])
    row.get_by_test_id("revoke").click()
    admin.get_by_test_id("confirm-revoke-confirm").click()
    expect(row.get_by_test_id("key-status")).to_have_text("revoked")
    assert status_with(key) == 401


def test_the_audit_log_lists_what_was_just_done_and_filters(tabs, console):
    person = add_person(console, "Audrey Audit", password="audrey-password-1")
    console.mutation(
        "users:setRole", {"userId": person["id"], "role": "viewer"}, token=console.token("admin")
    )
    admin = tabs.open("admin", "/admin/audit")
    entries = admin.get_by_test_id("audit-entry")
    expect(entries.first).to_be_visible()
    expect(
        admin.locator('[data-testid="audit-entry"][data-action="user.role"]').first
    ).to_be_visible()
    expect(
        admin.locator('[data-testid="audit-entry"][data-action="user.create"]').first
    ).to_be_visible()

    choose(admin, "action-filter", "user.role")
    expect(
        admin.locator('[data-testid="audit-entry"]:not([data-action="user.role"])')
    ).to_have_count(0)
    expect(entries.first).to_have_attribute("data-action", "user.role")

    admin.get_by_label("Target").fill(person["id"])
    admin.get_by_role("button", name="Filter").click()
    expect(entries).to_have_count(1)
    expect(entries.first).to_contain_text(PEOPLE["admin"][0])
    expect(entries.first).to_contain_text('"after": "viewer"')
    expect(entries.first).to_contain_text(person["email"])  # the target, named

    clear_filters(admin)
    admin.get_by_label("Actor").fill(person["email"])
    admin.get_by_role("button", name="Filter").click()
    expect(admin.get_by_text("No entry matches")).to_be_visible()  # they did nothing yet

    clear_filters(admin)
    admin.get_by_label("From (UTC)").fill("2099-01-01T00:00")
    admin.get_by_role("button", name="Filter").click()
    expect(admin.get_by_text("No entry matches")).to_be_visible()


def test_account_changes_the_password_and_signs_out_other_sessions(tabs, console):
    person = add_person(console, "Owen Own", password="owen-password-1")
    first = sign_in_http(console, person["email"], person["password"]).json()["token"]
    second = sign_in_http(console, person["email"], person["password"]).json()["token"]
    elsewhere = page_with_token(tabs, second, "/threads")
    expect(elsewhere.get_by_role("heading", name="Threads", exact=True)).to_be_visible()

    page = page_with_token(tabs, first, "/account")
    expect(page.get_by_test_id("account-profile")).to_contain_text(person["email"])
    expect(page.get_by_test_id("account-profile")).to_contain_text("reviewer")
    expect(page.get_by_test_id("this-session")).to_have_count(1)
    expect(page.get_by_test_id("session-row")).to_have_count(2)

    page.fill("#current", "not-my-password")
    page.fill("#password", "owen-password-2")
    page.fill("#repeat", "owen-password-2")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_test_id("password-error")).to_contain_text("not your current password")
    page.fill("#current", "owen-password-1")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Password changed.")).to_be_visible()
    # A password change signs out every other session of the account; this one stays.
    expect(page.get_by_test_id("session-row")).to_have_count(1)
    elsewhere.locator('[data-nav="artifacts"]').click()
    expect(elsewhere).to_have_url(re.compile(r"/signin/?(\?next=.*)?$"))
    assert sign_in_http(console, person["email"], "owen-password-1").status_code == 401

    # Signed in again elsewhere (two more sessions), then "sign out all other sessions".
    third = sign_in_http(console, person["email"], "owen-password-2").json()["token"]
    assert sign_in_http(console, person["email"], "owen-password-2").status_code == 200
    elsewhere = page_with_token(tabs, third, "/threads")
    expect(elsewhere.get_by_role("heading", name="Threads", exact=True)).to_be_visible()
    page.reload()
    expect(page.get_by_test_id("session-row")).to_have_count(3)
    page.get_by_test_id("sign-out-others").click()
    page.get_by_test_id("confirm-sign-out-others-confirm").click()
    expect(page.get_by_text("Signed out 2 other sessions.")).to_be_visible()
    expect(page.get_by_test_id("session-row")).to_have_count(1)

    elsewhere.locator('[data-nav="artifacts"]').click()
    expect(elsewhere).to_have_url(re.compile(r"/signin/?(\?next=.*)?$"))
    page.locator('[data-nav="artifacts"]').click()
    expect(page.get_by_role("heading", name="Artifacts", exact=True)).to_be_visible()


@pytest.mark.parametrize("path", ["/admin/users", "/admin/keys", "/admin/audit"])
def test_non_admins_get_the_not_allowed_page(tabs, path):
    page = tabs.open("reviewer", path)
    expect(page.get_by_test_id("not-allowed")).to_be_visible()
    expect(page.get_by_test_id("users-table")).to_have_count(0)
    expect(page.get_by_test_id("nav-admin")).to_have_count(0)
    expect(page.locator('[data-nav="account"]')).to_be_visible()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshot_every_account_page(tabs, console, screenshots, scheme):
    person = add_person(console, "Sam Screenshot", password="sam-password-1")
    console.mutation(
        "users:setRole", {"userId": person["id"], "role": "viewer"}, token=console.token("admin")
    )
    link = console.mutation(
        "users:passwordLink", {"userId": person["id"]}, token=console.token("admin")
    )
    pages = {
        "setup": ("/setup", "setup-done"),
        "set-password": (link["path"], "set-password-form"),
        "account": ("/account", "account-profile"),
        "admin-users": ("/admin/users", "users-table"),
        "admin-keys": ("/admin/keys", "keys-table"),
        "admin-audit": ("/admin/audit", "audit-list"),
        "not-allowed": ("/admin/users", "not-allowed"),
    }
    for size, (width, height) in SIZES.items():
        if scheme == "dark" and size == "phone":
            continue
        page = tabs.new_page("admin", width, height)
        page.emulate_media(color_scheme=scheme)
        for name, (path, ready) in pages.items():
            if name == "not-allowed":
                page.context.clear_cookies()
                page.context.add_cookies(
                    [
                        {
                            "name": "threadline_session",
                            "value": console.token("viewer"),
                            "url": console.frontend_url,
                        }
                    ]
                )
            page.goto(console.url(path))
            expect(page.get_by_test_id(ready)).to_be_visible()
            page.wait_for_load_state("networkidle")
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 1, f"{name} overflows horizontally by {overflow}px at {width}px"
            page.screenshot(path=str(screenshots / f"{name}-{size}-{scheme}.png"), full_page=True)


def test_the_keys_page_flags_a_key_whose_creator_is_disabled(tabs, console):
    """Keys belong to the installation: they outlive their creator's account, and the keys page
    says so, with the creator and the key's last use."""
    creator = add_person(console, "Kim Keymaker", role="admin", password="kim-password-1")
    signed_in = console.http.post(
        "/api/auth/signin", json={"email": creator["email"], "password": "kim-password-1"}
    )
    created = console.mutation(
        "apiKeys:create", {"name": "kim's backend"}, token=signed_in.json()["token"]
    )
    console.mutation(
        "users:setDisabled",
        {"userId": creator["id"], "disabled": True},
        token=console.token("admin"),
    )

    admin = tabs.open("admin", "/admin/keys")
    row = admin.locator(f'[data-testid="key-row"][data-prefix="{created["key"][:12]}"]')
    expect(row.get_by_test_id("key-creator")).to_contain_text(creator["email"])
    expect(row.get_by_test_id("key-creator")).to_contain_text("creator disabled")
    expect(row).to_contain_text("never")
    expect(row.get_by_test_id("key-status")).to_have_text("active")
