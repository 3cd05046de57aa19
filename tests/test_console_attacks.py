"""The console attacked from outside, against a real server (`reflex run --env prod
--backend-only`, SQLite), through Reflex's event protocol spoken by hand over socket.io.

Each test is one attack and fails if the hole is there: forged events naming handlers of pages
the attacker may not use (admin pages from a reviewer, anything from an anonymous socket or an
end user), private methods and setters, wrong-typed and oversized arguments, other tabs' client
tokens, a page of another origin riding the session cookie, and the HTTP side (cookie
endpoints, error answers, body limits). The list of what was tried, and what held, is in
docs/security.md ("Attack review").
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid

import httpx
import pytest

from app.pages.admin_audit import AdminAuditState
from app.pages.admin_keys import AdminKeysState
from app.pages.admin_users import AdminUsersState
from app.pages.admin_webhooks import AdminWebhooksState
from app.pages.approval import ApprovalState
from app.pages.approvals import ApprovalsState
from app.pages.artifact import ArtifactState
from app.pages.dashboard import DashboardState
from app.pages.thread import ThreadState
from app.state import AuthState, PendingQueue, safe_next
from tests.attack_support import ConsoleServer, Socket

LEAKS = ("Traceback", 'File "', "site-packages", "/work/")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = ConsoleServer(tmp_path_factory.mktemp("attack")).start()
    yield running
    running.stop()


def tab_token() -> str:
    return f"attack-{uuid.uuid4()}"


def secret() -> str:
    return f"SECRET{uuid.uuid4().hex[:10]}"


def user_row(server: ConsoleServer, who: str) -> dict:
    page = server.admin_query("users:list", {"paginationOpts": {"numItems": 100, "cursor": None}})
    return next(row for row in page["page"] if row["_id"] == server.ids[who])


# ---- a page of another origin ---------------------------------------------------------------


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.localhost:9999",  # a sibling subdomain: same site, so the cookie goes along
        "http://127.0.0.1:1",  # another port of this host: same site too
        "null",  # a sandboxed frame or a file
    ],
)
async def test_a_page_of_another_origin_cannot_use_the_session_cookie(server, origin):
    """Cross-site websocket hijacking: browsers send a SameSite=Strict cookie with requests
    from any page of the same site. Such a socket must be treated as signed out."""
    mark = secret()
    server.pending_request(mark)
    cookie = server.session("reviewer")
    async with Socket(server, tab_token(), cookie, origin=origin) as tab:
        seen = await tab.hydrate()
        seen += await tab.send(AuthState, "require_signed_in")
    assert mark not in seen
    assert "/signin" in seen
    # The same cookie from the console's own origin works (the test's control).
    async with Socket(server, tab_token(), cookie, origin=server.url) as tab:
        await tab.hydrate()
        assert mark in await tab.send(AuthState, "require_signed_in")


def test_the_cookie_endpoints_refuse_other_origins(server):
    token = server.session("reviewer")
    cookies = {"Cookie": f"threadline_session={token}"}
    for path, body in (
        ("/api/auth/console-signout", {}),
        ("/api/auth/console-session", {"tab": "t", "code": "c"}),
    ):
        answer = httpx.post(
            server.url + path, json=body, headers={**cookies, "Origin": "http://evil.localhost"}
        )
        assert answer.status_code == 403, (path, answer.text)
        assert "set-cookie" not in answer.headers
    # Not signed out by the other origin's request:
    assert server.query("threads:list", {"paginationOpts": {"numItems": 1, "cursor": None}}, token)
    answer = httpx.post(
        server.url + "/api/auth/console-signout", headers={**cookies, "Origin": server.url}
    )
    assert answer.status_code == 200
    refused = httpx.post(
        server.url + "/api/query",
        json={"path": "threads:list", "args": {"paginationOpts": {"numItems": 1, "cursor": None}}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert refused.status_code == 401


# ---- open redirects -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",  # browsers drop tabs and newlines: "//evil.example"
        "/\n/evil.example",
        "/\r/evil.example",
        " //evil.example",
        "https://evil.example",
        "javascript:alert(1)",
        "/%0a",  # fine as text, but stays on the site either way
        "",
        None,
        "x" * 3000,
    ],
)
def test_sign_in_never_leads_off_the_site(target):
    result = safe_next(target)
    assert result.startswith("/") and not result.startswith("//")
    assert "\\" not in result and all(ord(char) > 0x20 for char in result)
    assert "evil" not in result


def test_sign_in_keeps_paths_of_the_site():
    for path in ("/approvals/apr_1", "/threads?status=active", "/admin/users", "/a/%2F%2Fb"):
        assert safe_next(path) == path


async def test_the_redirect_after_sign_in_stays_on_the_site(server):
    """Through the sign-in page's own handler: /signin?next=/<TAB>/evil.example."""
    from app.pages.signin import SigninState

    email, _, password = ("vic@example.com", None, "viewer-password-1")
    async with Socket(server, tab_token()) as tab:
        await tab.hydrate("/signin", {"next": "/\t/evil.example"})
        seen = await tab.send(
            SigninState,
            "submit",
            {"form_data": {"email": email, "password": password}},
            path="/signin",
            query={"next": "/\t/evil.example"},
        )
    assert "handOff" in seen
    assert "evil.example" not in seen


# ---- forged events: roles -------------------------------------------------------------------


async def test_a_reviewer_cannot_run_the_admin_pages_handlers(server):
    cookie = server.session("reviewer")
    keys_before = server.admin_query("apiKeys:list", {})
    key_id = keys_before[0]["_id"]
    admin, reviewer = server.ids["admin"], server.ids["reviewer"]
    admin_token = server.session("admin")
    hook = server.mutation("webhooks:add", {"url": "http://127.0.0.1:9/hook"}, admin_token)
    hooks_before = server.query("webhooks:list", {}, admin_token)
    forged = [
        (AdminUsersState, "load", {}, "/admin/users"),
        (AdminUsersState, "set_role", {"user_id": admin, "role": "viewer"}, "/admin/users"),
        (AdminUsersState, "set_role", {"user_id": reviewer, "role": "admin"}, "/admin/users"),
        (
            AdminUsersState,
            "create",
            {"form_data": {"email": "mallory@example.com", "name": "M", "role": "admin"}},
            "/admin/users",
        ),
        (AdminUsersState, "password_link", {"user_id": admin, "name": "Ada"}, "/admin/users"),
        (
            AdminUsersState,
            "ask_disabled",
            {"user_id": admin, "name": "Ada", "disable": True},
            "/admin/users",
        ),
        (AdminUsersState, "apply_disabled", {}, "/admin/users"),
        (AdminKeysState, "load", {}, "/admin/keys"),
        (AdminKeysState, "create", {"form_data": {"name": "mallory"}}, "/admin/keys"),
        (AdminKeysState, "ask_revoke", {"key_id": key_id, "name": "k"}, "/admin/keys"),
        (AdminKeysState, "revoke", {}, "/admin/keys"),
        (AdminAuditState, "load", {}, "/admin/audit"),
        (AdminAuditState, "more", {}, "/admin/audit"),
        (AdminWebhooksState, "load", {}, "/admin/webhooks"),
        (
            AdminWebhooksState,
            "add",
            {"form_data": {"url": "http://169.254.169.254/latest/meta-data/"}},
            "/admin/webhooks",
        ),
        (AdminWebhooksState, "send_test", {"webhook_id": hook["webhookId"]}, "/admin/webhooks"),
        (
            AdminWebhooksState,
            "ask_remove",
            {"webhook_id": hook["webhookId"], "url": "x"},
            "/admin/webhooks",
        ),
        (AdminWebhooksState, "remove", {}, "/admin/webhooks"),
    ]
    seen = ""
    async with Socket(server, tab_token(), cookie) as tab:
        await tab.hydrate("/admin/users")
        for state, handler, payload, path in forged:
            seen += await tab.send(state, handler, payload, path=path)
        seen += await tab.drain()
    assert "set-password" not in seen and "reset-password" not in seen
    assert "tlk_" not in seen  # no API key shown
    assert "ada@example.com" not in seen  # no people list, no audit log
    assert user_row(server, "admin")["role"] == "admin"
    assert not user_row(server, "admin")["disabled"]
    assert user_row(server, "reviewer")["role"] == "reviewer"
    keys_after = server.admin_query("apiKeys:list", {})
    assert [k["_id"] for k in keys_after] == [k["_id"] for k in keys_before]
    assert all(k.get("revokedTime") is None for k in keys_after)
    people = server.admin_query("users:list", {"paginationOpts": {"numItems": 100, "cursor": None}})
    assert "mallory@example.com" not in json.dumps(people)
    assert hook["secret"] not in seen and "127.0.0.1:9/hook" not in seen
    hooks_after = server.query("webhooks:list", {}, admin_token)
    assert hooks_after == hooks_before  # none added or removed, no test delivery queued


@pytest.mark.parametrize("who", ["anonymous", "user", "signed out"])
async def test_sockets_without_a_console_session_get_nothing_and_change_nothing(server, who):
    mark = secret()
    thread_id, artifact_id, request_id = server.pending_request(mark)
    cookie = None
    if who == "user":
        cookie = server.session("user")  # an end user: the console is closed to them
    elif who == "signed out":
        cookie = server.session("reviewer")
        httpx.post(server.url + "/api/auth/signout", headers={"Authorization": f"Bearer {cookie}"})
    admin = server.ids["admin"]
    forged = [
        (AuthState, "require_signed_in", {}, "/approvals"),
        (ApprovalsState, "load", {}, "/approvals"),
        (ApprovalState, "load", {}, f"/approvals/{request_id}"),
        (ApprovalState, "set_comment", {"text": "no"}, f"/approvals/{request_id}"),
        (ApprovalState, "decide", {"decision": "approved"}, f"/approvals/{request_id}"),
        (ApprovalState, "decide", {"decision": "rejected"}, f"/approvals/{request_id}"),
        (ApprovalState, "download_plan", {}, f"/approvals/{request_id}"),
        (ThreadState, "load", {}, f"/threads/{thread_id}"),
        (ThreadState, "export", {"kind": "json"}, f"/threads/{thread_id}"),
        (ArtifactState, "load", {}, f"/artifacts/{artifact_id}"),
        (ArtifactState, "set_status", {"status": "approved"}, f"/artifacts/{artifact_id}"),
        (ArtifactState, "download_version", {}, f"/artifacts/{artifact_id}"),
        (DashboardState, "load", {}, "/"),
        (AdminUsersState, "set_role", {"user_id": admin, "role": "viewer"}, "/admin/users"),
        (AdminKeysState, "create", {"form_data": {"name": "anon"}}, "/admin/keys"),
    ]
    seen = ""
    async with Socket(server, tab_token(), cookie) as tab:
        seen += await tab.hydrate(f"/approvals/{request_id}")
        for state, handler, payload, path in forged:
            seen += await tab.send(state, handler, payload, path=path)
        seen += await tab.drain()
    assert mark not in seen
    assert "tlk_" not in seen
    assert server.query("approvalRequests:get", {"approvalRequestId": request_id})["status"] == (
        "pending"
    )
    assert server.query("artifacts:get", {"artifactId": artifact_id})["status"] != "approved"
    assert user_row(server, "admin")["role"] == "admin"


async def test_a_viewer_reads_but_cannot_decide_or_set_a_status(server):
    mark = secret()
    _, artifact_id, request_id = server.pending_request(mark)
    path = f"/approvals/{request_id}"
    async with Socket(server, tab_token(), server.session("viewer")) as tab:
        await tab.hydrate(path)
        assert mark in await tab.send(ApprovalState, "load", path=path, until=mark, timeout=30)
        await tab.send(ApprovalState, "set_comment", {"text": "because"}, path=path)
        for decision in ("approved", "rejected", "changes_requested"):
            await tab.send(ApprovalState, "decide", {"decision": decision}, path=path)
        await tab.send(ApprovalState, "start_edit", path=path)
        await tab.send(ApprovalState, "set_edited_plan", {"text": "rm -rf /"}, path=path)
        await tab.send(ApprovalState, "decide", {"decision": "approved"}, path=path)
        a_path = f"/artifacts/{artifact_id}"
        await tab.send(ArtifactState, "load", path=a_path, until=mark, timeout=30)
        await tab.send(ArtifactState, "set_status", {"status": "approved"}, path=a_path)
    request = server.query("approvalRequests:get", {"approvalRequestId": request_id})
    assert request["status"] == "pending" and not request.get("editedPlan")
    assert server.query("artifacts:get", {"artifactId": artifact_id})["status"] != "approved"


async def test_forged_setup_and_set_password_forms_create_nothing(server):
    """Anyone can send these forms as events, without the page and with any token: a made-up
    token is refused before any password is hashed or any account made."""
    from app.pages.set_password import SetPasswordState
    from app.pages.setup import SetupState

    form = {"email": "mallory@example.com", "name": "M", "password": "p" * 12, "repeat": "p" * 12}
    seen = ""
    async with Socket(server, tab_token()) as tab:
        for state, path in ((SetupState, "/setup"), (SetPasswordState, "/set-password")):
            for token in ("", "tlo_made-up", "x" * 5000):
                query = {"token": token}
                await tab.hydrate(path, query)
                seen += await tab.send(state, "submit", {"form_data": form}, path=path, query=query)
    assert "handOff" not in seen
    people = server.admin_query("users:list", {"paginationOpts": {"numItems": 100, "cursor": None}})
    assert "mallory@example.com" not in json.dumps(people)


# ---- forged events: private methods, setters ------------------------------------------------


async def test_private_methods_and_setters_are_not_event_handlers(server):
    """Reflex registers only public methods; no `set_x` setters are generated (auto setters
    are off), and `setvar` only calls such setters. So a socket cannot make itself an admin,
    unbind its state, plant a sign-in hand-off or write its queue."""
    cookie = server.session("reviewer")
    admin = server.ids["admin"]
    forged = [
        (AuthState, "_signed_in", {"token": cookie, "next_path": "/"}),
        (AuthState, "_admin_call", {"path": "users:setRole", "args": {"userId": admin}}),
        (AuthState, "_call", {"path": "users:setRole", "args": {"userId": admin}}),
        (AuthState, "setvar", {"var_name": "person_role", "value": "admin"}),
        (AuthState, "setvar", {"var_name": "_bound", "value": ""}),
        (AuthState, "setvar", {"var_name": "_handoff", "value": {"code": "x", "token": cookie}}),
        (AuthState, "set_person_role", {"value": "admin"}),
        (AuthState, "set_session_ended", {"value": False}),
        (PendingQueue, "_apply", {"requests": [{"_id": "forged"}], "count": 1}),
        (PendingQueue, "setvar", {"var_name": "requests", "value": [{"_id": "forged"}]}),
        (AdminUsersState, "setvar", {"var_name": "denied", "value": False}),
        (AdminUsersState, "_run", {"path": "users:setRole", "args": {"userId": admin}}),
        (AdminUsersState, "_show_link", {"issued": {}, "name": "x"}),
    ]
    seen = ""
    async with Socket(server, tab_token(), cookie) as tab:
        await tab.hydrate("/admin/users")
        for state, handler, payload in forged:
            seen += await tab.send(state, handler, payload, path="/admin/users")
        after = await tab.send(
            AdminUsersState, "set_role", {"user_id": admin, "role": "viewer"}, path="/admin/users"
        )
    assert "handOff" not in seen and "forged" not in seen
    assert '"person_role_rx_state_": "admin"' not in seen + after
    assert "Only admins manage people" in after
    assert user_row(server, "admin")["role"] == "admin"


# ---- forged events: bad and big arguments ---------------------------------------------------


async def test_wrong_typed_arguments_leak_nothing(server):
    cookie = server.session("reviewer")
    bad = [
        (AdminUsersState, "set_role", {"user_id": 5, "role": {"a": 1}}),
        (AdminUsersState, "set_role", {"user_id": ["x"]}),
        (AdminUsersState, "apply_search", {"form_data": "not a form"}),
        (ApprovalState, "decide", {"decision": ["approved"]}),
        (ApprovalState, "set_comment", {"text": None}),
        (ApprovalState, "set_diff_from", {"version": {"$gt": 1}}),
        (ArtifactState, "show_version", {"version": "1e400"}),
        (ThreadState, "export", {"kind": "../../etc/passwd"}),
        (AuthState, "require_signed_in", {"unexpected": 1}),
        ("not.a.handler", "", {}),
        ("", "", {}),
    ]
    seen = ""
    async with Socket(server, tab_token(), cookie) as tab:
        await tab.hydrate()
        for state, handler, payload in bad:
            seen += await tab.send(state, handler, payload)
        for raw in ("not json", 42, [1, 2], {"name": 5}, {"payload": "x"}):
            await tab.emit_raw(raw)
        # Still the same working tab afterwards (its queue loads):
        assert "pending_queue" in await tab.send(AuthState, "require_signed_in")
    for leak in LEAKS:
        assert leak not in seen
    assert server.health_ok()


async def test_a_frame_over_the_socket_limit_is_refused_and_the_server_keeps_serving(server):
    cookie = server.session("reviewer")
    async with Socket(server, tab_token(), cookie) as tab:
        await tab.hydrate()
        await tab.emit_raw(
            {
                "name": f"{ApprovalState.get_full_name()}.set_edited_plan",
                "payload": {"text": "x" * 3_000_000},
                "router_data": {"pathname": "/approvals", "query": {}, "asPath": "/approvals"},
            }
        )
        for _ in range(100):
            if not tab.client.connected:
                break
            await asyncio.sleep(0.1)
        assert not tab.client.connected  # engine.io's 1 MB limit closes the socket
    assert server.health_ok()
    async with Socket(server, tab_token(), cookie) as tab:
        await tab.hydrate()
        assert "rita@example.com" in await tab.send(AuthState, "require_signed_in")


async def test_many_sockets_from_one_client_leave_the_server_serving(server):
    """Anonymous sockets, each with a new client token (each one a state on the server until
    it expires; see docs/security.md): the server keeps answering."""
    sockets = [Socket(server, tab_token()) for _ in range(40)]
    try:
        await asyncio.gather(*(s.__aenter__() for s in sockets))
        await asyncio.gather(*(s.hydrate(quiet=0.3) for s in sockets))
        assert server.health_ok()
    finally:
        await asyncio.gather(*(s.__aexit__() for s in sockets), return_exceptions=True)
    assert server.health_ok()


# ---- token games ----------------------------------------------------------------------------


async def test_a_link_shown_once_never_reaches_another_socket_presenting_the_tabs_token(server):
    """An admin's tab holds a one-time password link. Another socket presenting that tab's
    client token (while the tab is open, after it closed; signed out or as someone else)
    never receives it."""
    admin_tab = tab_token()
    async with Socket(server, admin_tab, server.session("admin")) as tab:
        await tab.hydrate("/admin/users")
        shown = await tab.send(
            AdminUsersState,
            "password_link",
            {"user_id": server.ids["viewer"], "name": "Vic"},
            path="/admin/users",
        )
        assert "/set-password?token=" in shown
        # While the admin's tab is connected: Reflex hands the copy a new token.
        async with Socket(server, admin_tab) as copy:
            assert "/set-password?token=" not in await copy.hydrate("/admin/users")
        async with Socket(server, admin_tab, server.session("reviewer")) as copy:
            assert "/set-password?token=" not in await copy.hydrate("/admin/users")
    for cookie in (None, server.session("reviewer"), server.session("user")):
        async with Socket(server, admin_tab, cookie) as copy:
            seen = await copy.hydrate("/admin/users")
            seen += await copy.send(AuthState, "require_signed_in", path="/admin/users")
        assert "/set-password?token=" not in seen


async def test_the_session_token_never_reaches_the_page(server):
    """The cookie is HttpOnly: nothing the server sends over the socket (router headers,
    computed vars, the account page's session list) may carry the token either."""
    from app.pages.account import AccountState

    cookie = server.session("reviewer")
    seen = ""
    async with Socket(server, tab_token(), cookie) as tab:
        seen += await tab.hydrate("/account")
        seen += await tab.send(AuthState, "require_signed_in", path="/account")
        seen += await tab.send(AccountState, "load", path="/account", until="current")
        seen += await tab.drain(1)
    assert "rita@example.com" in seen
    assert cookie not in seen and cookie[4:20] not in seen


# ---- HTTP -----------------------------------------------------------------------------------


def test_error_answers_leak_no_internals(server):
    key = {"Authorization": f"Bearer {server.key}"}
    attempts = [
        ("POST", "/api/mutation", {"content": b"{not json", "headers": key}),
        (
            "POST",
            "/api/mutation",
            {"json": {"path": "../../etc/passwd", "args": {}}, "headers": key},
        ),
        ("POST", "/api/query", {"json": {"path": "threads:get", "args": {"threadId": 1}}}),
        ("POST", "/api/query", {"json": [1, 2], "headers": key}),
        ("GET", "/api/run/..%2f..%2fetc%2fpasswd", {}),
        ("GET", "/api/mutation", {}),
        ("POST", "/api/auth/signin", {"content": b"\xff\xfe", "headers": {"Content-Type": "x"}}),
        ("POST", "/api/auth/console-session", {"content": b"[]"}),
        ("POST", "/api/auth/console-session", {"json": {"tab": 1, "code": {"a": 1}}}),
        ("GET", "/_event/?EIO=4&transport=polling", {}),
        ("GET", "/../../etc/passwd", {}),
        ("GET", "/%2e%2e/%2e%2e/etc/passwd", {}),
    ]
    for method, path, options in attempts:
        answer = httpx.request(method, server.url + path, timeout=30, **options)
        assert answer.status_code < 500, (path, answer.status_code, answer.text[:300])
        for leak in (*LEAKS, "root:x:0:0"):
            assert leak not in answer.text, (path, answer.text[:300])


def test_big_bodies_are_refused_before_they_are_read(server):
    key = {"Authorization": f"Bearer {server.key}"}
    answer = httpx.post(
        server.url + "/api/mutation", content=b"x" * (17 * 1024 * 1024), headers=key, timeout=60
    )
    assert answer.status_code == 413
    answer = httpx.post(server.url + "/api/auth/signin", content=b"x" * 8192, timeout=30)
    assert answer.status_code == 413
    answer = httpx.post(server.url + "/api/auth/console-session", content=b"x" * 4096, timeout=30)
    assert answer.status_code == 413
    assert server.health_ok()


def test_api_answers_with_private_data_are_not_stored_by_caches(server):
    answer = httpx.post(
        server.url + "/api/query",
        json={"path": "threads:list", "args": {"paginationOpts": {"numItems": 1, "cursor": None}}},
        headers={"Authorization": f"Bearer {server.key}"},
    )
    assert answer.status_code == 200
    assert "no-store" in answer.headers.get("cache-control", "")
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in answer.headers["content-security-policy"]


# ---- agent and reviewer text in toasts ------------------------------------------------------

NODE_RUN = """
const fn = process.argv[1];
const shown = [];
globalThis.window = {alert: (m) => shown.push(["alert", m]), location: {}};
globalThis.refs = {__toast: new Proxy({}, {get: (_, kind) => (m) => shown.push([kind, m])})};
globalThis.isTrue = (v) => !!v;
globalThis.pwned = false;
eval(fn)();
process.stdout.write(JSON.stringify({shown, pwned: globalThis.pwned}));
"""
TOAST_PAYLOADS = [
    '"); globalThis.pwned = true; ("',
    "'); globalThis.pwned = true; ('",
    "`${globalThis.pwned = true}`",
    "</script><script>globalThis.pwned = true</script>",
    '\\"); globalThis.pwned = true; //',
    "\u2028globalThis.pwned = true\u2029",
]


@pytest.mark.skipif(subprocess.run(["which", "node"]).returncode != 0, reason="needs node")
async def test_text_in_toasts_stays_text(server):
    """Toasts are scripts the server sends and the page eval()s; text echoed into them (here
    a forged status, the same path as an agent's text in an error message) must stay a string
    literal, whatever its quotes."""
    _, artifact_id, _ = server.pending_request(secret())
    path = f"/artifacts/{artifact_id}"
    async with Socket(server, tab_token(), server.session("reviewer")) as tab:
        await tab.hydrate(path)
        for payload in TOAST_PAYLOADS:
            tab.updates.clear()
            await tab.send(ArtifactState, "set_status", {"status": payload}, path=path)
            scripts = [
                event["payload"]["function"]
                for update in tab.updates
                for event in update.get("events", [])
                if event["name"] == "_call_function"
            ]
            assert scripts, tab.updates
            ran = subprocess.run(
                ["node", "-e", NODE_RUN, scripts[0]], capture_output=True, text=True, timeout=30
            )
            assert ran.returncode == 0, ran.stderr
            result = json.loads(ran.stdout)
            assert result["pwned"] is False
            assert result["shown"] == [["error", f"Unknown status {payload!r}"]]


# ---- logs -----------------------------------------------------------------------------------


def test_log_redaction_hides_tokens_and_cuts_floods():
    import logging

    from api import log_redaction

    log_redaction.install()
    log_redaction.install()  # once only
    record = logging.getLogger("attack").makeRecord(
        "attack",
        logging.ERROR,
        __file__,
        1,
        "headers %s %s",
        ("cookie: tls_abcdefghij", "x" * 9000),
        None,
    )
    message = record.getMessage()
    assert "tls_abcdefghij" not in message and "tls_[redacted]" in message
    assert len(message) < log_redaction.MAX_MESSAGE + 100
    assert log_redaction.redact("key tlk_0123456789abcdef, link tlo_zzzzzzzzz") == (
        "key tlk_[redacted], link tlo_[redacted]"
    )


async def test_failed_events_write_no_session_token_and_no_huge_lines_to_the_log(server):
    cookie = server.session("reviewer")
    async with Socket(server, tab_token(), cookie) as tab:
        await tab.hydrate()
        await tab.send("no.such.handler", "", {"padding": "y" * 500_000})
        await tab.send(ApprovalState, "decide", {"decision": ["approved"]})
    await asyncio.sleep(1)
    log = server.log_path.read_text()
    assert "no.such.handler" in log  # the failure was logged ...
    assert cookie not in "".join(log.split())  # ... without the session token (even wrapped)
    assert "y" * 10_000 not in "".join(log.split())


def test_which_origins_may_use_the_cookie(monkeypatch):
    from reflex_base.config import get_config

    from api.origins import origin_allowed
    from api.settings import get_settings

    config = get_config()
    monkeypatch.setattr(config, "deploy_url", "http://localhost:4100")  # the frontend's address
    get_settings.cache_clear()
    monkeypatch.setenv("PUBLIC_URL", "https://threadline.example.com")
    try:
        assert origin_allowed(None, "anything") and origin_allowed("", "x")  # programs
        assert origin_allowed("http://10.0.0.5:3000", "10.0.0.5:3000")  # same origin
        assert origin_allowed("https://threadline.example.com", "127.0.0.1:3000")  # PUBLIC_URL
        assert origin_allowed("https://threadline.example.com:443", "other")
        assert origin_allowed("http://localhost:4100", "127.0.0.1:8000")  # deploy_url
        assert not origin_allowed("https://wiki.example.com", "threadline.example.com")
        assert not origin_allowed("http://10.0.0.5:3001", "10.0.0.5:3000")
        assert not origin_allowed("null", "10.0.0.5:3000")
        assert not origin_allowed("file://", "10.0.0.5:3000")
    finally:
        get_settings.cache_clear()
