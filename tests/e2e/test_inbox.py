"""The live inbox: requests arrive and leave open tabs without a reload; keyboard shortcuts."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_new_request_appears_live_and_leaves_when_decided(tabs, console):
    first = tabs.open("reviewer", "/approvals")
    second = tabs.open("viewer", "/approvals")
    for page in (first, second):
        expect(page.get_by_text("No pending requests")).to_be_visible()

    thread_id = console.mutation("threads:create", {"title": "Rename the billing module"})
    request_id = console.mutation(
        "approvalRequests:create",
        {"threadId": thread_id, "planContent": "# Plan\n\nRename `billing` to `invoicing`."},
    )

    for page in (first, second):
        row = page.locator(f'[data-queue-row="{request_id}"]')
        expect(row).to_contain_text("Rename the billing module")
        expect(row).to_contain_text("Rename `billing` to `invoicing`.")
        expect(page.get_by_test_id("pending-count")).to_have_text("1")

    console.mutation(
        "approvalRequests:resolve",
        {"approvalRequestId": request_id, "decision": "approved"},
        token=console.token("admin"),
    )
    for page in (first, second):
        expect(page.locator(f'[data-queue-row="{request_id}"]')).to_have_count(0)
        expect(page.get_by_test_id("pending-count")).to_have_count(0)


def test_decided_view_names_decider_and_filters(tabs, console):
    _, _, approved = console.plan_thread("Alpha")
    _, _, rejected = console.plan_thread("Beta")
    token = console.token("reviewer")
    console.mutation(
        "approvalRequests:resolve",
        {"approvalRequestId": approved, "decision": "approved", "comment": "Looks right"},
        token=token,
    )
    console.mutation(
        "approvalRequests:resolve",
        {"approvalRequestId": rejected, "decision": "rejected", "comment": "Too risky"},
        token=token,
    )
    page = tabs.open("viewer", "/approvals?view=decided")
    decided = page.get_by_test_id("decided-list")
    expect(decided.locator(".decided-row")).to_have_count(2)
    expect(decided).to_contain_text("Rita Reviewer")
    expect(decided).to_contain_text("Too risky")

    page.get_by_label("Decision").click()
    page.get_by_role("option", name="rejected").click()
    expect(decided.locator(".decided-row")).to_have_count(1)
    expect(decided).to_contain_text("Beta")

    page.get_by_label("Decision").click()
    page.get_by_role("option", name="any").click()
    page.get_by_label("Thread").fill("alp")
    page.get_by_role("button", name="Filter").click()
    expect(decided.locator(".decided-row")).to_have_count(1)
    expect(decided).to_contain_text("Looks right")


def test_keyboard_shortcuts(tabs, console):
    _, _, first = console.plan_thread("First in line")
    _, _, second = console.plan_thread("Second in line")
    _, _, third = console.plan_thread("Third in line")
    page = tabs.open("reviewer", "/approvals")
    expect(page.locator("[data-queue-row]")).to_have_count(3)

    page.keyboard.press("j")
    expect(page.locator(f'[data-queue-row="{first}"]')).to_be_focused()
    page.keyboard.press("j")
    expect(page.locator(f'[data-queue-row="{second}"]')).to_be_focused()
    page.keyboard.press("k")
    expect(page.locator(f'[data-queue-row="{first}"]')).to_be_focused()

    page.keyboard.press("?")
    expect(page.get_by_test_id("shortcut-help")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("shortcut-help")).to_have_count(0)

    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(f"/approvals/{first}/?$"))
    expect(page.get_by_role("heading", name="First in line")).to_be_visible()

    # j goes to the next request in the queue.
    page.keyboard.press("j")
    expect(page).to_have_url(re.compile(f"/approvals/{second}/?$"))
    expect(page.get_by_role("heading", name="Second in line")).to_be_visible()

    # Typing "a" in the comment box types; it does not approve.
    comment = page.get_by_test_id("decision-comment")
    comment.click()
    page.keyboard.type("a sound plan")
    expect(comment).to_have_value("a sound plan")
    assert console.request(second)["status"] == "pending"

    # r without a comment is refused in the page; with one it rejects.
    comment.fill("")
    page.keyboard.press("Escape")
    page.keyboard.press("r")
    expect(page.get_by_text("Write a comment to reject")).to_be_visible()
    comment.fill("Not this sprint")
    page.keyboard.press("Escape")
    page.keyboard.press("r")
    # After a decision the next pending request opens.
    expect(page).to_have_url(re.compile(f"/approvals/{third}/?$"))
    rejected = console.request(second)
    assert (rejected["status"], rejected["comment"]) == ("rejected", "Not this sprint")

    expect(page.get_by_role("heading", name="Third in line")).to_be_visible()
    page.keyboard.press("a")
    expect(page).to_have_url(re.compile(f"/approvals/{first}/?$"))
    assert console.request(third)["status"] == "approved"
    expect(page.get_by_role("heading", name="First in line")).to_be_visible()

    page.keyboard.press("c")
    expect(page.get_by_text("Write a comment to request changes")).to_be_visible()
    assert console.request(first)["status"] == "pending"
    page.keyboard.press("Escape")
    page.keyboard.press("e")
    expect(page.get_by_test_id("edited-plan")).to_be_focused()
