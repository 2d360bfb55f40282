"""catalog_search: the search projection (one narrow row per indexed dataset), filled from datasets

The SQLite full-text index is rebuilt so each entry's rowid is its projection key.

Revision ID: catalog_search_0001
Revises:
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

from cityhub.db import UTCDateTime

revision = "catalog_search_0001"
down_revision = None
branch_labels = ("catalog_search",)
depends_on = ("core_0002",)


def upgrade() -> None:
    op.create_table(
        "dataset_search",
        sa.Column("doc", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("dataset_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("access_level", sa.String(20), nullable=False),
        sa.Column("owner_org_id", sa.String(36), nullable=True),
        sa.Column("theme", sa.String(40), nullable=True),
        sa.Column("license_id", sa.String(100), nullable=True),
        sa.Column("keywords", sa.Text(), nullable=False),
        sa.Column("formats", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("modified_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("doc", name=op.f("pk_dataset_search")),
        sa.UniqueConstraint("dataset_id", name=op.f("uq_dataset_search_dataset_id")),
    )
    op.create_index("ix_dataset_search_visible", "dataset_search", ["state", "access_level", "modified_at"])
    op.create_index("ix_dataset_search_org", "dataset_search", ["owner_org_id"])
    from cityhub.catalog import search

    session = Session(bind=op.get_bind())
    search.rebuild(session, facets=False)  # catalog_search_0002 adds and fills the facet counts
    session.flush()


def downgrade() -> None:
    op.drop_table("dataset_search")
