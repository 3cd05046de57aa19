"""Artifacts as other modules need them: an artifact looked up for the caller, and a new version
recorded (artifacts:update, and approvalRequests:resolve when an approved plan was edited)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from api.errors import FunctionError
from api.registry import Context
from models import Artifact, ArtifactVersion
from models.ids import is_id_for, new_id

artifacts = Artifact.__table__
versions = ArtifactVersion.__table__


def load_artifact(ctx: Context, artifact_id: str, field_name: str = "artifactId") -> Any:
    """The artifact row, checked to exist and be visible; else a clear error."""
    ctx.require_id("artifacts", artifact_id, field_name)
    row = ctx.conn.execute(sa.select(artifacts).where(artifacts.c.id == artifact_id)).first()
    if row is None or ctx.visible_thread(row.thread_id) is None:
        raise FunctionError(f"Artifact {artifact_id} not found")
    return row


def add_version(ctx: Context, artifact_id: str, version: int, content: str, status: str) -> None:
    ctx.conn.execute(
        sa.insert(versions).values(
            id=new_id("artifact_versions"),
            creation_time=ctx.now,
            artifact_id=artifact_id,
            version=version,
            content=content,
            status=status,
            created_by=ctx.caller.ref,
        )
    )


def visible_artifact(ctx: Context, artifact_id: str) -> Any | None:
    """The artifact row if it exists and the caller may see its thread; else None."""
    if not is_id_for("artifacts", artifact_id):
        return None
    row = ctx.conn.execute(sa.select(artifacts).where(artifacts.c.id == artifact_id)).first()
    if row is None or ctx.visible_thread(row.thread_id) is None:
        return None
    return row
