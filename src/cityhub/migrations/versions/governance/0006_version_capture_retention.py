"""governance: each version outbox row carries its change's capture; version retention (pruned copies)

Revision ID: governance_0006
Revises: governance_0005
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cityhub.db

revision = "governance_0006"
down_revision = "governance_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    dt = cityhub.db.UTCDateTime(timezone=True)
    with op.batch_alter_table("gov_version_outbox") as batch:
        batch.add_column(sa.Column("capture", sa.JSON(), nullable=True))
    with op.batch_alter_table("gov_dataset_versions") as batch:
        batch.add_column(sa.Column("pruned_at", dt, nullable=True))
    op.create_table(
        "gov_version_retention",
        sa.Column("dataset_id", sa.String(36), nullable=False),
        sa.Column("keep_copies", sa.Integer(), nullable=False),
        sa.Column("keep_days", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(36), nullable=True),
        sa.Column("updated_at", dt, nullable=False),
        sa.PrimaryKeyConstraint("dataset_id", name=op.f("pk_gov_version_retention")),
    )


def downgrade() -> None:
    op.drop_table("gov_version_retention")
    with op.batch_alter_table("gov_dataset_versions") as batch:
        batch.drop_column("pruned_at")
    with op.batch_alter_table("gov_version_outbox") as batch:
        batch.drop_column("capture")
