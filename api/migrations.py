"""Running Alembic from Python (the CLI's `migrate` and the tests)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

import models  # noqa: F401
from alembic import command
from api.db import make_engine
from api.settings import PROJECT_ROOT


def include_object(_obj, name, _type, _reflected, _compare_to) -> bool:
    """What autogenerate compares: all but the title search index (migration 0004), which the
    models do not describe."""
    return not (name or "").startswith(("threads_title_fts", "ix_threads_title_trgm"))


def alembic_config(connection: sa.Connection | None = None) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    config.attributes["configure_logging"] = False
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _run(url: str, action, *args: Any) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            action(alembic_config(connection), *args)
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> None:
    _run(url, command.upgrade, revision)


def downgrade(url: str, revision: str = "base") -> None:
    _run(url, command.downgrade, revision)


def current_revision(url: str) -> str | None:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def differences(url: str) -> list[Any]:
    """What autogenerate would change: empty when the models and the migrations agree."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={
                    "compare_type": True,
                    "compare_server_default": True,
                    "include_object": include_object,
                },
            )
            return compare_metadata(context, SQLModel.metadata)
    finally:
        engine.dispose()
