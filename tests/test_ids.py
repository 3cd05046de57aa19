"""Document ids (models/ids.py): new_id writes exactly the digits of the per-digit encoding."""

from __future__ import annotations

import os
from unittest import mock

from models import ids


def _reference(table: str, seconds: float, random_bytes: bytes) -> str:
    millis = int(seconds * 1000)
    rand = int.from_bytes(random_bytes, "big")
    return f"{ids.PREFIXES[table]}_{ids._encode(millis, 10)}{ids._encode(rand, 16)}"


def test_new_id_matches_the_per_digit_encoding_across_milliseconds() -> None:
    seconds = 1_764_000_000.0
    for step in range(3000):
        random_bytes = os.urandom(10) if step % 7 else bytes(10) if step % 2 else b"\xff" * 10
        now = seconds + (step // 3) * 0.0007  # several ids per millisecond, then the next
        with (
            mock.patch("models.ids.os.urandom", return_value=random_bytes),
            mock.patch("models.ids.time.time", return_value=now),
        ):
            made = ids.new_id("messages")
        assert made == _reference("messages", now, random_bytes)
        assert ids.is_id_for("messages", made)


def test_new_ids_differ_and_sort_by_time() -> None:
    made = [ids.new_id("threads") for _ in range(1000)]
    assert len(set(made)) == 1000
    assert made[0][:14] <= made[-1][:14]


def test_unstorable_text_is_found_in_ascii_and_other_text() -> None:
    from api.registry import has_unstorable_text

    assert not has_unstorable_text("plain ascii")
    assert has_unstorable_text("nul \x00 inside")
    assert not has_unstorable_text("é and 😀")
    assert has_unstorable_text("lone \ud800 surrogate")
    assert has_unstorable_text("é \x00")
