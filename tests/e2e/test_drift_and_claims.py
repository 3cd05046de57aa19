"""What ran against what was approved, and claims, in the console: the outside-plan badge on the
thread timeline, the list on the approval page, the dashboard count; "<name> is reviewing" in the
inbox and on the request (live), and the confirmation before deciding over someone's claim."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

PLANNED = [{"toolName": "read_file"}, {"toolName": "run_tests", "input": {"path": "tests/"}}]


def _approved_plan_with_drift(console) -> tuple[str, str]:
    thread_id = console.mutation("threads:create", {"title": "Drifting agent"})
    request_id = console.mutation(
        "approvalRequests:create",
        {
            "threadId": thread_id,
            "planContent": "1. Read the code\n2. Run the tests",
            "plannedToolCalls": PLANNED,
        },
    )
    before = {"threadId": thread_id, "toolName": "git_status", "input": {}}
    console.mutation("toolCalls:record", before)  # before the approval: not checked
    console.mutation(
        "approvalRequests:resolve",
        {"approvalRequestId": request_id, "decision": "approved"},
        token=console.token("reviewer"),
    )
    for name, tool_input in (
        ("read_file", {"path": "README.md"}),
        ("run_tests", {"path": "tests/"}),
        ("delete_branch", {"name": "main"}),
        ("run_tests", {"path": "/"}),
    ):
        console.mutation(
            "toolCalls:record", {"threadId": thread_id, "toolName": name, "input": tool_input}
        )
    return thread_id, request_id


def test_calls_outside_the_approved_plan_are_badged_listed_and_counted(tabs, console, screenshots):
    thread_id, request_id = _approved_plan_with_drift(console)

    page = tabs.open("reviewer", f"/threads/{thread_id}")
    badges = page.get_by_test_id("outside-plan-badge")
    expect(badges).to_have_count(2)
    flagged = page.locator('[data-kind="toolCall"]', has=badges)
    expect(flagged.nth(0)).to_contain_text("delete_branch")
    expect(flagged.nth(1)).to_contain_text("run_tests")
    page.screenshot(path=str(screenshots / "thread-outside-plan-desktop-light.png"))
    # A call recorded while the thread is open arrives live, flagged.
    console.mutation(
        "toolCalls:record", {"threadId": thread_id, "toolName": "drop_table", "input": {}}
    )
    expect(badges).to_have_count(3)
    expect(flagged.nth(2)).to_contain_text("drop_table")

    page.goto(console.url(f"/approvals/{request_id}"))
    listed = page.get_by_test_id("outside-plan")
    expect(listed).to_contain_text("3 calls outside the approved plan")
    expect(listed.locator('[data-kind="toolCall"]')).to_have_count(3)
    page.screenshot(path=str(screenshots / "approval-outside-plan-desktop-light.png"))

    page.goto(console.url("/"))
    expect(page.get_by_test_id("stat-outside-plan")).to_contain_text("3")
    page.screenshot(path=str(screenshots / "dashboard-outside-plan-desktop-light.png"))


def test_a_claim_shows_live_and_deciding_over_it_asks_first(tabs, console, screenshots):
    _, _, request_id = console.plan_thread("Claimed plan")
    page = tabs.open("reviewer", f"/approvals/{request_id}")
    expect(page.get_by_test_id("claim")).to_be_visible()

    # Rob claims it from elsewhere: Rita's open tab hears it through the live queue.
    rob = console.token("reviewer2")
    console.mutation("approvalRequests:claim", {"approvalRequestId": request_id}, token=rob)
    note = page.get_by_test_id("claim-note")
    expect(note).to_have_text(re.compile("Rob Reviewer is reviewing this request"))
    expect(page.get_by_test_id("claim")).to_have_count(0)

    page.get_by_test_id("approve").click()
    warning = page.get_by_role("alertdialog")
    expect(warning).to_contain_text("Rob Reviewer is reviewing this request")
    # The dialog fades in: take the picture once it has.
    page.wait_for_function(
        "getComputedStyle(document.querySelector('[role=alertdialog]')).opacity === '1'"
    )
    page.screenshot(path=str(screenshots / "approval-claimed-desktop-light.png"))
    assert console.request(request_id)["status"] == "pending"

    page.get_by_role("button", name="Cancel").click()
    expect(warning).to_have_count(0)
    assert console.request(request_id)["status"] == "pending"

    page.get_by_test_id("approve").click()
    page.get_by_test_id("claim-warning-confirm").click()
    expect(page).to_have_url(re.compile(r"/approvals/?$"))
    decided = console.request(request_id)
    assert (decided["status"], decided["decidedBy"]) == ("approved", console.user_ids["reviewer"])
    assert tabs.dialogs == []


def test_claiming_from_the_page_shows_in_the_other_reviewers_inbox(tabs, console):
    _, _, request_id = console.plan_thread("Mine to review")
    inbox = tabs.open("reviewer2", "/approvals")
    row = inbox.locator(f'[data-queue-row="{request_id}"]')
    expect(row).to_be_visible()
    expect(row.get_by_test_id("claim-badge")).to_have_count(0)

    page = tabs.open("reviewer", f"/approvals/{request_id}")
    page.get_by_test_id("claim").click()
    expect(page.get_by_test_id("claim-note")).to_contain_text("You are reviewing this request")
    assert console.request(request_id)["claimedBy"] == console.user_ids["reviewer"]
    expect(row.get_by_test_id("claim-badge")).to_have_text("Rita Reviewer is reviewing")

    # Releasing it clears the badge everywhere.
    page.get_by_test_id("unclaim").click()
    expect(page.get_by_test_id("claim")).to_be_visible()
    expect(row.get_by_test_id("claim-badge")).to_have_count(0)
    assert "claimedBy" not in console.request(request_id)
