"""index thread titles for search

`threads:list` searches titles anywhere in them (`LIKE '%word%'`), which no B-tree index serves:
a word no title contains read every row (~100 ms at 100,000 threads). Trigram indexes make it an
index lookup: SQLite's FTS5 trigram tokenizer (an external-content table kept in step by
triggers), PostgreSQL's pg_trgm GIN index (skipped, with a warning, where the database user may
not create the extension; search then still works, unindexed).

Revision ID: 0004
Revises: 0003
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic")

SQLITE_TRIGGERS = {
    "threads_title_fts_insert": "AFTER INSERT ON threads BEGIN "
    "INSERT INTO threads_title_fts(rowid, title) VALUES (new.rowid, new.title); END",
    "threads_title_fts_delete": "AFTER DELETE ON threads BEGIN "
    "INSERT INTO threads_title_fts(threads_title_fts, rowid, title) "
    "VALUES ('delete', old.rowid, old.title); END",
    "threads_title_fts_update": "AFTER UPDATE OF title ON threads BEGIN "
    "INSERT INTO threads_title_fts(threads_title_fts, rowid, title) "
    "VALUES ('delete', old.rowid, old.title); "
    "INSERT INTO threads_title_fts(rowid, title) VALUES (new.rowid, new.title); END",
}


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE threads_title_fts USING fts5("
            "title, content='threads', content_rowid='rowid', tokenize='trigram')"
        )
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
        op.execute("INSERT INTO threads_title_fts(threads_title_fts) VALUES ('rebuild')")
    elif bind.dialect.name == "postgresql":
        savepoint = bind.begin_nested()
        try:
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
            savepoint.commit()
        except sa.exc.DBAPIError as exc:
            savepoint.rollback()
            log.warning("pg_trgm is not available (%s); title search stays unindexed", exc.orig)
            return
        op.execute(
            "CREATE INDEX IF NOT EXISTS ix_threads_title_trgm ON threads "
            "USING gin (title gin_trgm_ops)"
        )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS threads_title_fts")
    elif bind.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_threads_title_trgm")
