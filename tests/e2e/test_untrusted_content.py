"""Agent-written text (plans, messages, tool input/output, artifacts) stays inert in the console:
no script runs, no injected element exists, no javascript:/data: link survives."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

# Every payload, if it worked, would set window.__xss, open a dialog, or leave an element with
# class "xss" in the page.
PAYLOADS = [
    "<script>window.__xss = 1; alert('script')</script>",
    '<img src="x" onerror="window.__xss = 2; alert(\'img\')" class="xss">',
    '<svg onload="window.__xss = 3; alert(\'svg\')" class="xss"></svg>',
    '<iframe src="javascript:alert(\'iframe\')" class="xss"></iframe>',
    '<iframe srcdoc="<script>parent.__xss = 4</script>" class="xss"></iframe>',
    "<style>body { display: none !important; }</style>",
    '<div class="xss" style="position:fixed;inset:0;background:red">overlay</div>',
    "[click me](javascript:alert('link'))",
    "[data link](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![pixel](javascript:alert('image'))",
    "![tracker](https://tracker.invalid/pixel.png)",
    '<a href="javascript:alert(\'raw\')" class="xss">raw link</a>',
    '<details open ontoggle="window.__xss = 5" class="xss">x</details>',
    '<math><mtext><table><mglyph><style><img src=x onerror="window.__xss=6">',
    "[vb](vbscript:msgbox(1))",
    '<object data="javascript:alert(\'object\')" class="xss"></object>',
]
CORPUS = "# Innocent plan\n\n" + "\n\n".join(PAYLOADS) + "\n\nThe end."


def _assert_inert(page, tabs) -> None:
    # The text arrived (so the payloads were rendered, as text) ...
    expect(page.get_by_text("The end.").first).to_be_visible()
    # ... and nothing ran or got injected.
    assert page.evaluate("window.__xss") is None
    assert tabs.dialogs == []
    assert page.locator(".xss").count() == 0
    for selector in (
        "iframe",
        "object",
        "embed",
        ".safe-markdown script",
        ".safe-markdown style",
        ".safe-markdown img",
        ".safe-markdown svg:not(.lucide)",
    ):
        assert page.locator(selector).count() == 0, selector
    hrefs = page.eval_on_selector_all(".safe-markdown a", "links => links.map(a => a.href)")
    for href in hrefs:
        assert not href.lower().startswith(("javascript:", "data:", "vbscript:")), href
    expect(page.locator("body")).to_be_visible()


def test_xss_corpus_stays_inert_everywhere(tabs, console):
    thread_id = console.mutation("threads:create", {"title": "<img src=x onerror=alert(1)>"})
    console.mutation("messages:create", {"threadId": thread_id, "role": "user", "content": CORPUS})
    console.mutation(
        "messages:create", {"threadId": thread_id, "role": "assistant", "content": CORPUS}
    )
    console.mutation(
        "toolCalls:record",
        {
            "threadId": thread_id,
            "toolName": "<script>alert('tool')</script>",
            "input": {"html": PAYLOADS[:4]},
            "output": {"html": PAYLOADS[4:8], "note": "The end."},
            "status": "succeeded",
        },
    )
    console.mutation(
        "sessions:upsert",
        {
            "threadId": thread_id,
            "phase": "<b>phase</b>",
            "plan": CORPUS,
            "state": {"x": PAYLOADS[0]},
        },
    )
    artifact_id = console.mutation(
        "artifacts:create",
        {"threadId": thread_id, "type": "plan", "title": PAYLOADS[1], "content": CORPUS},
    )
    request_id = console.mutation(
        "approvalRequests:create",
        {"threadId": thread_id, "planContent": CORPUS, "artifactId": artifact_id},
    )

    inbox = tabs.open("reviewer", "/approvals")
    expect(inbox.locator(f'[data-queue-row="{request_id}"]')).to_be_visible()
    assert inbox.evaluate("window.__xss") is None and inbox.locator(".xss").count() == 0

    for path in (f"/approvals/{request_id}", f"/threads/{thread_id}", f"/artifacts/{artifact_id}"):
        page = tabs.open("reviewer", path)
        _assert_inert(page, tabs)

    # The editor's live preview is untrusted too.
    page = tabs.open("reviewer", f"/approvals/{request_id}")
    page.get_by_test_id("edit-plan").click()
    expect(page.get_by_test_id("edited-preview")).to_contain_text("The end.")
    _assert_inert(page, tabs)
