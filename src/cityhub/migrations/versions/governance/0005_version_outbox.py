"""governance: version outbox (versions recorded in the background, never lost across kill -9)

Revision ID: governance_0005
Revises: governance_0004
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cityhub.db

revision = "governance_0005"
down_revision = "governance_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    dt = cityhub.db.UTCDateTime(timezone=True)
    op.create_table(
        "gov_version_outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("dataset_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", dt, nullable=False),
        sa.Column("claimed_until", dt, nullable=True),
        sa.Column("created_at", dt, nullable=False),
        sa.Column("delivered_at", dt, nullable=True),
        sa.Column("last_error", sa.String(2000), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gov_version_outbox")),
    )
    op.create_index(op.f("ix_gov_version_outbox_dataset_id"), "gov_version_outbox", ["dataset_id"])
    op.create_index("ix_gov_version_outbox_due", "gov_version_outbox", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_gov_version_outbox_due", table_name="gov_version_outbox")
    op.drop_index(op.f("ix_gov_version_outbox_dataset_id"), table_name="gov_version_outbox")
    op.drop_table("gov_version_outbox")
