"""A unified diff of two texts (difflib), computed in Python and shown line by line."""

from __future__ import annotations

import difflib
from typing import Any

import reflex as rx

MAX_DIFF_LINES = 4000


def diff_lines(old: str, new: str, context: int = 3) -> list[dict[str, Any]]:
    """[{kind: "hunk"|"add"|"del"|"same", text, old, new}] with line numbers ("" where none)."""
    lines: list[dict[str, Any]] = []
    old_lines, new_lines = old.splitlines(), new.splitlines()
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        first, last = group[0], group[-1]
        lines.append(
            {
                "kind": "hunk",
                "text": f"@@ -{first[1] + 1},{last[2] - first[1]} "
                f"+{first[3] + 1},{last[4] - first[3]} @@",
                "old": "",
                "new": "",
            }
        )
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                for offset, text in enumerate(old_lines[i1:i2]):
                    lines.append(
                        {
                            "kind": "same",
                            "text": text,
                            "old": i1 + offset + 1,
                            "new": j1 + offset + 1,
                        }
                    )
                continue
            if tag in ("replace", "delete"):
                for offset, text in enumerate(old_lines[i1:i2]):
                    lines.append({"kind": "del", "text": text, "old": i1 + offset + 1, "new": ""})
            if tag in ("replace", "insert"):
                for offset, text in enumerate(new_lines[j1:j2]):
                    lines.append({"kind": "add", "text": text, "old": "", "new": j1 + offset + 1})
        if len(lines) > MAX_DIFF_LINES:
            lines.append({"kind": "hunk", "text": "… diff cut here", "old": "", "new": ""})
            break
    return lines


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


def diff_view(lines: rx.Var, empty_text: str = "No differences.") -> rx.Component:
    return rx.cond(
        lines.length() > 0,
        rx.el.div(rx.foreach(lines, _line), class_name="diff-view", data_testid="diff-view"),
        rx.text(empty_text, color_scheme="gray", size="2"),
    )
