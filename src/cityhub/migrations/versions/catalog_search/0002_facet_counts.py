"""catalog_search: facet counts per access level (browsing without a query), filled from the projection

Revision ID: catalog_search_0002
Revises: catalog_search_0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

revision = "catalog_search_0002"
down_revision = "catalog_search_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dataset_facet_counts",
        sa.Column("access_level", sa.String(20), nullable=False),
        sa.Column("field", sa.String(20), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("access_level", "field", "value", name=op.f("pk_dataset_facet_counts")),
    )
    from cityhub.catalog import search_facets

    session = Session(bind=op.get_bind())
    search_facets.rebuild(session)
    session.flush()


def downgrade() -> None:
    op.drop_table("dataset_facet_counts")
