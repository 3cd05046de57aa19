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


def new_id(table: str) -> str:
    millis = int(time.time() * 1000)
    rand = int.from_bytes(os.urandom(10), "big")
    return f"{PREFIXES[table]}_{_encode(millis, 10)}{_encode(rand, 16)}"


def is_id_for(table: str, value: object) -> bool:
    if not isinstance(value, str):
        return False
    match = _ID_RE.match(value)
    return bool(match) and match.group(1) == PREFIXES[table]
