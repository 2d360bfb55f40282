"""datastore: registry of typed per-resource tables

Revision ID: datastore_0001
Revises:
Create Date: 2026-11-25 18:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cityhub.db

revision = "datastore_0001"
down_revision = None
branch_labels = ("datastore",)
depends_on = ("core_0001",)


def upgrade() -> None:
    op.create_table(
        "datastore_tables",
        sa.Column("resource_id", sa.String(length=36), nullable=False),
        sa.Column("table_name", sa.String(length=100), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("histograms", sa.JSON(), nullable=False),
        sa.Column("indexes", sa.JSON(), nullable=False),
        sa.Column("text_index", sa.Boolean(), nullable=False),
        sa.Column("source_format", sa.String(length=20), nullable=True),
        sa.Column("encoding", sa.String(length=40), nullable=True),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("created_at", cityhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("resource_id", name=op.f("pk_datastore_tables")),
        sa.UniqueConstraint("table_name", name=op.f("uq_datastore_tables_table_name")),
    )


def downgrade() -> None:
    op.drop_table("datastore_tables")
