"""Shared column types and the document shape every function returns."""

from __future__ import annotations

from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import SQLModel

# Named constraints, so that migrations can drop and alter them (SQLite batch mode needs names).
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# JSON documents: JSONB on PostgreSQL, JSON text on SQLite.
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


@cache  # a handful of column names, converted for every row of every answer
def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def to_doc(table: sa.Table, row: Any, hidden: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A row as a Convex-style document: `_id`, `_creationTime`, then camelCase fields.

    Columns listed in the model's `__hidden__` (hashes, counters) never leave the server;
    None values are omitted like Convex's missing optional fields.
    """
    mapping = row._mapping
    doc: dict[str, Any] = {"_id": mapping["id"], "_creationTime": mapping["creation_time"]}
    for column in table.columns:
        key = column.key
        if key in ("id", "creation_time") or key in hidden:
            continue
        value = mapping[column]
        if value is not None:
            doc[camel(column.name)] = value
    return doc
