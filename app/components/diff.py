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
Every shown line is cut at MAX_LINE_CHARS, and the whole diff at MAX_DIFF_LINES, so what reaches
the browser is bounded too. Pages call it through `compare_off_loop`, in a worker thread.
"""

from __future__ import annotations

import asyncio
import difflib
from collections import Counter
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

import reflex as rx

MAX_DIFF_LINES = 4000
MAX_LINE_CHARS = 2000
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
    return Comparison(_rows(groups, old_part, new_part, start))


def _rows(groups: list, old_part: list[str], new_part: list[str], start: int) -> list[dict]:
    lines: list[dict[str, Any]] = []
    for group in groups:
        first, last = group[0], group[-1]
        lines.append(
            _row(
                "hunk",
                f"@@ -{start + first[1] + 1},{last[2] - first[1]} "
                f"+{start + first[3] + 1},{last[4] - first[3]} @@",
            )
        )
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                for offset, text in enumerate(old_part[i1:i2]):
                    old_no, new_no = start + i1 + offset + 1, start + j1 + offset + 1
                    lines.append(_row("same", text, old_no, new_no))
                continue
            if tag in ("replace", "delete"):
                for offset, text in enumerate(old_part[i1:i2]):
                    lines.append(_row("del", text, old=start + i1 + offset + 1))
            if tag in ("replace", "insert"):
                for offset, text in enumerate(new_part[j1:j2]):
                    lines.append(_row("add", text, new=start + j1 + offset + 1))
        if len(lines) > MAX_DIFF_LINES:
            lines.append(_row("hunk", "… diff cut here"))
            break
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
    for number in range(prefix, min(old_end, prefix + FALLBACK_LINES)):
        lines.append(_row("del", old_lines[number], old=number + 1))
    if removed > FALLBACK_LINES:
        lines.append(_row("hunk", f"… {removed - FALLBACK_LINES:,} more removed lines"))
    for number in range(prefix, min(new_end, prefix + FALLBACK_LINES)):
        lines.append(_row("add", new_lines[number], new=number + 1))
    if added > FALLBACK_LINES:
        lines.append(_row("hunk", f"… {added - FALLBACK_LINES:,} more added lines"))
    notice = (
        f"These versions are {TOO_LARGE} ({len(old_lines):,} and {len(new_lines):,} lines, "
        f"{_size(old_lines)} and {_size(new_lines)}). They are the same up to line {prefix:,} "
        f"and over their last {suffix:,} lines; the changed region between is shown as removed "
        "and added lines."
    )
    return Comparison(lines, notice)


def _size(lines: list[str]) -> str:
    chars = sum(len(line) + 1 for line in lines)
    return f"{chars / 1024:,.0f} KB" if chars < 1024 * 1024 else f"{chars / 1048576:,.1f} MB"


async def compare_off_loop(old: str, new: str) -> Comparison:
    """compare() in a worker thread: even bounded, it is CPU work the event loop need not wait
    for (its budget still costs a tenth of a second)."""
    return await asyncio.to_thread(compare, old, new)


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
