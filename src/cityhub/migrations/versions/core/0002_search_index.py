"""core: dataset full-text index (FTS5 on SQLite, tsvector + GIN on PostgreSQL)

Revision ID: core_0002
Revises: core_0001
"""
from __future__ import annotations

from alembic import op

from cityhub.catalog import search_postgres, search_sqlite

revision = "core_0002"
down_revision = "core_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(search_sqlite.CREATE)
    else:
        for statement in search_postgres.CREATE:
            op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS dataset_fts")
