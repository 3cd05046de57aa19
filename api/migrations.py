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
                connection, opts={"compare_type": True, "compare_server_default": True}
            )
            return compare_metadata(context, SQLModel.metadata)
    finally:
        engine.dispose()
