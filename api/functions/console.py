"""console:* — the console's thread index with session phases, and artifact versions by size.

console:threads, console:artifactVersions, console:artifactVersionText.

Built so the console stays fast at 100k threads and artifacts of many 8 MiB versions.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from pydantic import Field

from api.functions._common import (
    Id,
    Page,
    PaginationOpts,
    Result,
    ShortText,
    document,
    document_model,
)
from api.functions._read_models import STAFF
from api.functions.threads import title_matches
from api.registry import Args, Context, query
from api.services.artifact_versions import visible_artifact
from api.services.paging import END_CURSOR, after_cursor, cut, empty_page
from api.vocabulary import ThreadStatus
from models import ArtifactVersion, Session, Thread

threads = Thread.__table__
sessions = Session.__table__
artifact_versions = ArtifactVersion.__table__

ConsoleThread = document_model(
    Thread,
    "ConsoleThread",
    status=ThreadStatus,
    metadata=dict[str, Any],
    phase=(str, Field(default=None)),
)


class ThreadsArgs(Args):
    paginationOpts: PaginationOpts
    status: ThreadStatus | None = None
    userId: ShortText | None = None
    search: ShortText | None = None
    phase: ShortText | None = None


@query("console:threads", args=ThreadsArgs, returns=Page[ConsoleThread], allow=STAFF)
def browse_threads(ctx: Context, args: ThreadsArgs) -> dict[str, Any]:
    """threads:list plus each thread's session phase, and a `phase` filter. Newest first."""
    opts = args.paginationOpts
    if opts.cursor == END_CURSOR:
        return empty_page()
    query_ = sa.select(threads, sessions.c.phase.label("session_phase")).outerjoin(
        sessions, sessions.c.thread_id == threads.c.id
    )
    if args.status:
        query_ = query_.where(threads.c.status == args.status)
    if args.userId:
        query_ = query_.where(threads.c.user_id == args.userId)
    if args.search:
        query_ = query_.where(title_matches(ctx.conn, args.search))
    if args.phase:
        query_ = query_.where(sessions.c.phase == args.phase)
    if opts.cursor:
        query_ = query_.where(after_cursor(opts.cursor, threads.c.creation_time, threads.c.id))
    rows = ctx.conn.execute(
        query_.order_by(threads.c.creation_time.desc(), threads.c.id.desc()).limit(
            opts.numItems + 1
        )
    ).all()
    rows, is_done, cursor = cut(rows, opts.numItems, "creation_time")
    page_ = []
    for row in rows:
        doc = document(Thread, row)
        if row.session_phase is not None:
            doc["phase"] = row.session_phase
        page_.append(doc)
    return {"page": page_, "isDone": is_done, "continueCursor": cursor}


# ---- artifact versions without their content -------------------------------------------------
# An artifact may have many versions of up to 8 MiB each: the console lists them by size and
# fetches the text of only the versions it shows, cut to what it renders.


def _line_count(content: sa.ColumnElement) -> sa.ColumnElement:
    """Lines in a text, counted by the database: newlines, plus one for a last unended line."""
    newlines = sa.func.length(content) - sa.func.length(sa.func.replace(content, "\n", ""))
    unended = sa.case((sa.func.substr(content, sa.func.length(content), 1) == "\n", 0), else_=1)
    return sa.case((sa.func.length(content) == 0, 0), else_=newlines + unended)


class ArtifactVersionsArgs(Args):
    artifactId: Id


class ArtifactVersionSize(Result):
    version: int
    status: str
    createdBy: str
    creationTime_: float = Field(alias="_creationTime")
    chars: int
    lines: int


class ArtifactVersionText(Result):
    version: int
    status: str
    content: str
    chars: int
    truncated: bool


@query(
    "console:artifactVersions",
    args=ArtifactVersionsArgs,
    returns=list[ArtifactVersionSize],
    allow=STAFF,
)
def artifact_version_list(ctx: Context, args: ArtifactVersionsArgs) -> list[dict[str, Any]]:
    """Every version of an artifact, oldest first, as {version, status, createdBy,
    _creationTime, chars, lines}: sizes instead of content."""
    if visible_artifact(ctx, args.artifactId) is None:
        return []
    content = artifact_versions.c.content
    rows = ctx.conn.execute(
        sa.select(
            artifact_versions.c.version,
            artifact_versions.c.status,
            artifact_versions.c.created_by,
            artifact_versions.c.creation_time,
            sa.func.length(content).label("chars"),
            _line_count(content).label("lines"),
        )
        .where(artifact_versions.c.artifact_id == args.artifactId)
        .order_by(artifact_versions.c.version)
    ).all()
    return [
        {
            "version": row.version,
            "status": row.status,
            "createdBy": row.created_by,
            "_creationTime": row.creation_time,
            "chars": row.chars,
            "lines": row.lines,
        }
        for row in rows
    ]


class ArtifactVersionTextArgs(Args):
    artifactId: Id
    version: int = Field(ge=1, le=2**31 - 1)
    # At most this many characters of the content (the database cuts it); all when absent.
    maxChars: int | None = Field(default=None, ge=1, le=8 * 1024 * 1024)


@query(
    "console:artifactVersionText",
    args=ArtifactVersionTextArgs,
    returns=ArtifactVersionText | None,
    allow=STAFF,
)
def artifact_version_text(ctx: Context, args: ArtifactVersionTextArgs) -> dict[str, Any] | None:
    """{version, status, content, chars, truncated}: one version's text, cut to maxChars.
    None when the artifact or the version does not exist."""
    if visible_artifact(ctx, args.artifactId) is None:
        return None
    content = artifact_versions.c.content
    shown = content if args.maxChars is None else sa.func.substr(content, 1, args.maxChars)
    row = ctx.conn.execute(
        sa.select(
            artifact_versions.c.version,
            artifact_versions.c.status,
            shown.label("shown"),
            sa.func.length(content).label("chars"),
        ).where(
            artifact_versions.c.artifact_id == args.artifactId,
            artifact_versions.c.version == args.version,
        )
    ).first()
    if row is None:
        return None
    return {
        "version": row.version,
        "status": row.status,
        "content": row.shown,
        "chars": row.chars,
        "truncated": len(row.shown) < row.chars,
    }
