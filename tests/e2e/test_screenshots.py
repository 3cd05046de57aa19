"""A full-page screenshot of every console page, desktop and phone (390 px), light and dark, saved
to $THREADLINE_SCREENSHOTS (default artifacts/screenshots). Each page must render its content
without horizontal overflow on a phone."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

SIZES = {"desktop": (1440, 900), "phone": (390, 844)}


def _seed(console):
    thread_id, artifact_id, request_id = console.plan_thread(
        "Migrate auth to OAuth",
        "# Plan\n\n1. Add the OAuth client\n2. Migrate sessions\n3. Remove passwords\n\n"
        "```python\nclient = OAuth(scopes=['openid'])\n```",
    )
    console.mutation(
        "artifacts:update",
        {
            "artifactId": artifact_id,
            "content": "# Plan\n\n1. Add the OAuth client\n2. Migrate sessions **in batches**\n"
            "3. Remove passwords",
        },
    )
    for index, (role, content) in enumerate(
        [
            ("user", "Move us to OAuth, please."),
            ("assistant", "I will read the auth module first."),
            ("assistant", "Here is my plan. Waiting for approval."),
        ]
    ):
        console.mutation(
            "messages:create", {"threadId": thread_id, "role": role, "content": content}
        )
        console.mutation(
            "toolCalls:record",
            {
                "threadId": thread_id,
                "toolName": ["read_file", "grep", "run_tests"][index],
                "input": {"path": "auth/session.py"},
                "output": {"lines": 120},
                "durationMs": 230 * (index + 1),
                "status": "failed" if index == 2 else "succeeded",
            },
        )
    console.plan_thread("Bump dependencies")
    _, _, decided = console.plan_thread("Delete stale branches")
    console.mutation(
        "approvalRequests:resolve",
        {
            "approvalRequestId": decided,
            "decision": "changes_requested",
            "comment": "Keep release branches.",
        },
        token=console.token("reviewer"),
    )
    return {
        "signin": ("/signin", None),
        "dashboard": ("/", "stat-pending"),
        "approvals": ("/approvals", "pending-list"),
        "approvals-decided": ("/approvals?view=decided", "decided-list"),
        "approval": (f"/approvals/{request_id}", "plan"),
        "threads": ("/threads", None),
        "thread": (f"/threads/{thread_id}", "timeline"),
        "artifacts": ("/artifacts", None),
        "artifact": (f"/artifacts/{artifact_id}", "diff-view"),
    }


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshot_every_page(tabs, console, screenshots, scheme):
    pages = _seed(console)
    for size, (width, height) in SIZES.items():
        if scheme == "dark" and size == "phone":
            continue
        page = tabs.new_page("reviewer", width, height)
        page.emulate_media(color_scheme=scheme)
        for name, (path, ready) in pages.items():
            if name == "signin":
                page.context.clear_cookies()
            page.goto(console.url(path))
            if ready:
                expect(page.get_by_test_id(ready)).to_be_visible()
            else:
                expect(page.locator("h1, h2").first).to_be_visible()
            page.wait_for_load_state("networkidle")
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 1, f"{name} overflows horizontally by {overflow}px at {width}px"
            page.screenshot(path=str(screenshots / f"{name}-{size}-{scheme}.png"), full_page=True)
            if name == "signin":
                page.context.add_cookies(
                    [
                        {
                            "name": "threadline_session",
                            "value": console.token("reviewer"),
                            "url": console.frontend_url,
                        }
                    ]
                )
