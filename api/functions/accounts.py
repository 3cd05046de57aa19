"""Account functions: people, API keys and the audit log (admins), and a person's own account.

users:me, users:list, users:create, users:setRole, users:setDisabled, users:changePassword,
apiKeys:create, apiKeys:list, apiKeys:revoke, auditLog:list.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import Field, PrivateAttr, StringConstraints

from api import auth
from api.db import get_engine
from api.errors import FunctionError
from api.functions._common import (
    Id,
    Page,
    PaginationOpts,
    Result,
    ShortText,
    audit,
    document,
    document_model,
    page,
)
from api.registry import ADMINS, NULL, Args, Caller, Context, mutation, query
from api.settings import get_settings
from models import ApiKey, AuditEntry, AuthSession, User
from models.ids import new_id

users = User.__table__
api_keys = ApiKey.__table__
auth_sessions = AuthSession.__table__
audit_log = AuditEntry.__table__

PEOPLE = frozenset({"admin", "reviewer", "viewer", "user"})
Role = Literal["admin", "reviewer", "viewer", "user"]
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_lower=True, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$"
    ),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Password = Annotated[str, StringConstraints(max_length=1000)]
UserDoc = document_model(User, "User", role=Role)
ApiKeyDoc = document_model(
    ApiKey,
    "ApiKey",
    createdByName=(str, Field(default=None)),
    createdByEmail=(str, Field(default=None)),
    createdByDisabled=(bool, Field(default=None)),
)
AuditEntryDoc = document_model(AuditEntry, "AuditEntry", details=dict[str, Any])
AuthSessionDoc = document_model(AuthSession, "AuthSession", current=bool)


class CreatedKey(Result):
    apiKeyId: str
    key: str


class PasswordLink(Result):
    path: str
    expiresTime: float
    purpose: Literal["set_password", "reset_password"]


def _user_row(ctx: Context, user_id: str) -> Any:
    ctx.require_id("users", user_id, "userId")
    row = ctx.conn.execute(sa.select(users).where(users.c.id == user_id)).first()
    if row is None:
        raise FunctionError(f"User {user_id} not found")
    return row


def _active_admins(ctx: Context) -> int:
    """Counted with the admins' rows locked (PostgreSQL), so that two workers demoting or
    disabling two different admins at once cannot both see a second one left."""
    admins = (
        sa.select(users.c.id)
        .where(users.c.role == "admin", users.c.disabled.is_(False))
        .with_for_update()
    )
    return len(ctx.conn.execute(admins).all())


def end_sessions(ctx: Context, user_id: str, keep_session_id: str | None = None) -> None:
    where = [auth_sessions.c.user_id == user_id, auth_sessions.c.revoked_time.is_(None)]
    if keep_session_id is not None:
        where.append(auth_sessions.c.id != keep_session_id)
    ctx.conn.execute(sa.update(auth_sessions).where(*where).values(revoked_time=ctx.now))


class NoArgs(Args):
    pass


@query("users:me", args=NoArgs, returns=UserDoc | None, allow=PEOPLE)
def me(ctx: Context, args: NoArgs) -> dict[str, Any] | None:
    """The signed-in person."""
    row = ctx.conn.execute(sa.select(users).where(users.c.id == ctx.caller.id)).first()
    return None if row is None else document(User, row)


class ListUsersArgs(Args):
    paginationOpts: PaginationOpts
    search: ShortText | None = None
    role: Role | None = None
    disabled: bool | None = None


@query("users:list", args=ListUsersArgs, returns=Page[UserDoc], allow=ADMINS)
def list_users(ctx: Context, args: ListUsersArgs) -> dict[str, Any]:
    """People, newest first; `search` matches the name or email."""
    where = []
    if args.search:
        pattern = (
            "%" + args.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        where.append(
            sa.or_(
                users.c.name.ilike(pattern, escape="\\"), users.c.email.ilike(pattern, escape="\\")
            )
        )
    if args.role is not None:
        where.append(users.c.role == args.role)
    if args.disabled is not None:
        where.append(users.c.disabled.is_(args.disabled))
    return page(ctx, User, where, args.paginationOpts, users.c.creation_time)


class CreateUserArgs(Args):
    email: Email
    name: Name
    role: Role
    password: Password | None = None
    _password_hash: str | None = PrivateAttr(default=None)


async def _hash_new_password(args: Any, _caller: Caller) -> None:
    password = getattr(args, "password", None) or getattr(args, "newPassword", None)
    if password is not None:
        args._password_hash = await auth.hash_password_async(password)


@mutation(
    "users:create",
    args=CreateUserArgs,
    returns=str,
    allow=ADMINS,
    prepare=_hash_new_password,
)
def create_user(ctx: Context, args: CreateUserArgs) -> str:
    """Creates a person. Without a password they cannot sign in until one is set for them."""
    taken = ctx.conn.execute(sa.select(users.c.id).where(users.c.email == args.email)).first()
    if taken is not None:
        raise FunctionError(f"email: a person with the email {args.email} already exists")
    user_id = new_id("users")
    ctx.conn.execute(
        sa.insert(users).values(
            id=user_id,
            creation_time=ctx.now,
            email=args.email,
            name=args.name,
            role=args.role,
            password_hash=args._password_hash,
            disabled=False,
            updated_time=ctx.now,
        )
    )
    audit(ctx, "user.create", user_id, {"after": {"email": args.email, "role": args.role}})
    return user_id


class SetRoleArgs(Args):
    userId: Id
    role: Role


@mutation("users:setRole", args=SetRoleArgs, returns=NULL, allow=ADMINS)
def set_role(ctx: Context, args: SetRoleArgs) -> None:
    """Changes a person's role; the last active admin cannot be demoted."""
    row = _user_row(ctx, args.userId)
    if row.role == args.role:
        return
    if row.role == "admin" and not row.disabled and _active_admins(ctx) <= 1:
        raise FunctionError(
            "The last active admin cannot be demoted; make someone else admin first"
        )
    ctx.conn.execute(
        sa.update(users)
        .where(users.c.id == args.userId)
        .values(role=args.role, updated_time=ctx.now)
    )
    audit(ctx, "user.role", args.userId, {"before": row.role, "after": args.role})
    ctx.emit("credentials:changed", {})


class SetDisabledArgs(Args):
    userId: Id
    disabled: bool


@mutation("users:setDisabled", args=SetDisabledArgs, returns=NULL, allow=ADMINS)
def set_disabled(ctx: Context, args: SetDisabledArgs) -> None:
    """Disabling ends every session of that person at once."""
    row = _user_row(ctx, args.userId)
    if row.disabled == args.disabled:
        return
    if args.disabled and row.role == "admin" and _active_admins(ctx) <= 1:
        raise FunctionError("The last active admin cannot be disabled")
    ctx.conn.execute(
        sa.update(users)
        .where(users.c.id == args.userId)
        .values(disabled=args.disabled, updated_time=ctx.now)
    )
    if args.disabled:
        end_sessions(ctx, args.userId)
    action = "user.disable" if args.disabled else "user.enable"
    audit(ctx, action, args.userId, {"before": row.disabled, "after": args.disabled})
    ctx.emit("credentials:changed", {})


class ChangePasswordArgs(Args):
    currentPassword: Password
    newPassword: Password
    _password_hash: str | None = PrivateAttr(default=None)


async def _check_current_password(args: ChangePasswordArgs, caller: Caller) -> None:
    """The current password is checked like a sign-in: throttled and, when wrong, counted as a
    failed sign-in of that account (so a stolen session cannot guess it freely)."""
    from api import signin

    with get_engine().connect() as conn:
        person = conn.execute(
            sa.select(users.c.email, users.c.password_hash).where(users.c.id == caller.id)
        ).first()
    if person is None:
        raise FunctionError("Your account no longer exists")
    try:
        # A live session of this account: held back only by its own failures (per account, from
        # no client address), not by strangers guessing at the sign-in page.
        await asyncio.to_thread(
            signin.throttle, person.email, None, user_id=caller.id, known_client=True
        )
    except signin.TooManyAttempts as exc:
        raise FunctionError(str(exc)) from None
    if not await asyncio.to_thread(
        auth.verify_password, args.currentPassword, person.password_hash
    ):
        await signin.record_failure(person.email, "wrong current password", None)
        raise FunctionError("currentPassword is not your current password")
    await _hash_new_password(args, caller)


@mutation(
    "users:changePassword",
    args=ChangePasswordArgs,
    returns=NULL,
    allow=PEOPLE,
    prepare=_check_current_password,
)
def change_password(ctx: Context, args: ChangePasswordArgs) -> None:
    """Anyone signed in, for themselves; signs out their other sessions."""
    ctx.conn.execute(
        sa.update(users)
        .where(users.c.id == ctx.caller.id)
        .values(password_hash=args._password_hash, updated_time=ctx.now)
    )
    # Whoever else held a session of this account is signed out; this session stays.
    end_sessions(ctx, ctx.caller.id, keep_session_id=ctx.caller.session_id)
    audit(ctx, "user.password", ctx.caller.id)
    ctx.emit("credentials:changed", {})


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
    ctx.emit("credentials:changed", {})


class AuditListArgs(Args):
    paginationOpts: PaginationOpts
    actor: ShortText | None = None
    action: ShortText | None = None
    target: ShortText | None = None
    since: float | None = None
    until: float | None = None


@query("auditLog:list", args=AuditListArgs, returns=Page[AuditEntryDoc], allow=ADMINS)
def list_audit(ctx: Context, args: AuditListArgs) -> dict[str, Any]:
    """Newest first. `actor` matches the actor reference or its label (e.g. an email)."""
    where = []
    if args.actor:
        where.append(sa.or_(audit_log.c.actor == args.actor, audit_log.c.actor_label == args.actor))
    if args.action:
        where.append(audit_log.c.action == args.action)
    if args.target:
        where.append(audit_log.c.target == args.target)
    if args.since is not None:
        where.append(audit_log.c.creation_time >= args.since)
    if args.until is not None:
        where.append(audit_log.c.creation_time < args.until)
    return page(ctx, AuditEntry, where, args.paginationOpts, audit_log.c.creation_time)


class PasswordLinkArgs(Args):
    userId: Id


@mutation(
    "users:passwordLink",
    args=PasswordLinkArgs,
    returns=PasswordLink,
    allow=ADMINS,
    returns_secret=True,
)
def password_link(ctx: Context, args: PasswordLinkArgs) -> dict[str, Any]:
    """A one-time link (valid 24 h) with which the person sets a new password; shown once, to the
    admin, to pass on. It replaces any earlier unused link for that person."""
    from api import links

    row = _user_row(ctx, args.userId)
    if row.disabled:
        raise FunctionError(f"{row.email} is disabled; re-enable them first")
    purpose = "reset_password" if row.password_hash else "set_password"
    issued = links.issue(ctx.conn, purpose, ctx.caller.ref, args.userId, ctx.now)
    audit(ctx, "user.password_link", args.userId, {"purpose": purpose})
    return {"path": issued.path, "expiresTime": issued.expires_time, "purpose": purpose}


@query("authSessions:mine", args=NoArgs, returns=list[AuthSessionDoc], allow=PEOPLE)
def my_sessions(ctx: Context, args: NoArgs) -> list[dict[str, Any]]:
    """The caller's live sign-in sessions, newest first; `current` marks this one."""
    rows = ctx.conn.execute(
        sa.select(auth_sessions)
        .where(
            auth_sessions.c.user_id == ctx.caller.id,
            auth_sessions.c.revoked_time.is_(None),
            auth_sessions.c.expires_time > ctx.now,
            auth_sessions.c.last_seen_time > ctx.now - get_settings().session_idle_seconds * 1000,
        )
        .order_by(auth_sessions.c.last_seen_time.desc())
    ).all()
    return [
        {**document(AuthSession, row), "current": row.id == ctx.caller.session_id} for row in rows
    ]


class RevokeSessionArgs(Args):
    sessionId: Id


@mutation("authSessions:revoke", args=RevokeSessionArgs, returns=NULL, allow=PEOPLE)
def revoke_session(ctx: Context, args: RevokeSessionArgs) -> None:
    """Ends one of the caller's own sessions (admins: anyone's)."""
    where = [auth_sessions.c.id == args.sessionId, auth_sessions.c.revoked_time.is_(None)]
    if ctx.caller.grant != "admin":
        where.append(auth_sessions.c.user_id == ctx.caller.id)
    ended = ctx.conn.execute(
        sa.update(auth_sessions)
        .where(*where)
        .values(revoked_time=ctx.now)
        .returning(auth_sessions.c.user_id)
    ).first()
    if ended is None:
        raise FunctionError(f"Session {args.sessionId} not found")
    audit(ctx, "session.revoke", ended.user_id, {"sessionId": args.sessionId})
    ctx.emit("credentials:changed", {})


@mutation("authSessions:revokeOthers", args=NoArgs, returns=int, allow=PEOPLE)
def revoke_other_sessions(ctx: Context, args: NoArgs) -> int:
    """Signs the caller out everywhere else; returns how many sessions ended."""
    ended = ctx.conn.execute(
        sa.update(auth_sessions)
        .where(
            auth_sessions.c.user_id == ctx.caller.id,
            auth_sessions.c.revoked_time.is_(None),
            auth_sessions.c.id != (ctx.caller.session_id or ""),
        )
        .values(revoked_time=ctx.now)
    ).rowcount
    audit(ctx, "session.revoke_others", ctx.caller.id, {"ended": ended})
    ctx.emit("credentials:changed", {})
    return ended
