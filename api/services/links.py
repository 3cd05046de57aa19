"""One-time links: the first-run setup link, and "set your password" / password-reset links.

A link carries a random token (256 bits) of which only the SHA-256 is stored. It works once,
until it expires (24 h), and a newer link for the same purpose and person replaces it. Redeeming
one needs no signed-in caller, so these are not registry functions: the console's /setup and
/set-password pages and the CLI call them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from api import auth
from api.db import get_engine
from api.errors import FunctionError
from api.registry import Caller, Context, next_creation_time
from api.services.audit import audit

# The same validation as users:create; the sessions a new password ends.
from api.services.people import CreateUserArgs, end_sessions
from api.settings import get_settings
from api.vocabulary import ADMIN, CREDENTIALS_CHANGED
from api.writer import get_writer
from models import OneTimeLink, User
from models.ids import new_id

links = OneTimeLink.__table__
users = User.__table__
LINK_TTL_MS = 24 * 3600 * 1000
TOKEN_PREFIX = "tlo_"
PAGES = {"setup": "/setup", "set_password": "/set-password", "reset_password": "/set-password"}


@dataclass
class IssuedLink:
    token: str
    path: str  # e.g. /set-password?token=...
    expires_time: float


def issue(
    conn: sa.Connection, purpose: str, created_by: str, user_id: str | None, now: float
) -> IssuedLink:
    """Creates a link inside the caller's transaction, retiring earlier unused ones."""
    retire = sa.update(links).where(
        links.c.purpose.in_(_family(purpose)), links.c.used_time.is_(None)
    )
    retire = retire.where(links.c.user_id == user_id if user_id else links.c.user_id.is_(None))
    conn.execute(retire.values(expires_time=now))
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = now + LINK_TTL_MS
    conn.execute(
        sa.insert(links).values(
            id=new_id("one_time_links"),
            creation_time=now,
            purpose=purpose,
            token_hash=auth.sha256(token),
            user_id=user_id,
            created_by=created_by,
            expires_time=expires,
        )
    )
    return IssuedLink(token=token, path=f"{PAGES[purpose]}?token={token}", expires_time=expires)


def _family(purpose: str) -> tuple[str, ...]:
    return ("set_password", "reset_password") if purpose != "setup" else ("setup",)


def _live_link(conn: sa.Connection, token: str, now: float) -> Any | None:
    if not token or not token.startswith(TOKEN_PREFIX):
        return None
    return conn.execute(
        sa.select(links).where(
            links.c.token_hash == auth.sha256(token),
            links.c.used_time.is_(None),
            links.c.expires_time > now,
        )
    ).first()


def _claim(conn: sa.Connection, token: str, now: float) -> Any | None:
    """Marks a live link used and returns it, in one conditional UPDATE: of two redeemers racing
    (several workers), only one gets it. The caller's error rolls the claim back."""
    if not token or not token.startswith(TOKEN_PREFIX):
        return None
    return conn.execute(
        sa.update(links)
        .where(
            links.c.token_hash == auth.sha256(token),
            links.c.used_time.is_(None),
            links.c.expires_time > now,
        )
        .values(used_time=now)
        .returning(links.c.id, links.c.purpose, links.c.user_id)
    ).first()


def _admin_exists(conn: sa.Connection) -> bool:
    # Locks the admin rows (PostgreSQL): a concurrent setup waits, then sees this one's admin.
    query = sa.select(users.c.id).where(users.c.role == ADMIN).limit(1).with_for_update()
    return conn.execute(query).first() is not None


def _writer():
    return get_writer(get_engine(), get_settings().max_batch)


# ---- first run -------------------------------------------------------------------------------


async def create_setup_link() -> IssuedLink | None:
    """A fresh setup link while no admin exists (older ones stop working); None once one does."""

    def run(conn):
        if _admin_exists(conn):
            return None, []
        return issue(conn, "setup", "system:first-run", None, next_creation_time()), []

    return await _writer().submit(run)


def admin_exists() -> bool:
    """True once the first admin exists: /setup then only says setup is done."""
    query = sa.select(users.c.id).where(users.c.role == ADMIN).limit(1)
    with get_engine().connect() as conn:  # a page view: no row locks
        return conn.execute(query).first() is not None


def setup_link_is_valid(token: str) -> bool:
    with get_engine().connect() as conn:
        now = next_creation_time()
        link = _live_link(conn, token, now)
        return link is not None and link.purpose == "setup" and not _admin_exists(conn)


async def complete_setup(token: str, email: str, name: str, password: str) -> str:
    """Creates the first admin with a valid setup link. Returns the new user's id."""
    try:
        args = CreateUserArgs.model_validate({"email": email, "name": name, "role": ADMIN})
    except Exception as exc:
        raise FunctionError(f"Check the form: {exc}") from None
    # Anyone can send this form (a forged console event needs no page): look at the link before
    # spending bcrypt's CPU on the password. The claim below stays the check that counts.
    if not setup_link_is_valid(token):
        raise FunctionError("This setup link is not valid any more (used, replaced or expired)")
    password_hash = await auth.hash_password_async(password)

    def run(conn):
        now = next_creation_time()
        link = _claim(conn, token, now)
        if link is None or link.purpose != "setup" or _admin_exists(conn):
            raise FunctionError("This setup link is not valid any more (used, replaced or expired)")
        user_id = new_id("users")
        conn.execute(
            sa.insert(users).values(
                id=user_id,
                creation_time=now,
                email=args.email,
                name=args.name,
                role=ADMIN,
                password_hash=password_hash,
                disabled=False,
                updated_time=now,
            )
        )
        ctx = Context(
            conn=conn,
            caller=Caller(kind="user", id=user_id, label=args.email, role=ADMIN),
            now=now,
        )
        audit(ctx, "setup.complete", user_id, {"after": {"email": args.email, "role": ADMIN}})
        return user_id, []

    return await _writer().submit(run)


# ---- set / reset password ----------------------------------------------------------------------


def password_link_info(token: str) -> dict[str, str] | None:
    """{email, name, purpose} of the person a live password link is for, or None."""
    with get_engine().connect() as conn:
        link = _live_link(conn, token, next_creation_time())
        if link is None or link.purpose == "setup":
            return None
        person = conn.execute(
            sa.select(users.c.email, users.c.name).where(users.c.id == link.user_id)
        ).first()
    if person is None:
        return None
    return {"email": person.email, "name": person.name, "purpose": link.purpose}


async def redeem_password_link(token: str, password: str) -> str:
    """Sets the password of the link's person, ends their sessions, retires the link.
    Returns their email (to sign them in)."""
    # As for setup: no bcrypt for a token that is no live link (the claim below still decides).
    if password_link_info(token) is None:
        raise FunctionError("This link is not valid any more (used, replaced or expired)")
    password_hash = await auth.hash_password_async(password)

    def run(conn):
        now = next_creation_time()
        link = _claim(conn, token, now)
        if link is None or link.purpose == "setup":
            raise FunctionError("This link is not valid any more (used, replaced or expired)")
        person = conn.execute(sa.select(users).where(users.c.id == link.user_id)).first()
        if person is None or person.disabled:
            raise FunctionError("This account is disabled; ask an admin")
        conn.execute(
            sa.update(users)
            .where(users.c.id == person.id)
            .values(password_hash=password_hash, updated_time=now)
        )
        caller = Caller(kind="user", id=person.id, label=person.email, role=person.role)
        ctx = Context(conn=conn, caller=caller, now=now)
        end_sessions(ctx, person.id)
        audit(ctx, f"user.{link.purpose}", person.id)
        return person.email, [(CREDENTIALS_CHANGED, {})]

    return await _writer().submit(run)
