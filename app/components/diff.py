"""A unified diff of two texts, computed in Python with a bounded amount of work, shown line by
line.

difflib without its junk heuristic does work that grows with the square (and worse) of repeated
lines: measured here, 12,000 repeated lines took 10.8 s, and a 5,000-line markdown text whose
every third line is blank took 203 s, all on the server's event loop. So `compare`:
- trims the common prefix and suffix first (an edit in one place of a long text costs nothing
  more than reading it);
- runs difflib on what is left with a work budget (MAX_COMPARE_WORK: an upper bound on the line
  comparisons difflib makes, counted before each of its searches);
- over the budget, says so ("too large to compare line by line") and shows the changed region
  instead: where it starts and ends, and its first removed and added lines.
Every shown line is cut at MAX_LINE_CHARS, and the whole diff at MAX_DIFF_LINES rows or
MAX_DIFF_CHARS characters, whichever comes first, so what reaches the browser (through the page's
state) is bounded too. Pages run it in a worker process (`compare_in_worker`, api/processes.py):
in a thread its pure-Python work held the GIL and stalled the event loop for 60 ms at a time.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

import reflex as rx

from api.processes import in_worker_process

MAX_DIFF_LINES = 4000
MAX_LINE_CHARS = 2000
# What the shown lines may add up to (4,000 lines of 2,000 characters would be 8 MB in the page's
# state, encoded on the event loop and rendered by the browser).
MAX_DIFF_CHARS = 400_000
CUT_HERE = "… diff cut here"
# Measured on this 2-core machine (shared, loaded): a comparison that spends the whole budget
# takes 0.1 to 0.3 s; a 100,000-line text with a few separate edits stays under it.
MAX_COMPARE_WORK = 400_000
# In the fallback: how many removed and added lines of the changed region are shown.
FALLBACK_LINES = 200
TOO_LARGE = "too large to compare line by line"


@dataclass
class Comparison:
    lines: list[dict[str, Any]] = field(default_factory=list)
    # Empty when the texts were compared line by line; else what was shown instead, and why.
    notice: str = ""


class _OverBudget(Exception):
    pass


class _BoundedMatcher(difflib.SequenceMatcher):
    """SequenceMatcher that refuses to search once its work would pass `budget`.

    A search over a[alo:ahi], b[blo:bhi] looks at every occurrence in b of each line of
    a[alo:ahi]: at most the sum of those lines' counts in b (kept as prefix sums), plus the
    ranges themselves."""

    def __init__(self, a: list[str], b: list[str], budget: int) -> None:
        counts = Counter(b)
        self._pairs = [0, *accumulate(counts[line] for line in a)]
        self.budget = budget
        # The first search covers everything: refuse before difflib indexes b.
        if len(a) + len(b) + self._pairs[-1] > budget:
            raise _OverBudget
        super().__init__(None, a, b, autojunk=False)

    def find_longest_match(self, alo=0, ahi=None, blo=0, bhi=None):
        ahi = len(self.a) if ahi is None else ahi
        bhi = len(self.b) if bhi is None else bhi
        self.budget -= (ahi - alo) + (bhi - blo) + self._pairs[ahi] - self._pairs[alo]
        if self.budget < 0:
            raise _OverBudget
        return super().find_longest_match(alo, ahi, blo, bhi)


def _cut(text: str) -> str:
    return text if len(text) <= MAX_LINE_CHARS else text[:MAX_LINE_CHARS] + " …(line cut)"


def _row(kind: str, text: str, old: int | str = "", new: int | str = "") -> dict[str, Any]:
    return {"kind": kind, "text": _cut(text), "old": old, "new": new}


def _common_ends(old: list[str], new: list[str]) -> tuple[int, int]:
    """(prefix, suffix): how many lines both start and end with (not overlapping)."""
    shortest = min(len(old), len(new))
    prefix = 0
    while prefix < shortest and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < shortest - prefix and old[-1 - suffix] == new[-1 - suffix]:
        suffix += 1
    return prefix, suffix


def compare(old: str, new: str, context: int = 3, budget: int = MAX_COMPARE_WORK) -> Comparison:
    """The diff rows [{kind: "hunk"|"add"|"del"|"same", text, old, new}] (line numbers, "" where
    none), or, over the work budget, the changed region and a notice saying so."""
    old_lines, new_lines = old.splitlines(), new.splitlines()
    prefix, suffix = _common_ends(old_lines, new_lines)
    if prefix == len(old_lines) == len(new_lines):
        return Comparison()
    # difflib sees the changed middle with `context` unchanged lines on each side.
    start = max(0, prefix - context)
    old_part = old_lines[start : len(old_lines) - max(0, suffix - context)]
    new_part = new_lines[start : len(new_lines) - max(0, suffix - context)]
    try:
        matcher = _BoundedMatcher(old_part, new_part, budget)
        groups = list(matcher.get_grouped_opcodes(context))
    except _OverBudget:
        return _changed_region(old_lines, new_lines, prefix, suffix, context)
    return Comparison(_bounded(_rows(groups, old_part, new_part, start)))


def _rows(groups: list, old_part: list[str], new_part: list[str], start: int) -> Iterator[dict]:
    for group in groups:
        first, last = group[0], group[-1]
        yield _row(
            "hunk",
            f"@@ -{start + first[1] + 1},{last[2] - first[1]} "
            f"+{start + first[3] + 1},{last[4] - first[3]} @@",
        )
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                for offset, text in enumerate(old_part[i1:i2]):
                    old_no, new_no = start + i1 + offset + 1, start + j1 + offset + 1
                    yield _row("same", text, old_no, new_no)
                continue
            if tag in ("replace", "delete"):
                for offset, text in enumerate(old_part[i1:i2]):
                    yield _row("del", text, old=start + i1 + offset + 1)
            if tag in ("replace", "insert"):
                for offset, text in enumerate(new_part[j1:j2]):
                    yield _row("add", text, new=start + j1 + offset + 1)


def _bounded(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows up to MAX_DIFF_LINES of them or MAX_DIFF_CHARS of text, then a "cut" row."""
    lines: list[dict[str, Any]] = []
    chars = 0
    for row in rows:
        chars += len(row["text"])
        if len(lines) >= MAX_DIFF_LINES or chars > MAX_DIFF_CHARS:
            lines.append(_row("hunk", CUT_HERE))
            break
        lines.append(row)
    return lines


def _changed_region(
    old_lines: list[str], new_lines: list[str], prefix: int, suffix: int, context: int
) -> Comparison:
    """The fallback: everything between the common prefix and suffix, as removed then added
    lines (the first FALLBACK_LINES of each), with the notice."""
    old_end, new_end = len(old_lines) - suffix, len(new_lines) - suffix
    removed, added = old_end - prefix, new_end - prefix
    lines = [
        _row(
            "hunk",
            f"@@ -{prefix + 1},{removed} +{prefix + 1},{added} @@ changed region "
            f"(lines {prefix + 1}–{old_end} before, {prefix + 1}–{new_end} after)",
        )
    ]
    for number in range(max(0, prefix - context), prefix):
        lines.append(_row("same", old_lines[number], number + 1, number + 1))
    for kind, side, end, count, word in (
        ("del", old_lines, old_end, removed, "removed"),
        ("add", new_lines, new_end, added, "added"),
    ):
        # Each side gets half of MAX_DIFF_CHARS, so that both are shown.
        shown, chars = 0, 0
        for number in range(prefix, min(end, prefix + FALLBACK_LINES)):
            numbers = {"old": number + 1} if kind == "del" else {"new": number + 1}
            row = _row(kind, side[number], **numbers)
            chars += len(row["text"])
            if chars > MAX_DIFF_CHARS // 2:
                break
            lines.append(row)
            shown += 1
        if count > shown:
            lines.append(_row("hunk", f"… {count - shown:,} more {word} lines"))
    notice = (
        f"These versions are {TOO_LARGE} ({len(old_lines):,} and {len(new_lines):,} lines, "
        f"{_size(old_lines)} and {_size(new_lines)}). They are the same up to line {prefix:,} "
        f"and over their last {suffix:,} lines; the changed region between is shown as removed "
        "and added lines."
    )
    return Comparison(_bounded(lines), notice)


def _size(lines: list[str]) -> str:
    chars = sum(len(line) + 1 for line in lines)
    return f"{chars / 1024:,.0f} KB" if chars < 1024 * 1024 else f"{chars / 1048576:,.1f} MB"


async def compare_in_worker(old: str, new: str) -> Comparison:
    """compare() in a worker process (api/processes.py). Pages that compare stored versions
    use app.components.versions.version_diff, whose worker reads the texts itself."""
    return await in_worker_process(compare, old, new)


def diff_stats(lines: list[dict[str, Any]]) -> str:
    added = sum(1 for line in lines if line["kind"] == "add")
    removed = sum(1 for line in lines if line["kind"] == "del")
    return f"+{added} −{removed}"


def _line(line: rx.Var) -> rx.Component:
    kind = line["kind"]
    sign = rx.match(kind, ("add", "+"), ("del", "−"), ("hunk", ""), " ")
    return rx.el.div(
        rx.el.span(line["old"], class_name="diff-no"),
        rx.el.span(line["new"], class_name="diff-no"),
        rx.el.span(sign, class_name="diff-sign"),
        rx.el.span(line["text"], class_name="diff-text"),
        class_name="diff-line diff-" + kind.to(str),
        data_kind=kind,
    )


def diff_view(
    lines: rx.Var, notice: rx.Var | str = "", empty_text: str = "No differences."
) -> rx.Component:
    return rx.vstack(
        rx.cond(
            notice != "",
            rx.callout(notice, icon="info", size="1", width="100%", data_testid="diff-notice"),
        ),
        rx.cond(
            lines.length() > 0,
            rx.el.div(rx.foreach(lines, _line), class_name="diff-view", data_testid="diff-view"),
            rx.text(empty_text, color_scheme="gray", size="2"),
        ),
        spacing="2",
        width="100%",
    )
