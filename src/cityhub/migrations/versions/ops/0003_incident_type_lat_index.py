"""ops: index incidents by (type, lat) for the duplicate check's latitude range

Revision ID: ops_0003
Revises: ops_0002
Create Date: 2026-12-07 11:27:00.000000
"""
from __future__ import annotations

from alembic import op

revision = "ops_0003"
down_revision = "ops_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_ops_incidents_type_lat", "ops_incidents", ["type", "lat"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_ops_incidents_type_lat", table_name="ops_incidents")
