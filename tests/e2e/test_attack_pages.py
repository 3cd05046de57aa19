"""The attack review's browser half (the socket half is tests/test_console_attacks.py):
untrusted text in the places tests/e2e/test_untrusted_content.py does not open (lists, the
dashboard's charts, the decided view, the audit log, people, toasts), paths that try to leave
the built frontend's folder, and pathological Markdown that could make a page (or the server)
stall."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.test_untrusted_content import CORPUS, PAYLOADS

pytestmark = pytest.mark.e2e

SHORT = [p for p in PAYLOADS if len(p) <= 200]


def _assert_nothing_ran(page, tabs) -> None:
    assert page.evaluate("window.__xss") is None
    assert tabs.dialogs == []
    assert page.locator(".xss").count() == 0
    for selector in ("iframe", "object", "embed", "main script", "main style"):
        assert page.locator(selector).count() == 0, selector
    assert page.title().endswith("Threadline")
    expect(page.locator("body")).to_be_visible()


def test_untrusted_text_stays_inert_in_lists_charts_decided_view_audit_and_people(tabs, console):
    token = console.token("reviewer")
    decided = []
    for number, payload in enumerate(SHORT):
        thread_id = console.mutation("threads:create", {"title": payload})
        console.mutation(
            "toolCalls:record",
            {
                "threadId": thread_id,
                "toolName": payload,
                "input": {"q": payload},
                "status": "failed" if number % 2 else "succeeded",
            },
        )
        artifact_id = console.mutation(
            "artifacts:create",
            {"threadId": thread_id, "type": "plan", "title": payload, "content": CORPUS},
        )
        request_id = console.mutation(
            "approvalRequests:create",
            {"threadId": thread_id, "planContent": CORPUS, "artifactId": artifact_id},
        )
        if number < 6:
            decision = ("approved", "rejected", "changes_requested")[number % 3]
            args = {"approvalRequestId": request_id, "decision": decision, "comment": CORPUS}
            if decision == "changes_requested":
                args["editedPlan"] = CORPUS
            console.mutation("approvalRequests:resolve", args, token=token)
            decided.append(request_id)
    # Anyone can write the audit log's sign-in failures: the email tried is theirs to choose.
    for payload in SHORT[:4]:
        console.http.post("/api/auth/signin", json={"email": payload, "password": "wrong-pass"})
    console.mutation(
        "users:create",
        {
            "email": "xss-person@example.com",
            "name": PAYLOADS[1],
            "role": "viewer",
            "password": "viewer-password-9",
        },
        token=console.token("admin"),
    )

    for who, path in (
        ("reviewer", "/approvals"),
        ("reviewer", "/approvals?view=decided"),
        ("reviewer", "/threads"),
        ("reviewer", "/artifacts"),
        ("reviewer", "/"),
        ("admin", "/admin/audit"),
        ("admin", "/admin/users"),
        ("reviewer", f"/approvals/{decided[2]}"),
    ):
        page = tabs.open(who, path)
        # The untrusted text arrived (as text: most payloads name "xss") ...
        expect(page.get_by_text("xss", exact=False).first).to_be_attached()
        # ... and nothing of it ran.
        _assert_nothing_ran(page, tabs)

    # The dashboard's charts got the tool names (as SVG text, not markup).
    page = tabs.open("reviewer", "/")
    expect(page.locator("svg").get_by_text("xss", exact=False).first).to_be_attached()
    assert page.locator("svg .xss, svg script, svg foreignObject").count() == 0
    _assert_nothing_ran(page, tabs)


@pytest.mark.parametrize(
    "path",
    [
        "/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/..%2f..%2f..%2fetc%2fpasswd",
        "/assets/..%2f..%2frxconfig.py",
        "/_next/..%2f..%2f..%2fpyproject.toml",
        "/..%5c..%5crxconfig.py",
        "/%252e%252e/%252e%252e/rxconfig.py",
        "/.web/../rxconfig.py",
        "/console.css/..%2f..%2f..%2fapp%2fstate.py",
    ],
)
def test_static_files_stay_inside_the_build(console, path):
    for base in {console.frontend_url, console.backend_url}:
        answer = httpx.get(base.rstrip("/") + path, timeout=30)
        assert answer.status_code < 500, (base, path, answer.status_code)
        for leak in ("root:x:0:0", "import reflex", "[project]", "def ", "Traceback"):
            assert leak not in answer.text, (base, path)


PATHOLOGICAL = {
    "backticks": "`" * 100_000,
    "nested-lists": "".join("  " * depth + "- item\n" for depth in range(1_500)),
    "nested-quotes": ">" * 50_000 + " deep",
    "brackets": "[" * 50_000 + "x" + "]" * 50_000,
    "emphasis": "*a" * 50_000,
    "links": "[a](" * 20_000,
    "angles": "<" * 100_000,
    "entities": "&#x" * 30_000,
    "table": "|" * 2_000 + "\n" + "|-" * 1_000 + "\n" + "|x" * 1_000 + "\n",
}


@pytest.mark.parametrize("name", sorted(PATHOLOGICAL))
def test_pathological_markdown_renders_and_the_server_keeps_answering(tabs, console, name):
    thread_id = console.mutation("threads:create", {"title": f"pathological {name}"})
    plan = PATHOLOGICAL[name] + "\n\nThe end."
    artifact_id = console.mutation(
        "artifacts:create", {"threadId": thread_id, "type": "plan", "content": plan}
    )
    console.mutation("artifacts:update", {"artifactId": artifact_id, "content": plan + "\n2"})
    request_id = console.mutation(
        "approvalRequests:create",
        {"threadId": thread_id, "planContent": plan, "artifactId": artifact_id},
    )
    worst, stop = [0.0], threading.Event()

    def ping() -> None:
        with httpx.Client(base_url=console.backend_url, timeout=30) as client:
            while not stop.is_set():
                started = time.perf_counter()
                client.get("/api/health")
                worst[0] = max(worst[0], time.perf_counter() - started)
                time.sleep(0.05)

    pinger = threading.Thread(target=ping, daemon=True)
    pinger.start()
    try:
        page = tabs.open("reviewer", f"/approvals/{request_id}")
        # The page renders (the renderer did not hang or crash) ...
        expect(page.get_by_test_id("approve")).to_be_visible()
        expect(page.get_by_text("The end.").first).to_be_attached()
        assert page.get_by_text("An error occurred while rendering").count() == 0
        assert tabs.dialogs == []
    finally:
        stop.set()
        pinger.join(timeout=30)
    # ... and the server kept answering while it was served (a figure, not an assertion).
    print(f"{name}: /api/health worst {worst[0] * 1000:.0f} ms while the page loaded")
