"""rewrite JSON keys Convex clients cannot read

The official Convex clients (`jsonToConvex`) throw on an object key that is empty, longer than
1024 characters, starts with '$', or holds anything but printable ASCII, and one such key in a
tool call's input made `toolCalls:list` throw for the whole thread. Writes now refuse these keys
(api/registry.py `check_json`); this rewrites the ones stored before, so no answer holds one:

- characters outside printable ASCII become JSON escapes: "naïve" -> "na\\u00efve";
- a leading '$' gets an underscore before it: "$ref" -> "_$ref"; an empty key becomes "_";
- a key over 1024 characters is cut to 1024; a rewritten key that is already taken in the same
  object gets "_2", "_3", ... appended.

Values are untouched. The rewrite is one-way (there is nothing to go back to in downgrade).

Revision ID: 0006
Revises: 0005
"""

import json
import logging
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic")

MAX_KEY_LENGTH = 1024
JSON_COLUMNS = [
    ("threads", "metadata"),
    ("messages", "metadata"),
    ("sessions", "state"),
    ("tool_calls", "input"),
    ("tool_calls", "output"),
]
BATCH = 1000


def readable(key: str) -> bool:
    return 0 < len(key) <= MAX_KEY_LENGTH and key[0] != "$" and key.isascii() and key.isprintable()


def rewrite_key(key: str, taken: set[str]) -> str:
    new = json.dumps(key)[1:-1].replace("\x7f", "\\u007f") if key else "_"
    if new.startswith("$"):
        new = "_" + new
    new = new[:MAX_KEY_LENGTH]
    candidate, suffix = new, 2
    while candidate in taken:
        tail = f"_{suffix}"
        candidate = new[: MAX_KEY_LENGTH - len(tail)] + tail
        suffix += 1
    return candidate


def rewrite(value: Any) -> Any:
    """The value with every unreadable key rewritten, or the same object when none was."""
    if isinstance(value, list):
        items = [rewrite(item) for item in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    if not isinstance(value, dict):
        return value
    changed = False
    out: dict[str, Any] = {}
    readable_keys = {key for key in value if readable(key)}
    for key, item in value.items():
        new_item = rewrite(item)
        new_key = key
        if key not in readable_keys:
            new_key = rewrite_key(key, readable_keys | set(out))
        changed = changed or new_key != key or new_item is not item
        out[new_key] = new_item
    return out if changed else value


def upgrade() -> None:
    bind = op.get_bind()
    json_type = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    for table_name, column_name in JSON_COLUMNS:
        table = sa.table(table_name, sa.column("id", sa.String), sa.column(column_name, json_type))
        column = table.c[column_name]
        rewritten, after = 0, ""
        while True:
            rows = bind.execute(
                sa.select(table.c.id, column)
                .where(column.is_not(None), table.c.id > after)
                .order_by(table.c.id)
                .limit(BATCH)
            ).all()
            if not rows:
                break
            after = rows[-1][0]
            for row_id, value in rows:
                new = rewrite(value)
                if new is not value:
                    bind.execute(
                        sa.update(table).where(table.c.id == row_id).values({column_name: new})
                    )
                    rewritten += 1
        if rewritten:
            log.info("rewrote unreadable JSON keys in %d %s.%s", rewritten, table_name, column_name)


def downgrade() -> None:
    pass
