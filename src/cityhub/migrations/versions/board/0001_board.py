"""board: the live board's replay log and minute samples

Revision ID: board_0001
Revises:
Create Date: 2026-11-27 10:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cityhub.db

revision = "board_0001"
down_revision = None
branch_labels = ("board",)
depends_on = None

UTC = cityhub.db.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "board_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", UTC(), nullable=False),
        sa.Column("topic", sa.String(100), nullable=False),
        sa.Column("scope", sa.String(10), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
    )
    op.create_table(
        "board_samples",
        sa.Column("at", UTC(), primary_key=True),
        sa.Column("figures", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("board_samples")
    op.drop_table("board_events")
