"""Threads: search and filters, one ordered timeline with "load older", artifacts' diffs."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_timeline_shows_messages_and_tool_calls_in_order(tabs, console):
    thread_id = console.mutation("threads:create", {"title": "Ordered"})
    expected = []
    for index in range(3):
        expected.append(
            console.mutation(
                "messages:create",
                {
                    "threadId": thread_id,
                    "role": "user" if index % 2 else "assistant",
                    "content": f"Message **{index}**",
                },
            )
        )
        expected.append(
            console.mutation(
                "toolCalls:record",
                {
                    "threadId": thread_id,
                    "toolName": f"tool_{index}",
                    "input": {"n": index},
                    "output": {"ok": True},
                    "durationMs": 1500,
                },
            )
        )
    page = tabs.open("viewer", f"/threads/{thread_id}")
    entries = page.get_by_test_id("timeline").locator(".timeline-entry")
    expect(entries).to_have_count(6)
    assert entries.evaluate_all("els => els.map(e => e.dataset.id)") == expected
    expect(entries.nth(0).locator("strong")).to_have_text("0")

    tool = entries.nth(1)
    expect(tool).to_contain_text("tool_0")
    expect(tool).to_contain_text("1.5 s")
    expect(tool.get_by_text('"n": 0')).to_be_hidden()
    tool.locator("summary").click()
    expect(tool.get_by_text('"n": 0')).to_be_visible()


def test_long_thread_opens_on_latest_and_loads_older(tabs, console):
    thread_id = console.mutation("threads:create", {"title": "Long"})
    for index in range(130):
        console.mutation(
            "messages:create",
            {"threadId": thread_id, "role": "assistant", "content": f"line {index}"},
        )
    page = tabs.open("viewer", f"/threads/{thread_id}")
    entries = page.get_by_test_id("timeline").locator(".timeline-entry")
    expect(entries).to_have_count(50)
    expect(entries.last).to_contain_text("line 129")
    expect(entries.first).to_contain_text("line 80")
    page.get_by_test_id("load-older").click()
    expect(entries).to_have_count(130)
    expect(entries.first).to_contain_text("line 0")
    expect(page.get_by_test_id("load-older")).to_have_count(0)


def test_thread_search_and_phase_filter(tabs, console):
    planning = console.mutation("threads:create", {"title": "Plan the migration"})
    console.mutation("sessions:upsert", {"threadId": planning, "phase": "planning"})
    executing = console.mutation("threads:create", {"title": "Execute the rollout"})
    console.mutation("sessions:upsert", {"threadId": executing, "phase": "executing"})
    page = tabs.open("viewer", "/threads")
    rows = page.locator("[data-thread-row]")
    expect(rows).to_have_count(2)

    page.get_by_label("Search titles").fill("rollout")
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Execute the rollout")

    page.get_by_role("button", name="Clear").click()
    expect(rows).to_have_count(2)
    page.get_by_label("Phase").fill("planning")
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Plan the migration")


def test_artifact_diff_between_versions_and_status(tabs, console):
    thread_id = console.mutation("threads:create", {"title": "Diffs"})
    artifact_id = console.mutation(
        "artifacts:create",
        {
            "threadId": thread_id,
            "type": "plan",
            "title": "Plan",
            "content": "# Plan\n\n1. keep\n2. old step\n3. keep too",
        },
    )
    console.mutation(
        "artifacts:update",
        {"artifactId": artifact_id, "content": "# Plan\n\n1. keep\n2. new step\n3. keep too"},
    )
    console.mutation(
        "artifacts:update",
        {"artifactId": artifact_id, "content": "# Plan\n\n1. keep\n2. newer step\n3. keep too"},
    )
    page = tabs.open("reviewer", f"/artifacts/{artifact_id}")
    diff = page.get_by_test_id("diff-view")
    expect(diff.locator(".diff-del")).to_have_count(1)
    expect(diff.locator(".diff-del")).to_contain_text("2. new step")
    expect(diff.locator(".diff-add")).to_contain_text("2. newer step")

    page.get_by_test_id("diff-from").click()
    page.get_by_role("option", name="1").click()
    expect(diff.locator(".diff-del")).to_contain_text("2. old step")
    expect(diff.locator(".diff-same").first).to_contain_text("# Plan")

    page.get_by_test_id("set-status").click()
    page.get_by_role("option", name="final").click()
    expect(page.get_by_text("Status set to final.")).to_be_visible()
    assert console.query("artifacts:get", {"artifactId": artifact_id})["status"] == "final"


def test_viewer_cannot_set_artifact_status(tabs, console):
    thread_id = console.mutation("threads:create", {"title": "Read only"})
    artifact_id = console.mutation(
        "artifacts:create", {"threadId": thread_id, "type": "report", "content": "# Report"}
    )
    page = tabs.open("viewer", f"/artifacts/{artifact_id}")
    expect(page.get_by_test_id("artifact-content")).to_contain_text("Report")
    expect(page.get_by_test_id("set-status")).to_have_count(0)


def test_export_thread_as_json_and_markdown(tabs, console):
    """Both exports are real attachments from /api/export/threads/..., downloaded with the
    session cookie; the page stays where it is."""
    import json

    thread_id = console.mutation("threads:create", {"title": "Export me"})
    console.mutation("messages:create", {"threadId": thread_id, "role": "user", "content": "Hi"})
    console.mutation(
        "toolCalls:record", {"threadId": thread_id, "toolName": "ls", "input": {"path": "."}}
    )
    page = tabs.open("viewer", f"/threads/{thread_id}")
    expect(page.get_by_test_id("timeline").locator(".timeline-entry")).to_have_count(2)
    responses = []
    page.on("response", lambda r: responses.append(r) if "/api/export/" in r.url else None)

    with page.expect_download() as download:
        page.get_by_test_id("export-json").click()
    assert download.value.suggested_filename == f"Export-me-{thread_id}.json"
    data = json.loads(open(download.value.path()).read())
    assert data["thread"]["title"] == "Export me"
    assert [m["content"] for m in data["messages"]] == ["Hi"]
    assert [t["toolName"] for t in data["toolCalls"]] == ["ls"]

    with page.expect_download() as download:
        page.get_by_test_id("export-markdown").click()
    assert download.value.suggested_filename == f"Export-me-{thread_id}.md"
    text = open(download.value.path()).read()
    assert text.startswith("# Export me")
    assert "### user · #0" in text and "tool ls · started" in text
    assert "~~~text\nHi\n~~~" in text  # agent and user text is fenced: inert in previewers

    assert page.url.endswith(f"/threads/{thread_id}")
    assert [r.url.rsplit("/", 1)[-1] for r in responses] == [f"{thread_id}.json", f"{thread_id}.md"]
    assert responses[0].headers["content-type"] == "application/json"
    assert responses[1].headers["content-type"] == "text/markdown; charset=utf-8"
    assert all(r.headers["x-content-type-options"] == "nosniff" for r in responses)


def test_an_export_link_on_another_site_downloads_nothing(tabs, console):
    """A foreign page linking to an export, opened in the browser of a signed-in viewer: the
    request is refused (Sec-Fetch-Site: cross-site), nothing is downloaded."""
    thread_id = console.mutation("threads:create", {"title": "Secret"})
    page = tabs.open("viewer", f"/threads/{thread_id}")
    url = f"{console.backend_url}/api/export/threads/{thread_id}.json"
    foreign = page.context.new_page()
    foreign.route(
        "http://attacker.test/",
        lambda route: route.fulfill(
            content_type="text/html", body=f'<a id="go" href="{url}">free stuff</a>'
        ),
    )
    foreign.goto("http://attacker.test/")
    downloads = []
    foreign.on("download", lambda download: downloads.append(download))
    with foreign.expect_response(lambda r: "/api/export/" in r.url) as answer:
        foreign.click("#go")
    assert answer.value.status == 403
    # Refused for where it came from (the harness's cookie is SameSite=Lax, so it rides along
    # on a top-level link: only the Sec-Fetch-Site check stands between the link and the file).
    assert answer.value.json()["code"] == "CrossSiteRequest"
    assert "Secret" not in answer.value.text()
    assert downloads == []


def test_a_long_version_and_plan_download_whole_as_attachments(tabs, console):
    """The pages render the first 100 KB; "Download" fetches the whole text from the API as a
    file (it never passes through the page's state)."""
    long_text = "# Long plan\n\n" + "".join(f"- step {n}\n" for n in range(20_000))
    thread_id, artifact_id, request_id = console.plan_thread("Long one", long_text)

    page = tabs.open("viewer", f"/artifacts/{artifact_id}")
    expect(page.get_by_test_id("content-cut")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_test_id("content-cut").get_by_role("button", name="Download").click()
    assert download.value.suggested_filename == f"Long-one-plan-v1-{artifact_id}.md"
    assert open(download.value.path()).read() == long_text

    page = tabs.open("viewer", f"/approvals/{request_id}")
    notice = page.get_by_test_id("content-cut").first
    expect(notice).to_be_visible()
    with page.expect_download() as download:
        notice.get_by_role("button", name="Download").click()
    assert download.value.suggested_filename == f"plan-{request_id}.md"
    assert open(download.value.path()).read() == long_text
