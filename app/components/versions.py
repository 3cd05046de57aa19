"""Artifact versions for the artifact and approval pages, bounded whatever their size.

An artifact version can be 8 MiB and 100,000 lines, and an artifact can have many. What a page
keeps in its state (and so sends to the browser) is: each version's number, status and size; the
shown version's text cut to MAX_RENDER_CHARS at a line end, with a notice; a bounded diff
(app/components/diff.py). Whole texts are never kept in state: a diff's worker process
(api/processes.py) reads both versions itself, as the signed-in person, through the registered
query (its role and visibility checks), and sends back only the bounded diff; a download is
read in the query threads. `VersionCompare` is the state both pages share for it, and
`version_compare` its "compare vN with vM" and diff.

`call` below is a page state's `_call` (path, args) -> value, as the signed-in person; `caller`
is that person (AuthState._signed_in_caller()).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import reflex as rx

from api.calls import call as call_as
from api.db import in_memory
from api.processes import in_worker_process
from api.registry import Caller
from api.settings import get_settings
from app.components.diff import Comparison, compare, compare_in_worker, diff_stats, diff_view
from app.components.ui import choice, inline
from app.formatting import MAX_RENDER_CHARS, cut_for_display
from app.rows import VersionRow
from app.worker_reads import artifact_view, run_queries

Call = Callable[[str, dict[str, Any]], Awaitable[Any]]


async def version_rows(call: Call, artifact_id: str) -> list[VersionRow]:
    """Every version's number, status, author, time and size, oldest first (no content)."""
    rows = await call("console:artifactVersions", {"artifactId": artifact_id})
    return [VersionRow.of(row) for row in rows]


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


def compare_stored_versions(
    url: str, caller: Caller, artifact_id: str, old: int, new: int
) -> Comparison | None:
    """In a worker process: versions `old` and `new` read as `caller` through
    console:artifactVersionText (one transaction), compared. None if either is not there."""
    path = "console:artifactVersionText"
    found = run_queries(
        url,
        caller,
        [(path, {"artifactId": artifact_id, "version": version}) for version in (old, new)],
    )
    if found[0] is None or found[1] is None:
        return None
    return compare(found[0]["content"], found[1]["content"])


async def version_diff(caller: Caller, artifact_id: str, old: int, new: int) -> Comparison:
    """The bounded diff between two versions, computed (and read) in a worker process."""
    url = get_settings().sqlalchemy_url
    if in_memory(url):
        # A worker process cannot see this process's in-memory database: read here, in the
        # query threads, and send the texts.
        async def as_caller(path: str, args: dict[str, Any]) -> Any:
            return await call_as(path, args, caller)

        old_text = await whole_text(as_caller, artifact_id, old)
        new_text = await whole_text(as_caller, artifact_id, new)
        if old_text is None or new_text is None:
            return Comparison()
        return await compare_in_worker(old_text, new_text)
    found = await in_worker_process(compare_stored_versions, url, caller, artifact_id, old, new)
    return Comparison() if found is None else found


async def open_artifact(caller: Caller, artifact_id: str) -> dict[str, Any] | None:
    """Everything the artifact page shows when it opens: the artifact (without its content),
    its versions, the current version's text (cut) and the diff of the last two versions.
    None when the artifact is not there (or not visible)."""

    async def call(path: str, args: dict[str, Any]) -> Any:
        return await call_as(path, args, caller)

    # Without its content: read in a worker process (app/worker_reads.py), never here.
    doc = await artifact_view(caller, artifact_id)
    if doc is None:
        return None
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
        old, new = versions[-2].version, versions[-1].version
        opened["diff"] = await version_diff(caller, artifact_id, old, new)
        opened["diffFrom"], opened["diffTo"] = str(old), str(new)
    return opened


def shown_notice(notice: rx.Var, on_download: rx.EventHandler) -> rx.Component:
    """What was cut from a long text, with a button to download all of it."""
    return rx.cond(
        notice != "",
        rx.callout(
            inline(
                rx.text(notice),
                rx.button("Download", size="1", variant="soft", on_click=on_download),
                spacing="3",
                wrap="wrap",
            ),
            icon="scissors",
            size="1",
            width="100%",
            data_testid="content-cut",
        ),
    )


class VersionCompare(rx.State, mixin=True):
    """What the artifact and approval pages' states share to compare two of an artifact's
    versions: the versions listed (no content), the two chosen and their bounded diff. The page's
    state says which artifact (`_compared_artifact`) and is an AuthState (`_caught`,
    `_signed_in_caller`)."""

    # Number, status, author, time and size of each version, oldest first; never their content.
    versions: list[VersionRow] = []
    diff_from: str = ""
    diff_to: str = ""
    diff: list[dict[str, Any]] = []
    diff_notice: str = ""

    def _compared_artifact(self) -> str:
        """The id of the artifact whose versions are compared ("" for none)."""
        raise NotImplementedError

    @rx.var
    def version_numbers(self) -> list[str]:
        return [str(version.version) for version in self.versions]

    @rx.var
    def diff_summary(self) -> str:
        return diff_stats(self.diff) if self.diff else ""

    def _version(self, version: str) -> int | None:
        """A version number this page lists (event arguments are untrusted), else None."""
        return int(version) if version in self.version_numbers else None

    async def _compute_diff(self) -> None:
        """The bounded diff between the chosen versions (versions this page lists only)."""
        artifact_id = self._compared_artifact()
        old, new = self._version(self.diff_from), self._version(self.diff_to)
        if not artifact_id or old is None or new is None:
            self.diff, self.diff_notice = [], ""
            return
        comparison = await version_diff(self._signed_in_caller(), artifact_id, old, new)
        self.diff, self.diff_notice = comparison.lines, comparison.notice

    async def _set_diff(self, which: str, version: str) -> rx.event.EventSpec | None:
        setattr(self, which, version)
        async with self._caught() as failed:
            await self._compute_diff()
        if failed:
            return failed.event
        return None

    @rx.event
    async def set_diff_from(self, version: str) -> rx.event.EventSpec | None:
        return await self._set_diff("diff_from", version)

    @rx.event
    async def set_diff_to(self, version: str) -> rx.event.EventSpec | None:
        return await self._set_diff("diff_to", version)


def version_compare(
    state: type[VersionCompare],
    otherwise: rx.Component | None = None,
    test_ids: tuple[str, str] | None = None,
) -> rx.Component:
    """ "Compare vN with vM" (two choices of the listed versions), the diff's +/- summary and
    the bounded diff, where there are two versions or more (else `otherwise`)."""
    old_id, new_id = test_ids or (None, None)
    numbers = state.version_numbers
    compare = rx.vstack(
        inline(
            rx.text("Compare", size="2"),
            choice(numbers, state.diff_from, state.set_diff_from, "Old version", old_id, size="1"),
            rx.text("with", size="2"),
            choice(numbers, state.diff_to, state.set_diff_to, "New version", new_id, size="1"),
            rx.code(state.diff_summary),
            wrap="wrap",
        ),
        diff_view(state.diff, state.diff_notice),
        width="100%",
    )
    more_than_one = state.versions.length() > 1
    if otherwise is None:
        return rx.cond(more_than_one, compare)
    return rx.cond(more_than_one, compare, otherwise)
