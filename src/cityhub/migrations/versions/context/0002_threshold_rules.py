"""context: threshold rules as data, seeded with the Korean PM bands, congestion and river levels

Revision ID: context_0002
Revises: context_0001
Create Date: 2026-12-07 10:50:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import cityhub.db

JSON_DOC = sa.Text().with_variant(postgresql.JSONB(), "postgresql")

revision = "context_0002"
down_revision = "context_0001"
branch_labels = None
depends_on = None

# The defaults as they stood when rules became data (frozen here: later edits are the city's own).
DEFAULTS = (
    ("pm25", "AirQualityObserved", "pm25", "above", [[35, "high"], [75, "critical"]], 3.0, "environment",
     "airPollution", "초미세먼지(PM2.5) 나쁨 / PM2.5 above the Korean 'bad' band", []),
    ("pm10", "AirQualityObserved", "pm10", "above", [[80, "high"], [150, "critical"]], 5.0, "environment",
     "airPollution", "미세먼지(PM10) 나쁨 / PM10 above the Korean 'bad' band", []),
    ("congestion", "TrafficFlowObserved", "averageVehicleSpeed", "below", [[15, "medium"]], 3.0, "traffic",
     "trafficJam", "교통 정체 / traffic slower than 15 km/h", []),
    ("river", "WaterLevelObserved", "waterLevel", "above", [[3.0, "high"], [4.5, "critical"]], 0.1,
     "naturalDisaster", "flood", "하천 수위 경보 / river level above warning or alarm",
     ["warningLevel", "alarmLevel"]),
)


def upgrade() -> None:
    table = op.create_table(
        "ctx_threshold_rules",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("entity_type", sa.String(length=256), nullable=False),
        sa.Column("attr", sa.String(length=256), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("lines", JSON_DOC, nullable=False),
        sa.Column("hysteresis", sa.Float(), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("sub_category", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("line_attrs", JSON_DOC, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("modified_at", cityhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_ctx_threshold_rules")),
    )
    import json
    from datetime import UTC, datetime

    pg = op.get_bind().dialect.name == "postgresql"
    now = datetime.now(UTC)
    op.bulk_insert(table, [
        {"name": n, "entity_type": t, "attr": a, "direction": d,
         "lines": lines if pg else json.dumps(lines), "hysteresis": h, "category": c, "sub_category": s,
         "description": desc, "line_attrs": la if pg else json.dumps(la), "enabled": True, "modified_at": now}
        for n, t, a, d, lines, h, c, s, desc, la in DEFAULTS])


def downgrade() -> None:
    op.drop_table("ctx_threshold_rules")
