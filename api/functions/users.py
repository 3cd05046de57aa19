"""users:* — people (admins manage them) and a person's own account.

users:me, users:list, users:create, users:setRole, users:setDisabled, users:changePassword,
users:passwordLink.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import PrivateAttr

from api import auth
from api.db import get_engine
from api.errors import FunctionError
from api.functions._common import (
    Id,
    NoArgs,
    Page,
    PaginationOpts,
    Result,
    ShortText,
    document,
    document_model,
    page,
)
from api.registry import ADMINS, NULL, Args, Caller, Context, mutation, query
from api.services import links, signin
from api.services.audit import audit
from api.services.people import (
    CreateUserArgs,
    Password,
    active_admins,
    end_sessions,
    user_row,
)
from api.vocabulary import ADMIN, CREDENTIALS_CHANGED, PEOPLE, Role
from models import User
from models.ids import new_id

users = User.__table__
UserDoc = document_model(User, "User", role=Role)


class PasswordLink(Result):
    path: str
    expiresTime: float
    purpose: Literal["set_password", "reset_password"]


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
    row = user_row(ctx, args.userId)
    if row.role == args.role:
        return
    if row.role == ADMIN and not row.disabled and active_admins(ctx) <= 1:
        raise FunctionError(
            "The last active admin cannot be demoted; make someone else admin first"
        )
    ctx.conn.execute(
        sa.update(users)
        .where(users.c.id == args.userId)
        .values(role=args.role, updated_time=ctx.now)
    )
    audit(ctx, "user.role", args.userId, {"before": row.role, "after": args.role})
    ctx.emit(CREDENTIALS_CHANGED, {})


class SetDisabledArgs(Args):
    userId: Id
    disabled: bool


@mutation("users:setDisabled", args=SetDisabledArgs, returns=NULL, allow=ADMINS)
def set_disabled(ctx: Context, args: SetDisabledArgs) -> None:
    """Disabling ends every session of that person at once."""
    row = user_row(ctx, args.userId)
    if row.disabled == args.disabled:
        return
    if args.disabled and row.role == ADMIN and active_admins(ctx) <= 1:
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
    ctx.emit(CREDENTIALS_CHANGED, {})


class ChangePasswordArgs(Args):
    currentPassword: Password
    newPassword: Password
    _password_hash: str | None = PrivateAttr(default=None)


async def _check_current_password(args: ChangePasswordArgs, caller: Caller) -> None:
    """The current password is checked like a sign-in: throttled and, when wrong, counted as a
    failed sign-in of that account (so a stolen session cannot guess it freely)."""
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
    ctx.emit(CREDENTIALS_CHANGED, {})


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
    row = user_row(ctx, args.userId)
    if row.disabled:
        raise FunctionError(f"{row.email} is disabled; re-enable them first")
    purpose = "reset_password" if row.password_hash else "set_password"
    issued = links.issue(ctx.conn, purpose, ctx.caller.ref, args.userId, ctx.now)
    audit(ctx, "user.password_link", args.userId, {"purpose": purpose})
    return {"path": issued.path, "expiresTime": issued.expires_time, "purpose": purpose}
