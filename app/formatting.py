"""Turning documents into display rows: times, durations, JSON. Pure functions, used by states."""

from __future__ import annotations

import json
import time
from typing import Any

PREVIEW_JSON_CHARS = 20_000


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


def pretty_json(value: Any) -> str:
    """`value` as indented JSON, at most PREVIEW_JSON_CHARS of it (tool inputs reach 8 MiB).

    Only values whose compact form fits are indented: json.dumps with `indent` runs in pure
    Python, about 20 times slower than the compact C encoder, and a page shows the preview only.
    Larger values show their compact form, cut."""
    if value is None:
        return ""
    compact = json.dumps(value, ensure_ascii=False)
    if len(compact) <= PREVIEW_JSON_CHARS:
        text = json.dumps(value, indent=2, ensure_ascii=False)
    else:
        text = compact
    if len(text) > PREVIEW_JSON_CHARS:
        return text[:PREVIEW_JSON_CHARS] + f"\n… ({len(text) - PREVIEW_JSON_CHARS} more characters)"
    return text


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
