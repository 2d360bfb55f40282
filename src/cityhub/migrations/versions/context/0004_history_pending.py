"""context: write-behind history (ctx_history_pending: acknowledged batches not yet in observations/rollups)

Revision ID: context_0004
Revises: context_0003
Create Date: 2026-12-07 13:50:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cityhub.db import UTCDateTime

revision = "context_0004"
down_revision = "context_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ctx_history_pending",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("readings", sa.Text(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ctx_history_pending")),
    )


def downgrade() -> None:
    op.drop_table("ctx_history_pending")
