"""Work a writer can make large is bounded or done off the event loop (issue 9, item 4).

The diff refuses to compare line by line above its work budget and shows the changed region
instead; queries (and the encoding of their answers) run in the query threads; the artifact page
reads sizes, a cut text and a bounded diff, never every version's content. Timings are in
bench/heavy_artifact.py; here only what happens, and in which order.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading

import pytest

from api import registry
from api.credentials import caller_for
from app.components.diff import FALLBACK_LINES, MAX_DIFF_LINES, MAX_LINE_CHARS, TOO_LARGE, compare
from app.components.versions import open_artifact
from app.formatting import (
    CUT_NOTE,
    MAX_RENDER_CHARS,
    PREVIEW_JSON_CHARS,
    cut_for_display,
    pretty_json,
)
from app.worker_reads import MAX_ENTRY_CHARS, timeline_row

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def alternating(count: int, first: str, second: str) -> str:
    return "\n".join(first if index % 2 == 0 else second for index in range(count))


# ---- the diff ---------------------------------------------------------------------------------


def test_a_small_change_is_compared_line_by_line_with_line_numbers():
    comparison = compare("a\nb\nc\n", "a\nB\nc\n")

    assert comparison.notice == ""
    assert [(row["kind"], row["text"], row["old"], row["new"]) for row in comparison.lines] == [
        ("hunk", "@@ -1,3 +1,3 @@", "", ""),
        ("same", "a", 1, 1),
        ("del", "b", 2, ""),
        ("add", "B", "", 2),
        ("same", "c", 3, 3),
    ]


def test_identical_texts_have_no_diff():
    assert compare("same\n" * 5000, "same\n" * 5000).lines == []


def test_twelve_thousand_repeated_lines_fall_back_to_the_changed_region():
    """The case that froze the server for 10.8 s: every line repeats, nothing lines up."""
    old = alternating(12_000, "- step", "- check")
    new = alternating(12_000, "- check", "- step")

    comparison = compare(old, new)

    assert TOO_LARGE in comparison.notice
    assert "12,000 and 12,000 lines" in comparison.notice
    kinds = [row["kind"] for row in comparison.lines]
    assert kinds.count("del") == FALLBACK_LINES
    assert kinds.count("add") == FALLBACK_LINES
    assert comparison.lines[0]["text"].startswith("@@ -1,12000 +1,12000 @@ changed region")
    assert "… 11,800 more removed lines" in [row["text"] for row in comparison.lines]


def test_the_fallback_starts_where_the_texts_first_differ():
    common = "\n".join(f"line {number}" for number in range(1, 501))
    old = common + "\n" + alternating(6000, "x", "y") + "\nthe end"
    new = common + "\n" + alternating(6000, "y", "x") + "\nthe end"

    comparison = compare(old, new)

    assert TOO_LARGE in comparison.notice
    assert "same up to line 500 and over their last 1 lines" in comparison.notice
    first_removed = next(row for row in comparison.lines if row["kind"] == "del")
    assert (first_removed["old"], first_removed["text"]) == (501, "x")
    context = [row for row in comparison.lines if row["kind"] == "same"]
    assert [row["text"] for row in context] == ["line 498", "line 499", "line 500"]


def test_one_edit_in_a_hundred_thousand_lines_is_still_compared_line_by_line():
    lines = [f"line {number}" for number in range(100_000)]
    changed = list(lines)
    changed[70_000] = "changed"

    comparison = compare("\n".join(lines), "\n".join(changed))

    assert comparison.notice == ""
    edits = [row for row in comparison.lines if row["kind"] in ("add", "del")]
    assert [(row["kind"], row["text"], row["old"], row["new"]) for row in edits] == [
        ("del", "line 70000", 70_001, ""),
        ("add", "changed", "", 70_001),
    ]


def test_a_work_budget_too_small_for_the_texts_gives_the_fallback():
    old = "\n".join(f"old {number}" for number in range(300))
    new = "\n".join(f"new {number}" for number in range(300))

    assert compare(old, new).notice == ""
    assert TOO_LARGE in compare(old, new, budget=500).notice


def test_shown_lines_and_the_whole_diff_are_cut():
    huge_line = "x" * (MAX_LINE_CHARS * 10)
    comparison = compare("start\n" + huge_line, "start\n" + huge_line + "y")
    assert max(len(row["text"]) for row in comparison.lines) < MAX_LINE_CHARS + 20

    many = compare(
        "\n".join(f"a{number}\nkeep{number}" for number in range(5000)),
        "\n".join(f"b{number}\nkeep{number}" for number in range(5000)),
    )
    assert len(many.lines) <= MAX_DIFF_LINES + 10


def test_long_text_is_cut_for_display_at_a_line_end_with_a_notice():
    text = "\n".join("word " * 20 for _ in range(10_000))

    shown, notice = cut_for_display(text)

    assert len(shown) <= MAX_RENDER_CHARS
    assert text.startswith(shown) and text[len(shown)] == "\n"
    assert notice.startswith("Showing the first ") and "Download the whole text" in notice
    assert cut_for_display("short") == ("short", "")


# ---- queries off the loop -----------------------------------------------------------------------


@sqlite_only
async def test_queries_run_in_the_query_threads_not_on_the_event_loop(api, thread_id, monkeypatch):
    seen: list[str] = []
    spec = registry.REGISTRY["messages:list"]

    def recording(ctx, args):
        seen.append(threading.current_thread().name)
        return spec.handler(ctx, args)

    monkeypatch.setitem(
        registry.REGISTRY, "messages:list", dataclasses.replace(spec, handler=recording)
    )
    await api.mutation("messages:create", {"threadId": thread_id, "role": "user", "content": "hi"})

    listed = await api.query("messages:list", {"threadId": thread_id})

    assert [message["content"] for message in listed] == ["hi"]
    assert seen and seen[0].startswith("threadline-query")
    assert seen[0] != threading.current_thread().name


@sqlite_only
async def test_messages_list_without_pagination_still_answers_every_message(api, thread_id):
    """The contract's array (ordered by `order`) is kept: it is read and encoded off the loop."""
    for _chunk in range(6):
        await asyncio.gather(
            *(
                api.mutation(
                    "messages:create", {"threadId": thread_id, "role": "user", "content": "m"}
                )
                for _ in range(200)
            )
        )

    listed = await api.query("messages:list", {"threadId": thread_id})

    assert [message["order"] for message in listed] == list(range(1200))


# ---- the artifact page's reads -------------------------------------------------------------------


async def big_artifact(api, thread_id: str, lines: int = 100_000) -> tuple[str, str, str]:
    """An artifact of about 8 MiB in `lines` lines, with a second version changed in two places."""
    width = 8 * 1024 * 1024 // lines - 1
    rows = [f"{number:07d} " + "x" * (width - 8) for number in range(lines)]
    first = "\n".join(rows)
    rows[10] = "changed near the top"
    rows[-10] = "changed near the end"
    second = "\n".join(rows)
    artifact_id = await api.mutation(
        "artifacts:create", {"threadId": thread_id, "type": "plan", "content": first}
    )
    await api.mutation("artifacts:update", {"artifactId": artifact_id, "content": second})
    return artifact_id, first, second


@sqlite_only
async def test_artifact_versions_are_listed_by_size_without_content(api, thread_id, as_role):
    artifact_id = await api.mutation(
        "artifacts:create", {"threadId": thread_id, "type": "plan", "content": "one\ntwo\n"}
    )
    update = {"artifactId": artifact_id, "content": "one\ntwo\nthree"}
    await api.mutation("artifacts:update", update)

    listed = await as_role("viewer").query("console:artifactVersions", {"artifactId": artifact_id})

    sizes = [(row["version"], row["chars"], row["lines"]) for row in listed]
    assert sizes == [(1, 8, 2), (2, 13, 3)]
    assert all("content" not in row for row in listed)
    message = await as_role("user").query_error(
        "console:artifactVersions", {"artifactId": artifact_id}
    )
    assert "Not allowed" in message


@sqlite_only
async def test_artifact_version_text_is_cut_by_the_database(api, thread_id):
    artifact_id = await api.mutation(
        "artifacts:create", {"threadId": thread_id, "type": "plan", "content": "abcdef"}
    )

    cut = await api.query(
        "console:artifactVersionText", {"artifactId": artifact_id, "version": 1, "maxChars": 4}
    )
    path = "console:artifactVersionText"
    whole = await api.query(path, {"artifactId": artifact_id, "version": 1})
    missing = await api.query(path, {"artifactId": artifact_id, "version": 9})

    assert (cut["content"], cut["chars"], cut["truncated"]) == ("abcd", 6, True)
    assert (whole["content"], whole["truncated"]) == ("abcdef", False)
    assert missing is None


@sqlite_only
async def test_opening_a_huge_artifact_keeps_the_page_small_and_health_answering(
    api, http, thread_id, people
):
    """Two versions of 20,000 long lines (bench/heavy_artifact.py times 100,000): the page gets
    a cut text, sizes and a bounded diff, and /api/health answers while the page's reads and
    diff are still running."""
    artifact_id, _first, second = await big_artifact(api, thread_id, lines=20_000)
    viewer = await caller_for(people["viewer"]["token"])

    opening = asyncio.create_task(open_artifact(viewer, artifact_id))
    answered_while_opening = 0
    while not opening.done():
        response = await http.get("/api/health")
        assert response.status_code == 200
        answered_while_opening += 0 if opening.done() else 1
        await asyncio.sleep(0.01)
    opened = opening.result()

    assert answered_while_opening > 0
    assert len(opened["text"]) <= MAX_RENDER_CHARS and second.startswith(opened["text"])
    assert opened["notice"].startswith("Showing the first ")
    assert "content" not in opened["artifact"]
    assert [row.sizeText for row in opened["versions"]][1].startswith("20,000 lines")
    changed = [row["text"] for row in opened["diff"].lines if row["kind"] == "add"]
    assert changed == ["changed near the top", "changed near the end"]


# ---- what pages make of big JSON and long messages ----------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        {"a": 1, "b": [1, 2.5, None, True, {"c": 'é"\n'}], "d": {}, "e": []},
        [],
        {},
        "text",
        3,
        {"nested": [[[]]], "1": 2},
    ],
)
def test_pretty_json_is_what_json_dumps_writes_for_small_values(value):
    assert pretty_json(value) == json.dumps(value, indent=2, ensure_ascii=False)


@pytest.mark.parametrize(
    "value",
    [
        {"items": [{"n": number, "text": "x" * 60} for number in range(100_000)]},  # 8 MiB
        {"one": 'é"' * 4_000_000},  # one 8 MiB string
    ],
)
def test_pretty_json_of_a_huge_value_is_its_beginning_cut_with_a_note(value):
    """Made piece by piece and stopped at the limit: json.dumps(indent=2) of 8 MiB is pure
    Python (seconds on the event loop); bench/heavy_artifact.py has no part in it."""
    shown = pretty_json(value)

    assert shown.endswith(CUT_NOTE)
    kept = shown.removesuffix(CUT_NOTE)
    assert len(kept) == PREVIEW_JSON_CHARS
    assert json.dumps(value, indent=2, ensure_ascii=False).startswith(kept)


def test_a_long_message_in_the_timeline_is_cut_for_display():
    entry = {
        "kind": "message",
        "_id": "msg_1",
        "_creationTime": 1.0,
        "role": "assistant",
        "order": 0,
        "content": "\n".join("word " * 20 for _ in range(100_000)),  # 10 MB
    }

    row = timeline_row(entry)

    assert len(row["content"]) <= MAX_ENTRY_CHARS
    assert entry["content"].startswith(row["content"])
    assert row["contentNotice"].startswith("Showing the first ")
    assert "Export the thread" in row["contentNotice"]
    assert timeline_row({**entry, "content": "short"})["contentNotice"] == ""
