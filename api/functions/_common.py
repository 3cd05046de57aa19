"""Helpers shared by the function modules: argument types, documents and their result models,
pagination (the audit writer is api.services.audit)."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model

from api.errors import FunctionError
from api.registry import Args, Context
from api.services.paging import END_CURSOR, after_cursor, cut, empty_page
from models.base import camel, to_doc

MAX_ARRAY_RESULTS = 1000

# Identifiers arrive as strings; whether they name the right table is checked by the function,
# so that a get answers null and a mutation answers a clear error (an over-long string too: it is
# a malformed id, not a type error).
Id = Annotated[str, StringConstraints(max_length=1000)]
Text = Annotated[str, StringConstraints(max_length=8 * 1024 * 1024)]
ShortText = Annotated[str, StringConstraints(max_length=1000)]
# What fits the 200-character columns (user ids, tool names and call ids).
ShortName = Annotated[str, StringConstraints(max_length=200)]


class PaginationOpts(Args):
    numItems: int = Field(ge=1, le=1000)
    cursor: str | None = None
    # Sent by Convex's own clients; accepted and ignored.
    id: int | None = None
    endCursor: str | None = None
    maximumRowsRead: int | None = None
    maximumBytesRead: int | None = None


class NoArgs(Args):
    pass


class Result(BaseModel):
    """Base for result models: what a function answers, described for OpenAPI, TypeScript and
    docs/api.md (they are never used to build answers, only to describe them)."""

    model_config = ConfigDict(extra="forbid")


DocT = TypeVar("DocT")


class Page(Result, Generic[DocT]):
    """One page of a paginated list."""

    page: list[DocT]
    isDone: bool
    continueCursor: str


def _column_type(column: sa.Column) -> Any:
    column_type = column.type
    if isinstance(column_type, sa.TypeDecorator):  # SQLModel's AutoString
        column_type = column_type.impl_instance
    if isinstance(column_type, sa.JSON):
        return Any
    for sql_type, python_type in (
        (sa.Boolean, bool),
        (sa.Integer, int),
        (sa.Float, float),
        (sa.String, str),
    ):
        if isinstance(column_type, sql_type):
            return python_type
    raise TypeError(f"no document type for column {column} ({column.type!r})")


def document_model(
    table_model: Any, name: str, base: type[Result] = Result, **types: Any
) -> type[Result]:
    """The result model of `document(table_model, row)`, read off the table's columns, so it
    cannot drift from what `document` returns: `_id`, `_creationTime`, then each visible column
    in camelCase; nullable columns are optional (left out when null). `types` narrows a field
    (e.g. `status=Literal[...]`) or, for names that are not columns, adds one."""
    table = table_model.__table__
    hidden = getattr(table_model, "__hidden__", frozenset())
    fields: dict[str, Any] = {
        "id_": (str, Field(alias="_id")),
        "creationTime_": (float, Field(alias="_creationTime")),
    }
    for column in table.columns:
        if column.key in ("id", "creation_time") or column.key in hidden:
            continue
        key = camel(column.name)
        python_type = types.pop(key, None) or _column_type(column)
        fields[key] = (python_type, Field(default=None)) if column.nullable else (python_type, ...)
    for key, spec in types.items():
        fields[key] = spec if isinstance(spec, tuple) else (spec, ...)
    return create_model(name, __base__=base, **fields)


def document(table_model: Any, row: Any) -> dict[str, Any]:
    return to_doc(table_model.__table__, row, getattr(table_model, "__hidden__", frozenset()))


def page(
    ctx: Context,
    table_model: Any,
    where: list[Any],
    opts: PaginationOpts,
    sort_column: sa.ColumnElement,
    descending: bool = True,
) -> dict[str, Any]:
    """One keyset page `{page, isDone, continueCursor}` ordered by (sort_column, id)."""
    table = table_model.__table__
    if opts.cursor == END_CURSOR:
        return empty_page()
    query = sa.select(table).where(*where)
    if opts.cursor:
        query = query.where(
            after_cursor(opts.cursor, sort_column, table.c.id, descending=descending)
        )
    order = (sort_column.desc(), table.c.id.desc()) if descending else (sort_column, table.c.id)
    rows = ctx.conn.execute(query.order_by(*order).limit(opts.numItems + 1)).all()
    rows, is_done, cursor = cut(rows, opts.numItems, sort_column.key)
    return {
        "page": [document(table_model, row) for row in rows],
        "isDone": is_done,
        "continueCursor": cursor,
    }


def all_rows(
    ctx: Context, table_model: Any, where: list[Any], order_by: list[Any], what: str
) -> list[dict[str, Any]]:
    """Every matching document as an array; refuses (rather than truncates) very long results."""
    table = table_model.__table__
    query = sa.select(table).where(*where).order_by(*order_by).limit(MAX_ARRAY_RESULTS + 1)
    rows = ctx.conn.execute(query).all()
    if len(rows) > MAX_ARRAY_RESULTS:
        raise FunctionError(
            f"More than {MAX_ARRAY_RESULTS} {what} match; pass paginationOpts to page through them"
        )
    return [document(table_model, row) for row in rows]
