"""Markdown for agent-written text, which is untrusted.

rx.markdown enables raw HTML (rehype-raw) by default; here it is off, so `<script>`, `<img
onerror>`, `<iframe>`, `<style>` ... stay text. react-markdown's default URL transform drops
`javascript:`, `vbscript:` and `data:` URLs from links and images. Images are not loaded at all
(a remote image in a plan would tell its author when and where a reviewer read it).

Markdown that the browser's renderer cannot take is shown as plain text instead (`renderable`,
applied on the server to every text before it reaches a page): 50,000 nested `>` overflowed
its stack and blanked the whole page ("Maximum call stack size exceeded"), and one paragraph of
50,000 `[` or `*a` froze the reviewer's tab, so one agent could keep reviewers from reading or
deciding. Nesting deeper than MAX_NESTING, or more than MAX_INLINE_MARKS brackets and emphasis
marks in one paragraph, is far beyond any real plan.
"""

from __future__ import annotations

import re

import reflex as rx

MAX_NESTING = 32  # block quotes and lists inside each other
MAX_INDENT = 4 * MAX_NESTING  # columns of leading space: each list level indents 2 to 4
MAX_INLINE_MARKS = 1_000  # "[", "]", "*", "_" in one paragraph
PLAIN_NOTICE = (
    "*Shown as plain text: this text is nested or repetitive beyond what the console renders "
    "as Markdown.*"
)
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_CONTAINER = re.compile(r"[ \t]*(?:>|[-+*](?=[ \t])|\d{1,9}[.)](?=[ \t]))")
_BACKTICKS = re.compile(r"`+")


def _nesting(line: str) -> int:
    """How many block quote and list markers open `line` (e.g. "> > - x" is 3)."""
    depth, position = 0, 0
    while depth <= MAX_NESTING:
        match = _CONTAINER.match(line, position)
        if match is None or match.end() == position:
            return depth
        depth, position = depth + 1, match.end()
    return depth


def too_complex(text: str) -> bool:
    """True for Markdown that the browser's renderer would take superlinear time or stack on.
    Linear in the text; code fences are skipped (their content is not parsed as Markdown)."""
    fence = ""
    marks = 0
    for line in text.split("\n"):
        opened = _FENCE.match(line)
        if fence:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = ""
            continue
        if opened:
            fence, marks = opened.group(1), 0
            continue
        stripped = line.lstrip(" \t")
        if not stripped:
            marks = 0
            continue
        if len(line[: len(line) - len(stripped)].expandtabs(4)) > MAX_INDENT:
            return True
        depth = _nesting(line)
        if depth > MAX_NESTING:
            return True
        if depth or stripped.startswith("#"):
            marks = 0  # a new list item, quote or heading: its own inline content
        marks += line.count("[") + line.count("]") + line.count("*") + line.count("_")
        if marks > MAX_INLINE_MARKS:
            return True
    return False


def renderable(text: str) -> str:
    """`text` itself, or when too_complex, the same text as one fenced plain-text block (a fence
    longer than any backtick run in it) under a notice: still all there, read as it is."""
    if not text or not too_complex(text):
        return text
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{PLAIN_NOTICE}\n\n{fence}text\n{text}\n{fence}"


def _link(value: object) -> rx.Component:
    return rx.link(value, is_external=True, rel="noopener noreferrer nofollow")


def _image(value: object) -> rx.Component:
    return rx.el.span("[image not loaded]", class_name="md-image", title="Images are not loaded")


def safe_markdown(content: rx.Var | str, **props) -> rx.Component:
    return rx.markdown(
        content,
        use_raw=False,
        use_math=False,
        use_katex=False,
        component_map={"a": _link, "img": _image},
        class_name="safe-markdown",
        **props,
    )


def markdown_box(text: rx.Var, test_id: str) -> rx.Component:
    """A long text (a plan, an artifact version) rendered full width."""
    return rx.box(safe_markdown(text), class_name="plan-box", width="100%", data_testid=test_id)
