"""context: geo narrowing on 0.01° latitude bands with the extent columns in the index

Revision ID: context_0003
Revises: context_0002
Create Date: 2026-12-07 11:30:00
"""
from __future__ import annotations

from alembic import op

revision = "context_0003"
down_revision = "context_0002"
branch_labels = None
depends_on = None

# Must match cityhub.context.models.lat_band exactly (queries use the same expression).
BAND_INDEX = ("CREATE INDEX ix_ctx_entities_type_band_lon ON ctx_entities "
              "(type, CAST(lat * 100 AS INTEGER), lon, lat, min_lat, max_lat, min_lon, max_lon)")


def upgrade() -> None:
    # replaces (type, lat, lon): a latitude range scanned every longitude of the city, then read each row
    op.drop_index("ix_ctx_entities_type_lat_lon", table_name="ctx_entities")
    op.execute(BAND_INDEX)


def downgrade() -> None:
    op.drop_index("ix_ctx_entities_type_band_lon", table_name="ctx_entities")
    op.create_index("ix_ctx_entities_type_lat_lon", "ctx_entities", ["type", "lat", "lon"], unique=False)
