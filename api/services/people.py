"""People: the roles and input types of users:* and of the first-run setup (CreateUserArgs),
and what several modules do to a person's account (look them up, count the active admins, end
their sessions, find them by email)."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import PrivateAttr, StringConstraints

from api.db import get_engine
from api.errors import FunctionError
from api.registry import Args, Context
from api.vocabulary import ADMIN, PEOPLE, Role  # noqa: F401 (PEOPLE, Role: for users:*)
from models import AuthSession, User

users = User.__table__
auth_sessions = AuthSession.__table__

Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_lower=True, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$"
    ),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Password = Annotated[str, StringConstraints(max_length=1000)]


class CreateUserArgs(Args):
    email: Email
    name: Name
    role: Role
    password: Password | None = None
    _password_hash: str | None = PrivateAttr(default=None)


def user_row(ctx: Context, user_id: str) -> Any:
    ctx.require_id("users", user_id, "userId")
    row = ctx.conn.execute(sa.select(users).where(users.c.id == user_id)).first()
    if row is None:
        raise FunctionError(f"User {user_id} not found")
    return row


def active_admins(ctx: Context) -> int:
    """Counted with the admins' rows locked (PostgreSQL), so that two workers demoting or
    disabling two different admins at once cannot both see a second one left."""
    admins = (
        sa.select(users.c.id)
        .where(users.c.role == ADMIN, users.c.disabled.is_(False))
        .with_for_update()
    )
    return len(ctx.conn.execute(admins).all())


def end_sessions(ctx: Context, user_id: str, keep_session_id: str | None = None) -> None:
    where = [auth_sessions.c.user_id == user_id, auth_sessions.c.revoked_time.is_(None)]
    if keep_session_id is not None:
        where.append(auth_sessions.c.id != keep_session_id)
    ctx.conn.execute(sa.update(auth_sessions).where(*where).values(revoked_time=ctx.now))


def user_id_for(email_or_id: str) -> str:
    """The id of the person with this email (or the id itself): for the CLI's commands."""
    if email_or_id.startswith("usr_"):
        return email_or_id
    with get_engine().connect() as conn:
        found = conn.execute(
            sa.select(users.c.id).where(users.c.email == email_or_id.strip().lower())
        ).scalar()
    if found is None:
        raise FunctionError(f"no person with the email {email_or_id}")
    return found
