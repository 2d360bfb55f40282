"""governance: dataset versions, access requests, usage meters

Revision ID: governance_0004
Revises: governance_0003
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cityhub.db

revision = "governance_0004"
down_revision = "governance_0003"
branch_labels = None
depends_on = None


def _big() -> sa.types.TypeEngine:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    dt = cityhub.db.UTCDateTime(timezone=True)
    op.create_table(
        "gov_dataset_versions",
        sa.Column("id", _big(), autoincrement=True, nullable=False),
        sa.Column("dataset_id", sa.String(36), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("actor_user_id", sa.String(36), nullable=True),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("resources", sa.JSON(), nullable=False),
        sa.Column("diff", sa.JSON(), nullable=False),
        sa.Column("restored_from", sa.Integer(), nullable=True),
        sa.Column("created_at", dt, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gov_dataset_versions")),
        sa.UniqueConstraint("dataset_id", "number", name=op.f("uq_gov_dataset_versions_dataset_id")),
    )
    op.create_index(op.f("ix_gov_dataset_versions_dataset_id"), "gov_dataset_versions", ["dataset_id"])
    op.create_table(
        "gov_access_requests",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("dataset_id", sa.String(36), nullable=False),
        sa.Column("owner_org_id", sa.String(36), nullable=True),
        sa.Column("requester_user_id", sa.String(36), nullable=False),
        sa.Column("organization", sa.String(300), nullable=True),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("license_id", sa.String(100), nullable=True),
        sa.Column("terms_version", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(36), nullable=True),
        sa.Column("decided_at", dt, nullable=True),
        sa.Column("grant_id", sa.String(36), nullable=True),
        sa.Column("token_id", sa.String(36), nullable=True),
        sa.Column("created_at", dt, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gov_access_requests")),
    )
    op.create_index("ix_gov_access_requests_dataset", "gov_access_requests", ["dataset_id", "status"])
    op.create_index(op.f("ix_gov_access_requests_owner_org_id"), "gov_access_requests", ["owner_org_id"])
    op.create_index(op.f("ix_gov_access_requests_requester_user_id"), "gov_access_requests",
                    ["requester_user_id"])
    op.create_table(
        "gov_usage",
        sa.Column("id", _big(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("dataset_id", sa.String(36), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gov_usage")),
        sa.UniqueConstraint("user_id", "dataset_id", "day", name=op.f("uq_gov_usage_user_id")),
    )
    op.create_index(op.f("ix_gov_usage_user_id"), "gov_usage", ["user_id"])
    op.create_index(op.f("ix_gov_usage_dataset_id"), "gov_usage", ["dataset_id"])


def downgrade() -> None:
    op.drop_table("gov_usage")
    op.drop_table("gov_access_requests")
    op.drop_table("gov_dataset_versions")
