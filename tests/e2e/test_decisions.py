"""Deciding requests in the console, checked through the API afterwards; who may decide."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def _open_request(tabs, who: str, request_id: str):
    page = tabs.open(who, f"/approvals/{request_id}")
    expect(page.get_by_test_id("plan")).to_be_visible()
    return page


def test_approve_with_comment(tabs, console):
    _, artifact_id, request_id = console.plan_thread("Approve me")
    page = _open_request(tabs, "reviewer", request_id)
    expect(page.get_by_test_id("sdk-session-id")).to_have_text("sdk-Approve me")
    page.get_by_test_id("decision-comment").fill("Go ahead, mind the migration.")
    page.get_by_test_id("approve").click()
    expect(page).to_have_url(re.compile(r"/approvals/?$"))

    decided = console.request(request_id)
    assert decided["status"] == "approved"
    assert decided["comment"] == "Go ahead, mind the migration."
    assert decided["decidedBy"] == console.user_ids["reviewer"]
    artifact = console.query("artifacts:get", {"artifactId": artifact_id})
    assert artifact["status"] == "approved"


@pytest.mark.parametrize(
    ("button", "status"), [("reject", "rejected"), ("request-changes", "changes_requested")]
)
def test_reject_and_request_changes_need_a_comment(tabs, console, button, status):
    _, _, request_id = console.plan_thread(f"Decide {status}")
    page = _open_request(tabs, "admin", request_id)
    page.get_by_test_id(button).click()
    expect(page.get_by_text("Write a comment to")).to_be_visible()
    assert console.request(request_id)["status"] == "pending"

    page.get_by_test_id("decision-comment").fill("Split step 2 in two.")
    page.get_by_test_id(button).click()
    expect(page).to_have_url(re.compile(r"/approvals/?$"))
    decided = console.request(request_id)
    assert (decided["status"], decided["comment"]) == (status, "Split step 2 in two.")
    assert decided["decidedBy"] == console.user_ids["admin"]


def test_edit_then_approve_sends_the_edited_plan(tabs, console):
    _, artifact_id, request_id = console.plan_thread("Edit me")
    _, _, next_request = console.plan_thread("Next one")
    page = _open_request(tabs, "reviewer", request_id)
    page.get_by_test_id("edit-plan").click()
    editor = page.get_by_test_id("edited-plan")
    edited = "# Plan\n\n1. Read the code\n2. Change it\n3. **Run the tests**"
    editor.fill(edited)
    expect(page.get_by_test_id("edited-preview").locator("strong")).to_have_text("Run the tests")
    page.get_by_test_id("approve-edited").click()
    # The next pending request opens.
    expect(page).to_have_url(re.compile(f"/approvals/{next_request}/?$"))

    decided = console.request(request_id)
    assert decided["status"] == "approved"
    assert decided["editedPlan"] == edited
    versions = console.query("artifacts:versions", {"artifactId": artifact_id})
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[-1]["content"] == edited


def test_viewer_sees_no_controls_and_a_forged_decision_is_refused(tabs, console):
    from app.pages.approval import ApprovalState

    _, artifact_id, request_id = console.plan_thread("Viewer looks")
    console.mutation("artifacts:update", {"artifactId": artifact_id, "content": "# Plan v2"})
    page = tabs.new_page("viewer")
    # Reflex hands every outgoing event to this (instrumentation) hook just before it goes out
    # on the websocket: the test uses it to rewrite the next event into a decision.
    page.add_init_script(
        """
        window.__forge = null;
        window.__reflex_otel = {onEventSend(event) {
            if (window.__forge) { Object.assign(event, window.__forge); window.__forge = null; }
        }};
        """
    )
    page.goto(console.url(f"/approvals/{request_id}"))
    expect(page.get_by_test_id("plan")).to_be_visible()
    expect(page.get_by_test_id("viewer-note")).to_be_visible()
    for control in ("approve", "reject", "request-changes", "edit-plan", "decision-comment"):
        expect(page.get_by_test_id(control)).to_have_count(0)

    forged = {
        "name": f"{ApprovalState.get_full_name()}.decide",
        "payload": {"decision": "approved"},
    }
    page.evaluate("forged => { window.__forge = forged; }", forged)
    # Any event carries the forgery: here, picking a version to compare.
    page.get_by_label("Old version").click()
    page.get_by_role("option", name="2").click()

    expect(
        page.get_by_text("Not allowed: a viewer may not call approvalRequests:resolve")
    ).to_be_visible()
    assert page.evaluate("window.__forge") is None  # the forged event was sent
    assert console.request(request_id)["status"] == "pending"


def test_two_tabs_deciding_the_same_request_first_wins(tabs, console):
    _, _, request_id = console.plan_thread("Contested")
    first = _open_request(tabs, "reviewer", request_id)
    second = _open_request(tabs, "reviewer2", request_id)

    first.get_by_test_id("decision-comment").fill("Ship it")
    first.get_by_test_id("approve").click()
    expect(first).to_have_url(re.compile(r"/approvals/?$"))

    # The other tab learns live that the request was decided ...
    expect(second.get_by_test_id("decided-elsewhere")).to_be_visible()
    # ... and a decision sent anyway is refused by the server, naming who decided.
    second.get_by_test_id("decision-comment").fill("No")
    second.get_by_test_id("reject").click()
    expect(second.get_by_text("already approved by Rita Reviewer")).to_be_visible()
    expect(second.get_by_test_id("decided-banner")).to_contain_text("Approved by Rita Reviewer")
    expect(second.get_by_test_id("approve")).to_have_count(0)

    decided = console.request(request_id)
    assert (decided["status"], decided["comment"]) == ("approved", "Ship it")


def test_a_plan_changed_meanwhile_is_shown_and_decided_again(tabs, console):
    """Issue 9, item 5: the console sends the artifact version it displayed; when the backend
    posted a new version in between, nothing is decided, the reviewer sees what changed and
    decides again, on the new version."""
    _, artifact_id, request_id = console.plan_thread("Changed meanwhile")
    page = _open_request(tabs, "reviewer", request_id)
    console.mutation(
        "artifacts:update",
        {"artifactId": artifact_id, "content": "# Plan\n\n1. Read the code\n2. Delete prod"},
    )

    page.get_by_test_id("approve").click()

    expect(page.get_by_test_id("plan-changed")).to_contain_text("version 2 replaced version 1")
    expect(page.get_by_test_id("diff-view").locator(".diff-add")).to_contain_text("Delete prod")
    assert console.request(request_id)["status"] == "pending"

    page.get_by_test_id("decision-comment").fill("Not deleting prod.")
    page.get_by_test_id("reject").click()
    expect(page).to_have_url(re.compile(r"/approvals/?$"))
    decided = console.request(request_id)
    assert (decided["status"], decided["artifactVersion"]) == ("rejected", 2)
