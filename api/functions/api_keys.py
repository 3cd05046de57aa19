"""apiKeys:* — API keys for backends (admins).

apiKeys:create, apiKeys:list, apiKeys:revoke.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from pydantic import Field

from api import auth
from api.errors import FunctionError
from api.functions._common import Id, Result, document, document_model
from api.registry import ADMINS, NULL, Args, Context, mutation, query
from api.services.audit import audit
from api.services.people import Name
from api.vocabulary import CREDENTIALS_CHANGED
from models import ApiKey, User
from models.ids import new_id

users = User.__table__
api_keys = ApiKey.__table__
ApiKeyDoc = document_model(
    ApiKey,
    "ApiKey",
    createdByName=(str, Field(default=None)),
    createdByEmail=(str, Field(default=None)),
    createdByDisabled=(bool, Field(default=None)),
)


class CreatedKey(Result):
    apiKeyId: str
    key: str


class CreateKeyArgs(Args):
    name: Name


@mutation(
    "apiKeys:create", args=CreateKeyArgs, returns=CreatedKey, allow=ADMINS, returns_secret=True
)
def create_key(ctx: Context, args: CreateKeyArgs) -> dict[str, str]:
    """Returns {apiKeyId, key}. The key is shown this once; only its hash is stored."""
    key = auth.new_api_key()
    key_id = new_id("api_keys")
    ctx.conn.execute(
        sa.insert(api_keys).values(
            id=key_id,
            creation_time=ctx.now,
            name=args.name,
            prefix=key[:12],
            key_hash=auth.sha256(key),
            created_by=ctx.caller.ref,
        )
    )
    audit(ctx, "apikey.create", key_id, {"after": {"name": args.name, "prefix": key[:12]}})
    return {"apiKeyId": key_id, "key": key}


class ListKeysArgs(Args):
    includeRevoked: bool = True


@query("apiKeys:list", args=ListKeysArgs, returns=list[ApiKeyDoc], allow=ADMINS)
def list_keys(ctx: Context, args: ListKeysArgs) -> list[dict[str, Any]]:
    """Newest first, each with who created it and when it was last used (`lastUsedTime`, kept to
    the minute). Keys belong to the installation, not to their creator: disabling the creator
    leaves them working, so the list says when a key's creator is disabled
    (`createdByDisabled`), for an admin to decide whether to revoke it."""
    query_ = sa.select(api_keys).order_by(api_keys.c.creation_time.desc())
    if not args.includeRevoked:
        query_ = query_.where(api_keys.c.revoked_time.is_(None))
    keys = [document(ApiKey, row) for row in ctx.conn.execute(query_).all()]
    creator_ids = {
        key["createdBy"].removeprefix("user:")
        for key in keys
        if key.get("createdBy", "").startswith("user:")
    }
    creators = {}
    if creator_ids:
        rows = ctx.conn.execute(
            sa.select(users.c.id, users.c.name, users.c.email, users.c.disabled).where(
                users.c.id.in_(creator_ids)
            )
        )
        creators = {f"user:{row.id}": row for row in rows}
    for key in keys:
        creator = creators.get(key.get("createdBy", ""))
        if creator is not None:
            key["createdByName"] = creator.name
            key["createdByEmail"] = creator.email
            key["createdByDisabled"] = bool(creator.disabled)
    return keys


class RevokeKeyArgs(Args):
    apiKeyId: Id


@mutation("apiKeys:revoke", args=RevokeKeyArgs, returns=NULL, allow=ADMINS)
def revoke_key(ctx: Context, args: RevokeKeyArgs) -> None:
    """Revokes a key at once."""
    ctx.require_id("api_keys", args.apiKeyId, "apiKeyId")
    row = ctx.conn.execute(sa.select(api_keys).where(api_keys.c.id == args.apiKeyId)).first()
    if row is None:
        raise FunctionError(f"API key {args.apiKeyId} not found")
    if row.revoked_time is not None:
        raise FunctionError(f"API key {args.apiKeyId} ({row.name}) is already revoked")
    ctx.conn.execute(
        sa.update(api_keys).where(api_keys.c.id == args.apiKeyId).values(revoked_time=ctx.now)
    )
    audit(ctx, "apikey.revoke", args.apiKeyId, {"name": row.name, "prefix": row.prefix})
    ctx.emit(CREDENTIALS_CHANGED, {})
