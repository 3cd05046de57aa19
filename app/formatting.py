"""Turning documents into display rows: times, durations, JSON, long texts cut for display. Pure
functions, used by states and by the worker reads (app/worker_reads.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

PREVIEW_JSON_CHARS = 20_000
# What follows a cut preview.
CUT_NOTE = "\n… (more characters, not shown here)"


def iso(ms: float | None) -> str:
    if ms is None:
        return ""
    seconds = ms / 1000.0
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int(ms % 1000):03d}Z"


def when(ms: float | None) -> str:
    """Absolute UTC time for tables and exports: 2026-11-26 14:03 UTC."""
    if ms is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ms / 1000.0))


def duration(ms: float | None) -> str:
    if ms is None:
        return ""
    if ms < 1000:
        return f"{ms:.0f} ms"
    seconds = ms / 1000.0
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes = seconds / 60
    if minutes < 60:
        return f"{minutes:.0f} min"
    hours = minutes / 60
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} d"


def cut_utf8(text: str, limit: int) -> str:
    """`text` in at most `limit` UTF-8 bytes, cut at a character, with "…" when cut."""
    raw = text.encode()
    if len(raw) <= limit:
        return text
    return raw[: limit - 3].decode(errors="ignore") + "…"


def pretty_json(value: Any, limit: int = PREVIEW_JSON_CHARS) -> str:
    """`value` as json.dumps(value, indent=2, ensure_ascii=False) writes it, cut after `limit`
    characters with a note. The cost follows what is shown, not the value's size: a session
    state or tool output can be 16 MiB, and json.dumps with an indent is pure Python (2.6 s
    on the event loop for 8 MiB, measured here), while one 8 MiB string took 150-570 ms even in
    its C encoder. So the text is made piece by piece, strings cut before they are encoded,
    and making stops at `limit`."""
    if value is None:
        return ""
    parts: list[str] = []
    size = 0
    for piece in _json_pieces(value, 0, limit):
        parts.append(piece)
        size += len(piece)
        if size > limit:
            return "".join(parts)[:limit] + CUT_NOTE
    return "".join(parts)


def _json_pieces(value: Any, depth: int, limit: int) -> Iterator[str]:
    if isinstance(value, str):
        # Longer than the whole preview: the part that can be shown is enough.
        yield json.dumps(value[: limit + 1], ensure_ascii=False)
        return
    if isinstance(value, dict | list | tuple) and not value:
        yield "{}" if isinstance(value, dict) else "[]"
        return
    inner = "\n" + "  " * (depth + 1)
    if isinstance(value, dict):
        yield "{"
        for index, (key, item) in enumerate(value.items()):
            name = key if isinstance(key, str) else json.dumps(key)
            yield ("," if index else "") + inner + json.dumps(name[: limit + 1], ensure_ascii=False)
            yield ": "
            yield from _json_pieces(item, depth + 1, limit)
        yield "\n" + "  " * depth + "}"
        return
    if isinstance(value, list | tuple):
        yield "["
        for index, item in enumerate(value):
            yield ("," if index else "") + inner
            yield from _json_pieces(item, depth + 1, limit)
        yield "\n" + "  " * depth + "]"
        return
    yield json.dumps(value, ensure_ascii=False)


def with_times(doc: dict[str, Any], *fields: str) -> dict[str, Any]:
    """A copy of `doc` with `<field>Iso` and `<field>Text` for `_creationTime` and `fields`."""
    row = dict(doc)
    row["createdIso"] = iso(doc.get("_creationTime"))
    row["createdText"] = when(doc.get("_creationTime"))
    for field in fields:
        row[f"{field}Iso"] = iso(doc.get(field))
        row[f"{field}Text"] = when(doc.get(field))
    return row


def device(user_agent: str | None) -> str:
    """A short "Browser on System" for a user agent ("" → "Unknown device"; HTTP clients as is)."""
    if not user_agent:
        return "Unknown device"
    browsers = [("Edg/", "Edge"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome")]
    browsers += [("Chromium/", "Chromium"), ("Safari/", "Safari")]
    systems = [("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad")]
    systems += [("Windows", "Windows"), ("Mac OS X", "macOS"), ("Linux", "Linux")]
    browser = next((name for mark, name in browsers if mark in user_agent), "")
    system = next((name for mark, name in systems if mark in user_agent), "")
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or user_agent[:60]


# What the console renders as markdown at once: react-markdown stays responsive at this size.
MAX_RENDER_CHARS = 100_000


def size_text(chars: int) -> str:
    if chars < 1024:
        return f"{chars} characters"
    if chars < 1024 * 1024:
        return f"{chars / 1024:,.0f} KB"
    return f"{chars / (1024 * 1024):,.1f} MB"


def cut_for_display(
    text: str,
    total_chars: int | None = None,
    limit: int = MAX_RENDER_CHARS,
    advice: str = "Download the whole text to read it all.",
) -> tuple[str, str]:
    """(what to render, notice): text beyond `limit` is cut at the last line end before it, and
    the notice says how much is shown and `advice` ("" when all of it is)."""
    total = len(text) if total_chars is None else total_chars
    if total <= limit and len(text) <= limit:
        return text, ""
    shown = text[:limit]
    line_end = shown.rfind("\n")
    if line_end > limit // 2:
        shown = shown[:line_end]
    notice = (
        f"Showing the first {size_text(len(shown))} of {size_text(total)}; "
        f"the rest is not rendered here. {advice}"
    )
    return shown, notice
