"""Keyset pagination: the cursors of every paginated list and the cutting of one page.

A page is `{page, isDone, continueCursor}`, ordered by (sort value, id); the cursor is the last
row's pair, and "end" once the list is done. `api.functions._common.page` pages one table;
lists over joins (inbox:decided, console:threads, timeline:list) build their own query and use
`after_cursor`, `cut` and `empty_page` here.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import sqlalchemy as sa

from api.errors import FunctionError
from models.ids import ANY_ID

END_CURSOR = "end"


def empty_page() -> dict[str, Any]:
    return {"page": [], "isDone": True, "continueCursor": END_CURSOR}


def encode_cursor(sort_value: Any, row_id: str) -> str:
    raw = json.dumps([sort_value, row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[Any, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        sort_value, row_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        # Not a number, or one no column holds (NaN, infinity, beyond 64 bits): not our cursor.
        # The id must be one of ours (it is compared with stored ids, so never NUL or surrogates).
        if (
            not isinstance(row_id, str)
            or not ANY_ID.match(row_id)
            or not isinstance(sort_value, int | float)
            or not abs(sort_value) < 2**63
        ):
            raise ValueError
        return sort_value, row_id
    except (ValueError, TypeError, UnicodeDecodeError):
        raise FunctionError(
            "paginationOpts.cursor is not a cursor returned by this list; "
            "pass null to start from the beginning"
        ) from None


def after_cursor(cursor: str, *key: sa.ColumnElement, descending: bool = True) -> sa.ColumnElement:
    """The rows after `cursor` in the order (key...) (descending: the rows before it)."""
    position = sa.tuple_(*decode_cursor(cursor))
    return sa.tuple_(*key) < position if descending else sa.tuple_(*key) > position


def cut(rows: list[Any], num_items: int, sort_key: str) -> tuple[list[Any], bool, str]:
    """(rows of this page, isDone, continueCursor) from up to num_items + 1 rows read."""
    is_done = len(rows) <= num_items
    rows = rows[:num_items]
    if is_done or not rows:
        return rows, is_done, END_CURSOR
    last = rows[-1]._mapping
    return rows, is_done, encode_cursor(last[sort_key], last["id"])
