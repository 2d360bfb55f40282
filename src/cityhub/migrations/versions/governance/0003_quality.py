"""governance: quality counters and scores

Revision ID: governance_0003
Revises: governance_0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cityhub.db

revision = "governance_0003"
down_revision = "governance_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    dt = cityhub.db.UTCDateTime(timezone=True)
    op.create_table(
        "gov_quality_counters",
        sa.Column("resource_id", sa.String(64), nullable=False),
        sa.Column("dataset_id", sa.String(36), nullable=False),
        *(sa.Column(n, sa.BigInteger(), nullable=False) for n in (
            "rows", "checked_rows", "cells", "missing_cells", "invalid_rows", "inconsistent_rows", "duplicate_rows")),
        sa.Column("has_rules", sa.Boolean(), nullable=False),
        sa.Column("last_write_at", dt, nullable=False),
        sa.PrimaryKeyConstraint("resource_id", name=op.f("pk_gov_quality_counters")),
    )
    op.create_index(op.f("ix_gov_quality_counters_dataset_id"), "gov_quality_counters", ["dataset_id"])
    op.create_table(
        "gov_quality_scores",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("dataset_id", sa.String(36), nullable=False),
        sa.Column("owner_org_id", sa.String(36)),
        sa.Column("access_level", sa.String(20), nullable=False),
        sa.Column("run_id", sa.String(36)),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("dimensions", sa.JSON(), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("computed_at", dt, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gov_quality_scores")),
    )
    op.create_index("ix_gov_quality_scores_dataset", "gov_quality_scores", ["dataset_id", "computed_at"])
    op.create_index("ix_gov_quality_scores_current", "gov_quality_scores", ["current", "total"])
    op.create_index(op.f("ix_gov_quality_scores_owner_org_id"), "gov_quality_scores", ["owner_org_id"])


def downgrade() -> None:
    op.drop_table("gov_quality_scores")
    op.drop_table("gov_quality_counters")
