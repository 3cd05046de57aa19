"""Document ids: a short table prefix and a time-ordered random part (`thr_01jd...`).

Time order keeps new rows at the end of the primary-key index; the 80 random bits make ids
unguessable. The prefix lets a function say "threadId is not a thread id" instead of "not found".
"""

from __future__ import annotations

import os
import re
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lowercase

PREFIXES = {
    "threads": "thr",
    "messages": "msg",
    "artifacts": "art",
    "artifact_versions": "arv",
    "sessions": "ses",
    "tool_calls": "tc",
    "approval_requests": "apr",
    "users": "usr",
    "auth_sessions": "aus",
    "api_keys": "key",
    "audit_log": "aud",
    "one_time_links": "otl",
    "refresh_tokens": "rft",
    "webhook_endpoints": "whk",
    "webhook_deliveries": "whm",
}

_ID_RE = re.compile(r"^([a-z]{2,3})_[0-9a-hjkmnp-tv-z]{26}\Z")
ANY_ID = _ID_RE


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


# Two digits for every 10-bit value, and the last millisecond's ten digits: what `_encode`
# writes, without its per-digit loop (one id per streamed message: the loop cost more than the
# message's insert).
_PAIRS = [_ALPHABET[i >> 5] + _ALPHABET[i & 31] for i in range(1024)]
_last_millis: tuple[int, str] = (-1, "")


def new_id(table: str) -> str:
    global _last_millis
    millis = int(time.time() * 1000)
    known, time_digits = _last_millis  # one tuple: read and replaced whole, safe across threads
    if millis != known:
        time_digits = _encode(millis, 10)
        _last_millis = (millis, time_digits)
    r = int.from_bytes(os.urandom(10), "big")
    pairs = _PAIRS
    random_digits = (
        pairs[r >> 70]
        + pairs[r >> 60 & 1023]
        + pairs[r >> 50 & 1023]
        + pairs[r >> 40 & 1023]
        + pairs[r >> 30 & 1023]
        + pairs[r >> 20 & 1023]
        + pairs[r >> 10 & 1023]
        + pairs[r & 1023]
    )
    return f"{PREFIXES[table]}_{time_digits}{random_digits}"


def is_id_for(table: str, value: object) -> bool:
    if not isinstance(value, str):
        return False
    match = _ID_RE.match(value)
    return bool(match) and match.group(1) == PREFIXES[table]
