"""context_query: entities indexed by (type, id), replacing (type)

A query by type pages in id order (NGSI-LD /entities and /temporal/entities): with (type) alone SQLite read
every entity of the type and sorted them (100k entities: ~220 ms for a page of 300); (type, id) hands the page
over in order. Its own branch (after context_0003), so it does not wait on other context migrations.

Revision ID: context_query_0001
Revises:
Create Date: 2026-12-07 14:00:00
"""
from __future__ import annotations

from alembic import op

revision = "context_query_0001"
down_revision = None
branch_labels = ("context_query",)
depends_on = "context_0003"


def upgrade() -> None:
    op.create_index("ix_ctx_entities_type_id", "ctx_entities", ["type", "id"], unique=False)
    op.drop_index("ix_ctx_entities_type", table_name="ctx_entities")


def downgrade() -> None:
    op.create_index("ix_ctx_entities_type", "ctx_entities", ["type"], unique=False)
    op.drop_index("ix_ctx_entities_type_id", table_name="ctx_entities")
