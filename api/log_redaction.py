"""Secrets and floods kept out of the server's logs.

Reflex logs a failed event with the whole event: its payload (up to the socket's 1 MB) and the
socket's handshake headers, session cookie included. So a handler's bug would write the signed-in
person's session token into the logs, and anyone, signed in or not, could write 1 MB lines at
will by sending events that fail (an unknown handler name is enough). Every log record of the
process passes through `redact`: tokens (`tls_` sessions, `tlk_` API keys, `tlo_` one-time
links, `tlr_` refresh tokens) are replaced by their prefix, and a message is cut at
MAX_MESSAGE characters.
"""

from __future__ import annotations

import logging
import re

MAX_MESSAGE = 4000
_SECRET = re.compile(r"\b(tls|tlk|tlo|tlr)_[A-Za-z0-9_\-]{6,}")


def redact(text: str) -> str:
    text = _SECRET.sub(r"\1_[redacted]", text)
    if len(text) > MAX_MESSAGE:
        cut = len(text) - MAX_MESSAGE
        text = f"{text[:MAX_MESSAGE]}… [{cut} more characters not logged]"
    return text


def install() -> None:
    """Wraps the process's log record factory (once): every record's message is redacted."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "threadline_redacts", False):
        return

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave the record to logging's own handling
            return record
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return record

    factory.threadline_redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
