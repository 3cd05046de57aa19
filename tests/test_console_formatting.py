"""Pure helpers of the console: device names (/account), audit filters and details
(/admin/audit), the repeated-password check (/setup, /set-password, /account)."""

from __future__ import annotations

import pytest

from app.formatting import device
from app.pages.admin_audit import utc_ms
from app.rows import details_text
from app.state import passwords_differ

CHROME_LINUX = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
DIFFER = "The two passwords are not the same."
EDGE_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"
)


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [
        (CHROME_LINUX, "Chrome on Linux"),
        (SAFARI_IPHONE, "Safari on iPhone"),
        (EDGE_WINDOWS, "Edge on Windows"),
        ("python-httpx/0.28.1", "python-httpx/0.28.1"),
        (None, "Unknown device"),
        ("", "Unknown device"),
    ],
)
def test_device_names_browser_and_system(user_agent, expected):
    assert device(user_agent) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-26T14:03", 1795701780000.0),
        ("2026-11-26T14:03:59", 1795701780000.0),  # seconds, if a browser sends them, ignored
        ("", None),
        ("yesterday", None),
        ("2026-13-01T00:00", None),
    ],
)
def test_audit_time_filters_are_read_as_utc(value, expected):
    assert utc_ms(value) == expected


def test_audit_details_are_one_line_of_json_text():
    assert details_text(None) == ""
    assert details_text({"b": "<img src=x>", "a": 1}) == '{"a": 1, "b": "<img src=x>"}'
    assert details_text({"x": "é" * 5000}).endswith(" …")


@pytest.mark.parametrize(
    ("form", "problem"),
    [
        ({"password": "a good password", "repeat": "a good password"}, ""),
        ({"password": "a good password", "repeat": "a good passwort"}, DIFFER),
        ({"password": "a good password"}, DIFFER),
    ],
)
def test_a_new_password_must_be_typed_twice_the_same(form, problem):
    assert passwords_differ(form) == problem


@pytest.mark.parametrize(
    "key,shown",
    [
        ({"createdBy": "user:usr_1", "createdByEmail": "a@example.com"}, "a@example.com"),
        ({"createdBy": "system:cli"}, "threadline CLI"),
        ({"createdBy": "user:usr_gone"}, "user:usr_gone"),
        ({}, ""),
    ],
)
def test_the_keys_page_names_each_keys_creator(key, shown):
    from app.rows import creator_text

    assert creator_text(key) == shown


# -- Markdown the browser's renderer cannot take is shown as plain text (app/components/markdown)

PATHOLOGICAL_MARKDOWN = {
    "nested quotes": ">" * 50_000 + " deep",
    "nested quotes, spaced": "> " * 5_000 + "deep",
    "nested lists": "".join("  " * depth + "- item\n" for depth in range(200)),
    "lists on one line": "- " * 5_000 + "x",
    "brackets": "[" * 50_000 + "x" + "]" * 50_000,
    "emphasis": "*a" * 50_000,
    "underscores": "_a" * 50_000,
    "unclosed links": "[a](" * 20_000,
}


@pytest.mark.parametrize("name", sorted(PATHOLOGICAL_MARKDOWN))
def test_pathological_markdown_is_shown_as_plain_text(name):
    from app.components.markdown import PLAIN_NOTICE, renderable, too_complex

    text = PATHOLOGICAL_MARKDOWN[name]
    assert too_complex(text)
    shown = renderable(text)
    assert shown.startswith(PLAIN_NOTICE)
    assert text in shown  # all of it, inside one fence
    fence = shown.split("\n")[2][: -len("text")]
    assert set(fence) == {"`"} and shown.endswith("\n" + fence)


def test_ordinary_markdown_is_rendered_as_it_is():
    from app.components.markdown import renderable

    plans = [
        "# Plan\n\n1. **Read** the [code](https://example.com)\n   - a _sub_ item\n     - deeper",
        "\n".join(f"- [ ] task {n} **now** _really_" for n in range(3_000)),
        "```python\n" + "a_b = c_d[1] * e_f[2]\n" * 5_000 + "```\n\nDone.",
        "> quoted\n> > twice\n> > > three times",
        "`" * 100_000,
        "<" * 100_000,
        "",
    ]
    for plan in plans:
        assert renderable(plan) == plan


def test_a_fence_in_plain_text_is_longer_than_any_backtick_run_in_it():
    from app.components.markdown import renderable

    text = "*a" * 2_000 + "\n`````\nstill text"
    shown = renderable(text)
    assert shown.split("\n")[2] == "``````text"
