"""ops: camera index state (a token that changes with the index, for in-memory snapshots)

Revision ID: ops_0002
Revises: ops_0001
Create Date: 2026-12-07 10:29:05.402701
"""
from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import cityhub.db

revision = "ops_0002"
down_revision = "ops_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    state = op.create_table(
        "ops_camera_index_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=36), nullable=False),
        sa.Column("changed_at", cityhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ops_camera_index_state")),
    )
    # The one row exists from the start, so concurrent first syncs only ever update it.
    op.bulk_insert(state, [{"id": 1, "token": "initial", "changed_at": datetime.now(UTC)}])


def downgrade() -> None:
    op.drop_table("ops_camera_index_state")
