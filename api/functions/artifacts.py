"""artifacts:create, artifacts:update, artifacts:get, artifacts:list, artifacts:versions.

Every content change is kept: artifact_versions holds version 1 to the current one.
"""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import StringConstraints

from api.errors import FunctionError
from api.functions._common import (
    Id,
    Page,
    PaginationOpts,
    ShortText,
    Text,
    all_rows,
    document,
    document_model,
    page,
)
from api.registry import ALL_READERS, BACKEND_WRITERS, NULL, Args, Context, mutation, query
from api.services.artifact_versions import add_version, load_artifact, visible_artifact
from api.services.audit import audit
from api.vocabulary import APPROVED, ARTIFACTS_CHANGED, DRAFT, REVIEWER, ArtifactStatus
from models import Artifact, ArtifactVersion
from models.ids import new_id

artifacts = Artifact.__table__
versions = ArtifactVersion.__table__

ArtifactType = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,39}$")]
ArtifactDoc = document_model(Artifact, "Artifact", status=ArtifactStatus)
ArtifactVersionDoc = document_model(ArtifactVersion, "ArtifactVersion", status=ArtifactStatus)


class CreateArgs(Args):
    threadId: Id
    type: ArtifactType
    content: Text
    title: ShortText | None = None
    status: ArtifactStatus = DRAFT


@mutation("artifacts:create", args=CreateArgs, returns=str, allow=BACKEND_WRITERS)
def create(ctx: Context, args: CreateArgs) -> str:
    """Creates an artifact at version 1; answers its id. `type` is `plan`, `report` or another
    short lowercase word."""
    ctx.thread(args.threadId)
    artifact_id = new_id("artifacts")
    ctx.conn.execute(
        sa.insert(artifacts).values(
            id=artifact_id,
            creation_time=ctx.now,
            thread_id=args.threadId,
            type=args.type,
            title=args.title,
            content=args.content,
            status=args.status,
            version=1,
            updated_time=ctx.now,
        )
    )
    add_version(ctx, artifact_id, 1, args.content, args.status)
    ctx.emit(ARTIFACTS_CHANGED, {"artifactId": artifact_id, "threadId": args.threadId})
    return artifact_id


class UpdateArgs(Args):
    artifactId: Id
    content: Text | None = None
    status: ArtifactStatus | None = None
    title: ShortText | None = None


# Reviewers may update an artifact, but only its status.
@mutation("artifacts:update", args=UpdateArgs, returns=NULL, allow=BACKEND_WRITERS | {REVIEWER})
def update(ctx: Context, args: UpdateArgs) -> None:
    """A content change makes a new version; a status or title change alone does not.
    Reviewers may change the status only."""
    current = load_artifact(ctx, args.artifactId)
    if ctx.caller.grant == REVIEWER and (args.content is not None or args.title is not None):
        raise FunctionError("Not allowed: a reviewer may change an artifact's status only")
    changes: dict[str, Any] = {"updated_time": ctx.now}
    if args.title is not None:
        changes["title"] = args.title
    if args.status is not None:
        changes["status"] = args.status
    status = args.status or current.status
    if args.content is not None and args.content != current.content:
        # What was approved is the old content: a new version starts over as a draft.
        if current.status == APPROVED and args.status in (None, APPROVED):
            status = changes["status"] = DRAFT
        changes["content"] = args.content
        changes["version"] = current.version + 1
        add_version(ctx, args.artifactId, current.version + 1, args.content, status)
    ctx.conn.execute(sa.update(artifacts).where(artifacts.c.id == args.artifactId).values(changes))
    if ctx.caller.kind == "user" and args.status is not None and args.status != current.status:
        audit(
            ctx,
            "artifact.status",
            args.artifactId,
            {"before": current.status, "after": args.status},
        )
    ctx.emit(ARTIFACTS_CHANGED, {"artifactId": args.artifactId, "threadId": current.thread_id})


class GetArgs(Args):
    artifactId: Id


@query("artifacts:get", args=GetArgs, returns=ArtifactDoc | None)
def get(ctx: Context, args: GetArgs) -> dict[str, Any] | None:
    row = visible_artifact(ctx, args.artifactId)
    return None if row is None else document(Artifact, row)


class ListArgs(Args):
    threadId: Id | None = None
    type: ArtifactType | None = None
    status: ArtifactStatus | None = None
    paginationOpts: PaginationOpts | None = None


@query(
    "artifacts:list",
    args=ListArgs,
    returns=list[ArtifactDoc] | Page[ArtifactDoc],
    allow=ALL_READERS,
)
def list_artifacts(ctx: Context, args: ListArgs) -> list[dict[str, Any]] | dict[str, Any]:
    """Without paginationOpts: an array, oldest first. With it: a page, newest first."""
    where = []
    if args.threadId is not None:
        where.append(artifacts.c.thread_id == args.threadId)
    if args.type is not None:
        where.append(artifacts.c.type == args.type)
    if args.status is not None:
        where.append(artifacts.c.status == args.status)
    own = ctx.own_threads_filter(artifacts.c.thread_id)
    if own is not None:
        where.append(own)
    if args.paginationOpts is not None:
        return page(ctx, Artifact, where, args.paginationOpts, artifacts.c.creation_time)
    order = [artifacts.c.creation_time, artifacts.c.id]
    return all_rows(ctx, Artifact, where, order, "artifacts")


class VersionsArgs(Args):
    artifactId: Id


@query("artifacts:versions", args=VersionsArgs, returns=list[ArtifactVersionDoc])
def list_versions(ctx: Context, args: VersionsArgs) -> list[dict[str, Any]]:
    """Every version, 1 to current, oldest first, each with `createdBy`."""
    if visible_artifact(ctx, args.artifactId) is None:
        return []
    rows = ctx.conn.execute(
        sa.select(versions)
        .where(versions.c.artifact_id == args.artifactId)
        .order_by(versions.c.version)
    ).all()
    return [document(ArtifactVersion, row) for row in rows]
