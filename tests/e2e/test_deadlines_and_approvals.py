"""Deadlines and the two-person rule in the console: the inbox sorts by deadline and counts down
in the browser; a request that expires leaves the open inbox; "1 of 2 approvals" and who
approved, on the inbox and on the detail page, and the second person's approval decides."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

COUNTDOWN = re.compile(r"^(\d+d \d+h|\d+h \d\dm|\d+m \d\ds)$")


def _request(console, title: str, **fields) -> str:
    thread_id = console.mutation("threads:create", {"title": title})
    return console.mutation(
        "approvalRequests:create",
        {"threadId": thread_id, "planContent": f"# Plan\n\n1. {title}", **fields},
    )


def test_the_inbox_sorts_by_deadline_and_counts_down(tabs, console, screenshots):
    plain = _request(console, "Tidy the changelog")
    later = _request(console, "Rotate the signing keys", timeoutMs=3 * 3_600_000)
    soon = _request(console, "Restart the billing workers", timeoutMs=9 * 60_000)
    page = tabs.open("reviewer", "/approvals")

    rows = page.locator("[data-queue-row]")
    expect(rows).to_have_count(3)
    assert [rows.nth(i).get_attribute("data-queue-row") for i in range(3)] == [soon, later, plain]
    countdown = page.locator(f'[data-queue-row="{soon}"] [data-testid="countdown"]')
    expect(countdown).to_have_text(COUNTDOWN)
    first = countdown.text_content()
    expect(countdown).not_to_have_text(first)  # it ticks in the browser
    expect(page.locator(f'[data-queue-row="{later}"] [data-testid="countdown"]')).to_have_text(
        re.compile(r"^2h 5\dm$")
    )
    expect(page.locator(f'[data-queue-row="{plain}"]')).to_contain_text("waiting")
    expect(page.locator(f'[data-queue-row="{plain}"] [data-testid="countdown"]')).to_have_count(0)
    page.screenshot(path=str(screenshots / "approvals-deadline-desktop-light.png"))

    page.locator(f'[data-queue-row="{soon}"]').click()
    deadline = page.get_by_test_id("deadline")
    expect(deadline).to_contain_text("Expires in")
    expect(deadline.get_by_test_id("countdown")).to_have_text(COUNTDOWN)


def test_a_request_that_expires_leaves_the_open_inbox(tabs, console):
    waiting = _request(console, "Keep this one")
    page = tabs.open("viewer", "/approvals")
    expect(page.locator(f'[data-queue-row="{waiting}"]')).to_be_visible()

    expiring = _request(console, "Answer within seconds", timeoutMs=2000)

    row = page.locator(f'[data-queue-row="{expiring}"]')
    expect(row).to_be_visible()
    expect(row).to_have_count(0, timeout=60_000)  # expired by the server, pushed live
    assert console.request(expiring)["status"] == "expired"
    expect(page.locator(f'[data-queue-row="{waiting}"]')).to_be_visible()
    page.goto(console.url(f"/approvals/{expiring}"))
    expect(page.get_by_test_id("decided-banner")).to_contain_text("Expired")
    expect(page.get_by_test_id("decision-panel")).to_have_count(0)


def test_two_people_must_approve(tabs, console, screenshots):
    thread_id = console.mutation("threads:create", {"title": "Migrate the invoices table"})
    plan = "# Plan\n\n1. Copy the rows\n2. Swap the tables"
    artifact_id = console.mutation(
        "artifacts:create", {"threadId": thread_id, "type": "plan", "content": plan}
    )
    request_id = console.mutation(
        "approvalRequests:create",
        {
            "threadId": thread_id,
            "planContent": plan,
            "artifactId": artifact_id,
            "requiredApprovals": 2,
            "timeoutMs": 24 * 3_600_000,
        },
    )

    first = tabs.open("reviewer", f"/approvals/{request_id}")
    expect(first.get_by_test_id("approval-count")).to_have_text("0 of 2 approvals")
    # An edited plan comes only with the approval that completes the request.
    expect(first.get_by_test_id("edit-plan")).to_have_count(0)
    first.get_by_test_id("approve").click()
    expect(first.get_by_text("1 of 2 approvals. It waits for another")).to_be_visible()
    halfway = console.request(request_id)
    assert halfway["status"] == "pending"
    assert [a["userId"] for a in halfway["approvals"]] == [console.user_ids["reviewer"]]

    inbox = tabs.open("reviewer2", "/approvals")
    row = inbox.locator(f'[data-queue-row="{request_id}"]')
    expect(row.get_by_test_id("approval-count")).to_have_text("1 of 2 approvals")
    expect(row.get_by_test_id("approver-names")).to_have_text("approved by Rita Reviewer")
    inbox.screenshot(path=str(screenshots / "approvals-two-person-inbox-desktop-light.png"))
    row.click()
    expect(inbox.get_by_test_id("approval-count")).to_have_text("1 of 2 approvals")
    expect(inbox.get_by_test_id("approvers")).to_contain_text("Rita Reviewer approved on")
    expect(inbox.get_by_test_id("approved-by-me")).to_have_count(0)
    expect(inbox.get_by_test_id("edit-plan")).to_be_visible()  # this approval completes it
    inbox.screenshot(path=str(screenshots / "approval-two-person-desktop-light.png"))

    inbox.get_by_test_id("approve").click()
    expect(inbox.get_by_text("Approved.")).to_be_visible()
    done = console.request(request_id)
    assert done["status"] == "approved"
    assert done["decidedBy"] == console.user_ids["reviewer2"]
    assert len(done["approvals"]) == 2


def test_the_first_approver_sees_the_request_wait_for_another_person(tabs, console):
    request_id = _request(console, "Drop the old index", requiredApprovals=2)
    console.mutation(
        "approvalRequests:resolve",
        {"approvalRequestId": request_id, "decision": "approved", "comment": "fine"},
        token=console.token("reviewer"),
    )

    page = tabs.open("reviewer", f"/approvals/{request_id}")

    expect(page.get_by_test_id("approved-by-me")).to_be_visible()
    expect(page.get_by_test_id("approvers")).to_contain_text("fine")
