"""Artifact versions for the artifact and approval pages, bounded whatever their size.

An artifact version can be 8 MiB and 100,000 lines, and an artifact can have many. What a page
keeps in its state (and so sends to the browser) is: each version's number, status and size; the
shown version's text cut to MAX_RENDER_CHARS at a line end, with a notice; a bounded diff
(app/components/diff.py). Whole texts are read in the query threads only when a diff or a
download needs them, and are never kept in state.

`call` below is a page state's `_call` (path, args) -> value, as the signed-in person.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import reflex as rx

from app.components.diff import Comparison, compare_off_loop
from app.formatting import when

Call = Callable[[str, dict[str, Any]], Awaitable[Any]]

# What the console renders as markdown at once: react-markdown stays responsive at this size.
MAX_RENDER_CHARS = 100_000


def size_text(chars: int) -> str:
    if chars < 1024:
        return f"{chars} characters"
    if chars < 1024 * 1024:
        return f"{chars / 1024:,.0f} KB"
    return f"{chars / (1024 * 1024):,.1f} MB"


def cut_for_display(text: str, total_chars: int | None = None) -> tuple[str, str]:
    """(what to render, notice): text beyond MAX_RENDER_CHARS is cut at the last line end
    before it, and the notice says how much is shown ("" when all of it is)."""
    total = len(text) if total_chars is None else total_chars
    if total <= MAX_RENDER_CHARS and len(text) <= MAX_RENDER_CHARS:
        return text, ""
    shown = text[:MAX_RENDER_CHARS]
    line_end = shown.rfind("\n")
    if line_end > MAX_RENDER_CHARS // 2:
        shown = shown[:line_end]
    notice = (
        f"Showing the first {size_text(len(shown))} of {size_text(total)}; "
        "the rest is not rendered here. Download the whole text to read it all."
    )
    return shown, notice


async def version_rows(call: Call, artifact_id: str) -> list[dict[str, Any]]:
    """Every version's number, status, author, time and size, oldest first (no content)."""
    rows = await call("console:artifactVersions", {"artifactId": artifact_id})
    return [
        {
            "version": row["version"],
            "status": row["status"],
            "createdBy": row["createdBy"],
            "createdText": when(row["_creationTime"]),
            "sizeText": f"{row['lines']:,} lines · {size_text(row['chars'])}",
        }
        for row in rows
    ]


async def shown_text(call: Call, artifact_id: str, version: int) -> tuple[str, str]:
    """(text to render, notice) for one version, read cut by the database."""
    found = await call(
        "console:artifactVersionText",
        {"artifactId": artifact_id, "version": version, "maxChars": MAX_RENDER_CHARS},
    )
    if found is None:
        return "", f"Version {version} is not available."
    return cut_for_display(found["content"], found["chars"])


async def whole_text(call: Call, artifact_id: str, version: int) -> str | None:
    args = {"artifactId": artifact_id, "version": version}
    found = await call("console:artifactVersionText", args)
    return None if found is None else found["content"]


async def version_diff(call: Call, artifact_id: str, old: int, new: int) -> Comparison:
    """The bounded diff between two versions, computed off the event loop."""
    old_text = await whole_text(call, artifact_id, old)
    new_text = await whole_text(call, artifact_id, new)
    if old_text is None or new_text is None:
        return Comparison()
    return await compare_off_loop(old_text, new_text)


async def open_artifact(call: Call, artifact_id: str) -> dict[str, Any] | None:
    """Everything the artifact page shows when it opens: the artifact (without its content),
    its versions, the current version's text (cut) and the diff of the last two versions.
    None when the artifact is not there (or not visible)."""
    doc = await call("artifacts:get", {"artifactId": artifact_id})
    if doc is None:
        return None
    doc.pop("content", None)
    versions = await version_rows(call, artifact_id)
    text, notice = await shown_text(call, artifact_id, doc["version"])
    opened: dict[str, Any] = {
        "artifact": doc,
        "versions": versions,
        "text": text,
        "notice": notice,
        "diff": Comparison(),
        "diffFrom": "",
        "diffTo": "",
    }
    if len(versions) >= 2:
        old, new = versions[-2]["version"], versions[-1]["version"]
        opened["diff"] = await version_diff(call, artifact_id, old, new)
        opened["diffFrom"], opened["diffTo"] = str(old), str(new)
    return opened


def shown_notice(notice: rx.Var, on_download: rx.EventHandler) -> rx.Component:
    """What was cut from a long text, with a button to download all of it."""
    return rx.cond(
        notice != "",
        rx.callout(
            rx.flex(
                rx.text(notice),
                rx.button("Download", size="1", variant="soft", on_click=on_download),
                spacing="3",
                align="center",
                wrap="wrap",
            ),
            icon="scissors",
            size="1",
            width="100%",
            data_testid="content-cut",
        ),
    )
