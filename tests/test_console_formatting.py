"""Pure helpers of the console: device names (/account), audit filters and details
(/admin/audit), the repeated-password check (/setup, /set-password, /account)."""

from __future__ import annotations

import pytest

from app.formatting import device
from app.pages.admin_audit import details_text, utc_ms
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
    from app.pages.admin_keys import creator_text

    assert creator_text(key) == shown
