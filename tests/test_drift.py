"""What ran against what was approved: plannedToolCalls, outsidePlan and toolCall.outsidePlan.

After a request listing `plannedToolCalls` is approved, each new toolCalls:record in its thread is
checked against the list; calls before the approval, or in threads without a plan, are not.
The lookup is one seek in a partial index (asserted on both databases' query plans).
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from api.db import get_engine
from api.functions import tool_calls as tool_calls_module
from api.functions.tool_calls import APPROVED_PLAN, in_plan, same_json

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

PLAN = [
    {"toolName": "read_file"},
    {"toolName": "run_tests", "input": {"path": "tests/", "verbose": True}},
]


@pytest.fixture
def notified(monkeypatch) -> list[tuple]:
    """Every notify() call the recording makes: (event type, data, link)."""
    calls: list[tuple] = []

    def record(session, event_type, data, link):
        calls.append((event_type, data, link))

    monkeypatch.setattr(tool_calls_module, "notify", record)
    return calls


async def create(api, thread_id: str, planned=None, **fields) -> str:
    args = {"threadId": thread_id, "planContent": "1. Read\n2. Test", **fields}
    if planned is not None:
        args["plannedToolCalls"] = planned
    return await api.mutation("approvalRequests:create", args)


async def decide(as_role, request_id: str, decision: str = "approved") -> None:
    await as_role("reviewer").mutation(
        "approvalRequests:resolve", {"approvalRequestId": request_id, "decision": decision}
    )


async def record(api, thread_id: str, tool_name: str, tool_input=None, **fields) -> dict:
    call_id = await api.mutation(
        "toolCalls:record",
        {"threadId": thread_id, "toolName": tool_name, "input": tool_input, **fields},
    )
    calls = await api.query("toolCalls:list", {"threadId": thread_id})
    return next(call for call in calls if call["_id"] == call_id)


async def test_create_stores_the_planned_calls_and_get_shows_them(api, thread_id):
    request_id = await create(api, thread_id, [*PLAN, {"toolName": "ls", "input": None}])

    doc = await api.query("approvalRequests:get", {"approvalRequestId": request_id})

    # A null input means "any input", as if it were left out.
    assert doc["plannedToolCalls"] == [*PLAN, {"toolName": "ls"}]


async def test_a_call_outside_the_approved_plan_is_flagged_with_the_request_it_broke(
    api, as_role, thread_id, notified
):
    request_id = await create(api, thread_id, PLAN)
    await decide(as_role, request_id)

    outside = await record(api, thread_id, "delete_repo", {"name": "prod"})

    assert outside["outsidePlan"] is True
    assert outside["approvalRequestId"] == request_id
    assert notified == [
        (
            "toolCall.outsidePlan",
            {
                "toolCallId": outside["_id"],
                "threadId": thread_id,
                "approvalRequestId": request_id,
                "status": "started",
            },
            f"/threads/{thread_id}",
        )
    ]


async def test_an_outside_call_queues_a_toolcall_outsideplan_webhook(api, as_role, thread_id):
    """With the real notify(): one outbox row for a subscribed endpoint, with the thread's link."""
    from api.calls import call
    from api.cli import CLI_CALLER
    from models import WebhookDelivery
    from tests.webhook_receiver import Receiver

    with Receiver() as receiver:
        endpoint = await call(
            "webhooks:add", {"url": receiver.url, "events": ["toolCall.outsidePlan"]}, CLI_CALLER
        )
        request_id = await create(api, thread_id, PLAN)
        await decide(as_role, request_id)
        await record(api, thread_id, "read_file", {})
        outside = await record(api, thread_id, "delete_repo", {})

        table = WebhookDelivery.__table__
        with get_engine().connect() as conn:
            rows = conn.execute(sa.select(table)).all()
    assert [(row.endpoint_id, row.event_type) for row in rows] == [
        (endpoint["webhookId"], "toolCall.outsidePlan")
    ]
    assert rows[0].data["toolCallId"] == outside["_id"]
    assert rows[0].data["approvalRequestId"] == request_id
    assert rows[0].data["url"].endswith(f"/threads/{thread_id}")


async def test_calls_inside_the_plan_are_checked_but_not_flagged(api, as_role, thread_id, notified):
    request_id = await create(api, thread_id, PLAN)
    await decide(as_role, request_id)

    any_input = await record(api, thread_id, "read_file", {"path": "README.md"})
    same_input = await record(
        api, thread_id, "run_tests", {"verbose": True, "path": "tests/"}, output={"ok": 1}
    )
    again = await record(api, thread_id, "read_file", {"path": "docs/api.md"})

    for call in (any_input, same_input, again):
        assert (call["outsidePlan"], call["approvalRequestId"]) == (False, request_id)
    assert notified == []


async def test_a_listed_tool_with_another_input_is_outside_the_plan(
    api, as_role, thread_id, notified
):
    request_id = await create(api, thread_id, PLAN)
    await decide(as_role, request_id)

    other_input = await record(api, thread_id, "run_tests", {"path": "/", "verbose": True})

    assert other_input["outsidePlan"] is True
    assert [event for event, _, _ in notified] == ["toolCall.outsidePlan"]


async def test_calls_before_the_approval_are_not_flagged(api, as_role, thread_id, notified):
    request_id = await create(api, thread_id, PLAN)
    before = await record(api, thread_id, "delete_repo", {}, toolCallId="t1")

    await decide(as_role, request_id)
    # Recording the same toolCallId again updates it; it is not checked again.
    await api.mutation(
        "toolCalls:record",
        {
            "threadId": thread_id,
            "toolName": "delete_repo",
            "input": {},
            "toolCallId": "t1",
            "output": "done",
        },
    )

    calls = await api.query("toolCalls:list", {"threadId": thread_id})
    assert calls[0]["_id"] == before["_id"]
    assert "outsidePlan" not in calls[0] and "approvalRequestId" not in calls[0]
    assert notified == []


async def test_threads_without_a_plan_are_not_checked(api, as_role, thread_id, notified):
    request_id = await create(api, thread_id)  # no plannedToolCalls
    await decide(as_role, request_id)

    call = await record(api, thread_id, "anything", {})

    assert "outsidePlan" not in call and "approvalRequestId" not in call
    assert notified == []


async def test_a_plan_that_was_not_approved_is_not_checked(api, as_role, thread_id, notified):
    rejected = await create(api, thread_id, PLAN)
    await decide(as_role, rejected, "rejected")
    await create(api, thread_id, PLAN)  # still pending

    call = await record(api, thread_id, "delete_repo", {})

    assert "outsidePlan" not in call
    assert notified == []


async def test_an_approved_plan_in_another_thread_does_not_apply(api, as_role, thread_id, notified):
    other = await api.mutation("threads:create", {"title": "other"})
    await decide(as_role, await create(api, other, PLAN))

    call = await record(api, thread_id, "delete_repo", {})

    assert "outsidePlan" not in call


async def test_calls_are_checked_against_the_latest_approved_plan(
    api, as_role, thread_id, notified
):
    first = await create(api, thread_id, [{"toolName": "read_file"}])
    await decide(as_role, first)
    second = await create(api, thread_id, [{"toolName": "write_file"}])
    await decide(as_role, second)
    # A later approval without a plan does not lift the latest plan.
    await decide(as_role, await create(api, thread_id))

    read = await record(api, thread_id, "read_file", {})
    write = await record(api, thread_id, "write_file", {})

    assert (read["outsidePlan"], read["approvalRequestId"]) == (True, second)
    assert (write["outsidePlan"], write["approvalRequestId"]) == (False, second)


async def test_an_empty_plan_puts_every_later_call_outside_it(api, as_role, thread_id, notified):
    request_id = await create(api, thread_id, [])
    await decide(as_role, request_id)

    call = await record(api, thread_id, "read_file", {})

    assert (call["outsidePlan"], call["approvalRequestId"]) == (True, request_id)


async def test_the_notification_rolls_back_with_a_failed_recording(
    api, as_role, thread_id, monkeypatch
):
    """notify() runs inside the recording's transaction: if it fails, nothing is stored."""
    await decide(as_role, await create(api, thread_id, PLAN))

    def broken(session, event_type, data, link):
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(tool_calls_module, "notify", broken)
    response = await api.raw(
        "/api/mutation", "toolCalls:record", {"threadId": thread_id, "toolName": "x", "input": 1}
    )

    assert response.json()["status"] == "error"
    assert await api.query("toolCalls:list", {"threadId": thread_id}) == []


@sqlite_only
@pytest.mark.parametrize(
    ("planned", "message"),
    [
        ([{"toolName": "x"}] * 201, "plannedToolCalls: List should have at most 200 items"),
        ([{"toolName": ""}], "plannedToolCalls.0.toolName: String should have at least 1"),
        ([{"input": {}}], "plannedToolCalls.0.toolName: Field required"),
        ([{"toolName": "x", "extra": 1}], "plannedToolCalls.0.extra: unknown field"),
        ({"toolName": "x"}, "plannedToolCalls: Input should be a valid list"),
        ([{"toolName": "x" * 201}], "plannedToolCalls.0.toolName: String should have at most"),
    ],
)
async def test_create_refuses_malformed_planned_calls(api, thread_id, planned, message):
    error = await api.mutation_error(
        "approvalRequests:create",
        {"threadId": thread_id, "planContent": "p", "plannedToolCalls": planned},
    )

    assert message in error
    assert await api.query("approvalRequests:list", {}) == []


@pytest.mark.parametrize(
    ("planned_input", "recorded", "same"),
    [
        ({"a": 1, "b": [1, 2]}, {"b": [1, 2], "a": 1}, True),
        ({"a": 1}, {"a": 1.0}, True),
        ({"a": True}, {"a": 1}, False),
        ([1, 2], [2, 1], False),
        ({"a": 1}, {"a": 1, "b": None}, False),
        ("x", "x", True),
        ("1", 1, False),
        (None, None, True),
    ],
)
def test_inputs_compare_as_json(planned_input, recorded, same):
    assert same_json(planned_input, recorded) is same


def test_a_planned_entry_without_input_matches_any_input():
    assert in_plan("ls", {"any": "thing"}, [{"toolName": "ls"}])
    assert not in_plan("rm", {"any": "thing"}, [{"toolName": "ls"}])
    assert not in_plan("ls", {"path": "/"}, [{"toolName": "ls", "input": {"path": "."}}])


async def test_the_dashboard_counts_calls_outside_the_plan(api, as_role, thread_id, notified):
    await decide(as_role, await create(api, thread_id, PLAN))
    await record(api, thread_id, "read_file", {})
    await record(api, thread_id, "delete_repo", {})
    await record(api, thread_id, "drop_table", {})

    stats = await as_role("viewer").query("dashboard:stats", {})

    assert stats["outsidePlanCount"] == 2


async def test_the_approval_page_lists_the_calls_outside_its_plan(
    api, as_role, thread_id, notified
):
    request_id = await create(api, thread_id, PLAN)
    await decide(as_role, request_id)
    await record(api, thread_id, "read_file", {})
    first = await record(api, thread_id, "delete_repo", {"name": "prod"})
    second = await record(api, thread_id, "drop_table", {})

    listed = await as_role("reviewer").query("inbox:outsidePlan", {"approvalRequestId": request_id})

    assert listed["count"] == 2
    assert [call["_id"] for call in listed["calls"]] == [first["_id"], second["_id"]]
    assert listed["calls"][0]["toolName"] == "delete_repo"


async def test_each_plan_is_read_once_then_kept(api, as_role, thread_id, notified):
    request_id = await create(api, thread_id, PLAN)
    await decide(as_role, request_id)
    reads: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if "SELECT approval_requests.planned_tool_calls" in statement:
            reads.append(statement)

    engine = get_engine()
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        first = await record(api, thread_id, "read_file", {})
        second = await record(api, thread_id, "delete_repo", {})
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)

    assert (first["outsidePlan"], second["outsidePlan"]) == (False, True)
    assert len(reads) == 1
    assert tool_calls_module._plans[request_id].by_tool["read_file"] is None


def _explain(conn: sa.Connection, statement, prefix: str, **values) -> str:
    """The database's plan for `statement` with `values` for its unset parameters."""
    compiled = statement.compile(dialect=conn.dialect)
    params = {**compiled.params, **values}
    if conn.dialect.name == "sqlite":
        driver = conn.connection.driver_connection
        rows = driver.execute(f"{prefix} {compiled}", [params[n] for n in compiled.positiontup])
        return " | ".join(row[3] for row in rows)
    return "\n".join(row[0] for row in conn.exec_driver_sql(f"{prefix} {compiled}", params))


async def test_the_plan_lookup_is_one_seek_in_the_partial_index(api, as_role, thread_id):
    # Many approved requests without a plan, and other threads' plans, must not be scanned.
    for _ in range(5):
        await decide(as_role, await create(api, thread_id))
    await decide(as_role, await create(api, thread_id, PLAN))
    with get_engine().connect() as conn:
        if conn.dialect.name == "sqlite":
            plan = _explain(conn, APPROVED_PLAN, "EXPLAIN QUERY PLAN", thread_id=thread_id)
            assert (
                "SEARCH approval_requests USING INDEX "
                "ix_approval_requests_thread_approved_plan (thread_id=?)"
            ) in plan, plan
            assert "TEMP B-TREE" not in plan, plan  # the index gives the order too
        else:
            # A tiny table: without this PostgreSQL reads it whole, which says nothing. The
            # generic plan is what a prepared statement gets after five runs: it must match the
            # partial index too (it would not with a bound status).
            conn.exec_driver_sql("SET enable_seqscan = off")
            conn.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
            plan = _explain(conn, APPROVED_PLAN, "EXPLAIN (COSTS OFF)", thread_id=thread_id)
            assert "Index Scan Backward using ix_approval_requests_thread_approved_plan" in plan
            assert "Sort" not in plan, plan
            conn.rollback()


@sqlite_only
async def test_flagged_calls_are_found_through_their_partial_indexes(api, thread_id):
    from api.functions._read_models import OUTSIDE_PLAN_CALLS, OUTSIDE_PLAN_COUNT

    with get_engine().connect() as conn:
        for statement, values in (
            (OUTSIDE_PLAN_CALLS, {"request_id": "apr_x"}),
            (OUTSIDE_PLAN_COUNT, {"since": 0.0}),
        ):
            plan = _explain(conn, statement, "EXPLAIN QUERY PLAN", **values)
            assert "INDEX ix_tool_calls_outside_plan" in plan, plan
            assert "SCAN tool_calls" not in plan, plan


async def test_the_outside_plan_columns_default_to_null_for_plain_inserts(api, thread_id):
    await record(api, thread_id, "ls", {})
    with get_engine().connect() as conn:
        row = conn.execute(
            sa.text("SELECT outside_plan, approval_request_id FROM tool_calls")
        ).one()
    assert tuple(row) == (None, None)
