"""The console's read models: inbox:pending, inbox:decided, inbox:detail, timeline:list,
console:threads, dashboard:stats."""

from __future__ import annotations

import pytest

DAY_MS = 86_400_000


@pytest.fixture
def reviewer(as_role):
    return as_role("reviewer")


async def _request(api, thread_id, plan="# Plan\n\nDo the thing."):
    return await api.mutation(
        "approvalRequests:create", {"threadId": thread_id, "planContent": plan}
    )


async def test_pending_lists_oldest_first_with_thread_title_and_preview(api, reviewer):
    first_thread = await api.mutation("threads:create", {"title": "Refactor billing"})
    second_thread = await api.mutation("threads:create", {"title": "Migrate search"})
    first = await _request(api, first_thread, "# Plan\n\n" + "step " * 200)
    second = await _request(api, second_thread)
    decided = await _request(api, second_thread)
    await reviewer.mutation(
        "approvalRequests:resolve", {"approvalRequestId": decided, "decision": "approved"}
    )

    inbox = await reviewer.query("inbox:pending", {})

    assert inbox["count"] == 2
    assert [r["_id"] for r in inbox["requests"]] == [first, second]
    assert inbox["requests"][0]["threadTitle"] == "Refactor billing"
    preview = inbox["requests"][0]["planPreview"]
    assert preview.startswith("# Plan step step") and preview.endswith("…")
    assert len(preview) <= 240


async def test_pending_count_is_the_total_when_the_list_is_cut(api, reviewer, thread_id):
    for _ in range(3):
        await _request(api, thread_id)
    inbox = await reviewer.query("inbox:pending", {"limit": 2})
    assert inbox["count"] == 3
    assert len(inbox["requests"]) == 2


async def test_end_users_may_not_read_console_models(as_role):
    message = await as_role("user").query_error("inbox:pending", {})
    assert message == "Not allowed: a user may not call inbox:pending"


async def test_decided_names_the_decider_and_filters(api, as_role, people):
    billing = await api.mutation("threads:create", {"title": "Billing"})
    search = await api.mutation("threads:create", {"title": "Search"})
    approved = await _request(api, billing)
    rejected = await _request(api, search)
    await _request(api, search)  # still pending: never listed
    reviewer, admin = as_role("reviewer"), as_role("admin")
    await reviewer.mutation(
        "approvalRequests:resolve",
        {"approvalRequestId": approved, "decision": "approved", "comment": "ok"},
    )
    await admin.mutation(
        "approvalRequests:resolve",
        {"approvalRequestId": rejected, "decision": "rejected", "comment": "no"},
    )
    opts = {"numItems": 10, "cursor": None}

    everything = await reviewer.query("inbox:decided", {"paginationOpts": opts})
    assert [r["_id"] for r in everything["page"]] == [rejected, approved]
    assert everything["page"][0]["decidedByName"] == "Admin"
    assert everything["page"][1]["decidedByName"] == "Reviewer"
    assert everything["page"][1]["comment"] == "ok"

    only_rejected = await reviewer.query(
        "inbox:decided", {"paginationOpts": opts, "decision": "rejected"}
    )
    assert [r["_id"] for r in only_rejected["page"]] == [rejected]
    by_title = await reviewer.query(
        "inbox:decided", {"paginationOpts": opts, "threadSearch": "bill"}
    )
    assert [r["_id"] for r in by_title["page"]] == [approved]
    by_thread = await reviewer.query("inbox:decided", {"paginationOpts": opts, "threadId": search})
    assert [r["_id"] for r in by_thread["page"]] == [rejected]


async def test_decided_pages_through_every_decision(api, reviewer, thread_id):
    ids = [await _request(api, thread_id) for _ in range(5)]
    for request_id in ids:
        await reviewer.mutation(
            "approvalRequests:resolve", {"approvalRequestId": request_id, "decision": "approved"}
        )
    seen, cursor = [], None
    while True:
        result = await reviewer.query(
            "inbox:decided", {"paginationOpts": {"numItems": 2, "cursor": cursor}}
        )
        seen += [r["_id"] for r in result["page"]]
        if result["isDone"]:
            break
        cursor = result["continueCursor"]
    assert seen == list(reversed(ids))


async def test_detail_knows_the_neighbours_in_the_queue(api, reviewer, thread_id):
    first, second, third = [await _request(api, thread_id) for _ in range(3)]
    middle = await reviewer.query("inbox:detail", {"approvalRequestId": second})
    assert middle["previousPendingId"] == first
    assert middle["nextPendingId"] == third
    assert middle["firstPendingId"] == first
    assert middle["threadTitle"] == "Test thread"
    head = await reviewer.query("inbox:detail", {"approvalRequestId": first})
    assert head["firstPendingId"] == second
    assert await reviewer.query("inbox:detail", {"approvalRequestId": "apr_nope"}) is None


async def test_timeline_interleaves_messages_and_tool_calls_newest_first(api, reviewer, thread_id):
    expected = []
    for index in range(4):
        message_id = await api.mutation(
            "messages:create", {"threadId": thread_id, "role": "assistant", "content": f"m{index}"}
        )
        call_id = await api.mutation(
            "toolCalls:record",
            {"threadId": thread_id, "toolName": "grep", "input": {"q": index}, "output": "ok"},
        )
        expected += [("message", message_id), ("toolCall", call_id)]

    seen, cursor = [], None
    while True:
        result = await reviewer.query(
            "timeline:list",
            {"threadId": thread_id, "paginationOpts": {"numItems": 3, "cursor": cursor}},
        )
        seen += [(entry["kind"], entry["_id"]) for entry in result["page"]]
        if result["isDone"]:
            break
        cursor = result["continueCursor"]

    assert seen == list(reversed(expected))


async def test_timeline_of_unknown_thread_is_empty(reviewer):
    result = await reviewer.query(
        "timeline:list",
        {"threadId": "thr_missing", "paginationOpts": {"numItems": 5, "cursor": None}},
    )
    assert result == {"page": [], "isDone": True, "continueCursor": "end"}


async def test_console_threads_carries_phase_and_filters_by_it(api, reviewer):
    planning = await api.mutation("threads:create", {"title": "Planning one"})
    executing = await api.mutation("threads:create", {"title": "Executing one"})
    await api.mutation("threads:create", {"title": "No session"})
    await api.mutation("sessions:upsert", {"threadId": planning, "phase": "planning"})
    await api.mutation("sessions:upsert", {"threadId": executing, "phase": "executing"})
    opts = {"numItems": 10, "cursor": None}

    everything = await reviewer.query("console:threads", {"paginationOpts": opts})
    assert [t["title"] for t in everything["page"]] == [
        "No session",
        "Executing one",
        "Planning one",
    ]
    assert everything["page"][1]["phase"] == "executing"
    assert "phase" not in everything["page"][0]

    planning_only = await reviewer.query(
        "console:threads", {"paginationOpts": opts, "phase": "planning"}
    )
    assert [t["_id"] for t in planning_only["page"]] == [planning]
    searched = await reviewer.query("console:threads", {"paginationOpts": opts, "search": "EXEC"})
    assert [t["_id"] for t in searched["page"]] == [executing]


async def test_console_threads_keyset_pages_cover_every_thread(api, reviewer):
    ids = [await api.mutation("threads:create", {"title": f"t{i}"}) for i in range(7)]
    seen, cursor = [], None
    while True:
        result = await reviewer.query(
            "console:threads", {"paginationOpts": {"numItems": 3, "cursor": cursor}}
        )
        seen += [t["_id"] for t in result["page"]]
        if result["isDone"]:
            break
        cursor = result["continueCursor"]
    assert seen == list(reversed(ids))


async def test_dashboard_stats_counts_queue_decisions_and_tools(api, reviewer, thread_id):
    pending = await _request(api, thread_id)
    decided_ids = [await _request(api, thread_id) for _ in range(3)]
    for request_id, decision in zip(decided_ids, ["approved", "rejected", "approved"], strict=True):
        await reviewer.mutation(
            "approvalRequests:resolve",
            {"approvalRequestId": request_id, "decision": decision, "comment": "why"},
        )
    for name, status in [("grep", "succeeded"), ("grep", "failed"), ("edit", "succeeded")]:
        await api.mutation(
            "toolCalls:record",
            {"threadId": thread_id, "toolName": name, "input": {}, "status": status},
        )

    stats = await reviewer.query("dashboard:stats", {})

    pending_doc = await reviewer.query("approvalRequests:get", {"approvalRequestId": pending})
    assert stats["pendingCount"] == 1
    assert stats["oldestPendingTime"] == pending_doc["_creationTime"]
    assert stats["decisionsToday"] == 3
    assert stats["medianDecisionMs"] is not None and stats["medianDecisionMs"] >= 0
    assert len(stats["decisionsPerDay"]) == 14
    today = stats["decisionsPerDay"][-1]
    assert (today["approved"], today["rejected"], today["changes_requested"]) == (2, 1, 0)
    assert sum(day["approved"] for day in stats["decisionsPerDay"][:-1]) == 0
    assert stats["toolCallsPerTool"][0] == {
        "toolName": "grep",
        "count": 2,
        "failed": 1,
        "avgDurationMs": None,
    }
    assert stats["toolCallsPerTool"][1]["toolName"] == "edit"


async def test_dashboard_stats_median_is_the_middle_duration(api, reviewer, thread_id):
    ids = [await _request(api, thread_id) for _ in range(3)]
    for request_id in ids:
        await reviewer.mutation(
            "approvalRequests:resolve", {"approvalRequestId": request_id, "decision": "approved"}
        )
    docs = [await reviewer.query("approvalRequests:get", {"approvalRequestId": i}) for i in ids]
    durations = sorted(d["decidedTime"] - d["_creationTime"] for d in docs)
    stats = await reviewer.query("dashboard:stats", {"days": 1})
    assert stats["medianDecisionMs"] == pytest.approx(durations[1])


async def test_dashboard_stats_empty_database(reviewer):
    stats = await reviewer.query("dashboard:stats", {"days": 3, "now": 10 * DAY_MS + 5})
    assert stats["pendingCount"] == 0
    assert stats["oldestPendingTime"] is None
    assert stats["medianDecisionMs"] is None
    assert [d["day"] for d in stats["decisionsPerDay"]] == [
        "1970-01-09",
        "1970-01-10",
        "1970-01-11",
    ]
    assert stats["toolCallsPerTool"] == []


async def test_api_keys_may_read_console_models(api):
    assert (await api.query("inbox:pending", {}))["count"] == 0


@pytest.mark.parametrize("now", [1e300, -1.0, 2.6e14], ids=["1e300", "negative", "year-10000"])
async def test_dashboard_stats_refuses_a_time_no_calendar_names(reviewer, now):
    """Once an HTTP 500 (time.gmtime overflowed): now a clear error naming the field."""
    message = await reviewer.query_error("dashboard:stats", {"now": now})

    assert message.startswith("Invalid arguments for dashboard:stats: now: Input should be")
