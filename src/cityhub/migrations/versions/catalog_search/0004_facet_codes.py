"""catalog_search: facet values as integer codes per search row (faceted searches read one narrow blob per match)

Revision ID: catalog_search_0004
Revises: catalog_search_0003
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

revision = "catalog_search_0004"
down_revision = "catalog_search_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dataset_facet_values",
        sa.Column("code", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("field", sa.String(20), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_dataset_facet_values")),
        sa.UniqueConstraint("field", "value", name=op.f("uq_dataset_facet_values_field_value")),
    )
    op.create_table(
        "dataset_facet_codes",
        sa.Column("doc", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("codes", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("doc", name=op.f("pk_dataset_facet_codes")),
    )
    from cityhub.catalog import search_codes

    session = Session(bind=op.get_bind())
    search_codes.rebuild(session)
    session.flush()


def downgrade() -> None:
    op.drop_table("dataset_facet_codes")
    op.drop_table("dataset_facet_values")
