"""stats: indicators, queries, charts, dashboards, cubes

Revision ID: stats_0001
Revises:
Create Date: 2026-11-26 10:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cityhub.db

revision = "stats_0001"
down_revision = None
branch_labels = ("stats",)
depends_on = ("core_0001",)

UTC = cityhub.db.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "stats_indicators",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("slug", sa.String(100), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("title_en", sa.String(300)),
        sa.Column("definition", sa.Text()),
        sa.Column("definition_en", sa.Text()),
        sa.Column("topic", sa.String(60), nullable=False),
        sa.Column("unit", sa.String(60)),
        sa.Column("unit_en", sa.String(60)),
        sa.Column("period", sa.String(1), nullable=False),
        sa.Column("source_kind", sa.String(20), nullable=False),
        sa.Column("source_name", sa.String(200)),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("dataset_id", sa.String(36)),
        sa.Column("resource_id", sa.String(36)),
        sa.Column("access_level", sa.String(20), nullable=False),
        sa.Column("owner_org_id", sa.String(36)),
        sa.Column("values_count", sa.Integer(), nullable=False),
        sa.Column("first_period", sa.String(10)),
        sa.Column("last_period", sa.String(10)),
        sa.Column("updated_at", UTC()),
        sa.Column("refreshed_at", UTC()),
        sa.Column("last_error", sa.Text()),
        sa.Column("created_at", UTC(), nullable=False),
        sa.UniqueConstraint("slug", name=op.f("uq_stats_indicators_slug")),
    )
    op.create_index(op.f("ix_stats_indicators_dataset_id"), "stats_indicators", ["dataset_id"])
    op.create_index(op.f("ix_stats_indicators_resource_id"), "stats_indicators", ["resource_id"])
    op.create_table(
        "stats_indicator_values",
        sa.Column("indicator_id", sa.String(36),
                  sa.ForeignKey("stats_indicators.id", ondelete="CASCADE",
                                name=op.f("fk_stats_indicator_values_indicator_id_stats_indicators")),
                  primary_key=True),
        sa.Column("period", sa.String(10), primary_key=True),
        sa.Column("district_code", sa.String(20), primary_key=True),
        sa.Column("district", sa.String(100)),
        sa.Column("district_en", sa.String(100)),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("value", sa.Float()),
    )
    op.create_table(
        "stats_queries",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("sql", sa.Text(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("visibility", sa.String(20), nullable=False),
        sa.Column("owner_user_id", sa.String(36)),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("modified_at", UTC(), nullable=False),
    )
    op.create_index(op.f("ix_stats_queries_owner_user_id"), "stats_queries", ["owner_user_id"])
    op.create_table(
        "stats_query_runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("query_id", sa.String(36)),
        sa.Column("sql", sa.Text(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("millis", sa.Float(), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("ran_at", UTC(), nullable=False),
    )
    op.create_index("ix_stats_query_runs_user_time", "stats_query_runs", ["user_id", "ran_at"])
    op.create_table(
        "stats_charts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("title_en", sa.String(300)),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("visibility", sa.String(20), nullable=False),
        sa.Column("owner_user_id", sa.String(36)),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("modified_at", UTC(), nullable=False),
    )
    op.create_index(op.f("ix_stats_charts_owner_user_id"), "stats_charts", ["owner_user_id"])
    op.create_table(
        "stats_dashboards",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("slug", sa.String(100), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("title_en", sa.String(300)),
        sa.Column("description", sa.Text()),
        sa.Column("description_en", sa.Text()),
        sa.Column("cards", sa.JSON(), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("refresh_seconds", sa.Integer()),
        sa.Column("visibility", sa.String(20), nullable=False),
        sa.Column("owner_user_id", sa.String(36)),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("modified_at", UTC(), nullable=False),
        sa.UniqueConstraint("slug", name=op.f("uq_stats_dashboards_slug")),
    )
    op.create_index(op.f("ix_stats_dashboards_owner_user_id"), "stats_dashboards", ["owner_user_id"])
    op.create_table(
        "stats_cubes",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("resource_id", sa.String(36), nullable=False),
        sa.Column("table_name", sa.String(100), nullable=False),
        sa.Column("time_column", sa.String(100)),
        sa.Column("grain", sa.String(10), nullable=False),
        sa.Column("dimensions", sa.JSON(), nullable=False),
        sa.Column("measures", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("source_rows", sa.BigInteger()),
        sa.Column("cube_rows", sa.BigInteger()),
        sa.Column("built_at", UTC()),
        sa.Column("build_seconds", sa.Float()),
        sa.Column("error", sa.Text()),
        sa.Column("created_at", UTC(), nullable=False),
        sa.UniqueConstraint("table_name", name=op.f("uq_stats_cubes_table_name")),
    )
    op.create_index(op.f("ix_stats_cubes_resource_id"), "stats_cubes", ["resource_id"])


def downgrade() -> None:
    for table in ("stats_cubes", "stats_dashboards", "stats_charts", "stats_query_runs", "stats_queries",
                  "stats_indicator_values", "stats_indicators"):
        op.drop_table(table)
