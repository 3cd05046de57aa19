"""Page reads whose documents a writer can make huge, done in a worker process (api/processes.py)
that sends the page only what it shows.

    await session_view(caller, thread_id)           the session, state as a JSON preview
    await timeline_page(caller, thread_id, opts)    a timeline:list page as display rows
    await outside_plan_view(caller, request_id)     inbox:outsidePlan with display rows
    await request_view(caller, request_id)          inbox:detail, plans cut to what is shown
    await artifact_view(caller, artifact_id)        artifacts:get without its content

A session state or a tool call's input and output can be 16 MiB of JSON, and a message 8 MiB of
text. Read in a query thread, the database layer decodes such JSON in one C call (json.loads)
that holds the GIL throughout: an 8 MiB session state stopped the event loop for 130 to 450 ms
per read (measured here, load average 11), and with it /api/health, the console and the writer.
In a worker process the read, the decoding and the cutting (app/formatting.py pretty_json, a
message cut at MAX_ENTRY_CHARS) happen away from the loop; what comes back is bounded.

Reads run as the signed-in person through the registered queries (run_query_on: their role and
visibility checks), each in one transaction on the worker's own connection. With an in-memory
database (which a worker process cannot open) they run in the query threads instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import exc as sa_exc

from api.calls import call, run_query_on
from api.db import in_memory, sole_engine_for
from api.errors import Unavailable
from api.processes import in_worker_process
from api.registry import Caller, lookup, parse_args
from api.settings import get_settings
from app.components.markdown import renderable
from app.formatting import (
    MAX_RENDER_CHARS,
    cut_for_display,
    duration,
    pretty_json,
    when,
    with_times,
)

# What a timeline entry (approval and thread pages) shows of a message's text.
MAX_ENTRY_CHARS = 20_000


def run_queries(url: str, caller: Caller, queries: list[tuple[str, dict[str, Any]]]) -> list:
    """In a worker process: each (path, args) query as `caller`, in one transaction."""
    try:
        with sole_engine_for(url).connect() as conn:
            results = []
            for path, args in queries:
                spec = lookup(path, "query")
                results.append(run_query_on(conn, spec, parse_args(spec, args), caller))
            return results
    except sa_exc.DBAPIError as exc:
        raise Unavailable(f"the database could not answer: {exc.orig}") from None


def _read_and_shape(url: str, caller: Caller, path: str, args: dict, shape: Callable) -> Any:
    return shape(run_queries(url, caller, [(path, args)])[0])


async def _view(caller: Caller, path: str, args: dict[str, Any], shape: Callable) -> Any:
    """shape(the query's result), made in a worker process. `shape` must be a module-level
    function (a worker process imports it by name)."""
    url = get_settings().sqlalchemy_url
    if in_memory(url):
        return shape(await call(path, args, caller))
    return await in_worker_process(_read_and_shape, url, caller, path, args, shape)


# ---- sessions ----------------------------------------------------------------------------------


def session_row(session: dict[str, Any] | None) -> dict[str, Any]:
    session = session or {}
    plan, plan_notice = cut_for_display(session.get("plan") or "")
    return {
        "exists": bool(session),
        "sdkSessionId": session.get("sdkSessionId", ""),
        "phase": session.get("phase", ""),
        "plan": plan,
        "planNotice": plan_notice,
        "stateJson": pretty_json(session.get("state")),
        "updatedText": when(session.get("updatedTime")),
    }


async def session_view(caller: Caller, thread_id: str) -> dict[str, Any]:
    """The thread's session for display: {exists, sdkSessionId, phase, plan (cut), planNotice,
    stateJson (a preview), updatedText}."""
    return await _view(caller, "sessions:get", {"threadId": thread_id}, session_row)


# ---- the timeline ------------------------------------------------------------------------------


def timeline_row(doc: dict[str, Any]) -> dict[str, Any]:
    """A timeline:list entry flattened for display: times, a message's text cut at
    MAX_ENTRY_CHARS (with a notice), a tool call's input and output as JSON previews."""
    row = with_times(doc)
    row.setdefault("role", "")
    row["content"], row["contentNotice"] = cut_for_display(
        doc.get("content") or "",
        limit=MAX_ENTRY_CHARS,
        advice="Export the thread to read all of it.",
    )
    row["content"] = renderable(row["content"])  # plain text if the browser cannot take it
    row.setdefault("order", "")
    row.setdefault("toolName", "")
    row.setdefault("status", "")
    row["toolCallId"] = doc.get("toolCallId") or ""
    row["outsidePlan"] = doc.get("outsidePlan") is True
    row["durationText"] = duration(doc.get("durationMs"))
    row["inputJson"] = pretty_json(doc.get("input")) if doc["kind"] == "toolCall" else ""
    row["outputJson"] = pretty_json(doc.get("output")) if doc["kind"] == "toolCall" else ""
    row.pop("input", None)
    row.pop("output", None)
    row.pop("metadata", None)
    return row


def timeline_page_rows(page: dict[str, Any]) -> dict[str, Any]:
    return {**page, "page": [timeline_row(entry) for entry in page["page"]]}


async def timeline_page(
    caller: Caller, thread_id: str, pagination: dict[str, Any]
) -> dict[str, Any]:
    """timeline:list's page ({page, isDone, continueCursor}, newest first) with display rows."""
    args = {"threadId": thread_id, "paginationOpts": pagination}
    return await _view(caller, "timeline:list", args, timeline_page_rows)


def outside_plan_rows(found: dict[str, Any]) -> dict[str, Any]:
    return {**found, "calls": [timeline_row(call) for call in found["calls"]]}


async def outside_plan_view(caller: Caller, request_id: str) -> dict[str, Any]:
    """inbox:outsidePlan ({calls, count}) with the calls as display rows."""
    args = {"approvalRequestId": request_id}
    return await _view(caller, "inbox:outsidePlan", args, outside_plan_rows)


# ---- a request and an artifact, without their texts ---------------------------------------------


def request_cut(found: dict[str, Any] | None) -> dict[str, Any] | None:
    """inbox:detail with planContent and editedPlan cut to MAX_RENDER_CHARS (the page cuts them
    again at a line end: cut_for_display with planChars / editedPlanChars as the totals)."""
    if found is None:
        return None
    plan, edited = found["planContent"], found.get("editedPlan") or ""
    return {
        **found,
        "planContent": plan[:MAX_RENDER_CHARS],
        "planChars": len(plan),
        "editedPlan": edited[:MAX_RENDER_CHARS],
        "editedPlanChars": len(edited),
    }


async def request_view(caller: Caller, request_id: str) -> dict[str, Any] | None:
    """inbox:detail for the approval page, its plans cut (request_cut). None if not there."""
    args = {"approvalRequestId": request_id}
    return await _view(caller, "inbox:detail", args, request_cut)


def without_content(found: dict[str, Any] | None) -> dict[str, Any] | None:
    if found is None:
        return None
    return {key: value for key, value in found.items() if key != "content"}


async def artifact_view(caller: Caller, artifact_id: str) -> dict[str, Any] | None:
    """artifacts:get without `content` (up to 8 MiB, which the page reads cut, per version)."""
    return await _view(caller, "artifacts:get", {"artifactId": artifact_id}, without_content)
