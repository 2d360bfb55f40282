"""Statistics tables: indicators and their values, saved queries and their history, charts,
dashboards, and the rollups (cubes) that answer big charts without scanning every row."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cityhub.auth.models import new_id
from cityhub.db import Base, UTCDateTime, utcnow


class Indicator(Base):
    """One statistic the city publishes: what it means, its unit and period, and where it comes from.

    `dataset_id`, `access_level` and `owner_org_id` are those of the dataset the values come from, so
    the policy decides who may read an indicator exactly as it decides for that dataset.
    """

    __tablename__ = "stats_indicators"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    title_en: Mapped[str | None] = mapped_column(String(300))
    definition: Mapped[str | None] = mapped_column(Text)
    definition_en: Mapped[str | None] = mapped_column(Text)
    topic: Mapped[str] = mapped_column(String(60), default="population")
    unit: Mapped[str | None] = mapped_column(String(60))
    unit_en: Mapped[str | None] = mapped_column(String(60))
    period: Mapped[str] = mapped_column(String(1), default="Y")  # Y | Q | M
    source_kind: Mapped[str] = mapped_column(String(20), default="kosis")  # kosis | dataset
    source_name: Mapped[str | None] = mapped_column(String(200))  # "KOSIS DT_1B040A3" or the dataset title
    # kosis: {"source": collect source name, "item": ITM_ID}; dataset: {"resource_id", "time", "district",
    # "value", "agg", "filters"}
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dataset_id: Mapped[str | None] = mapped_column(String(36), index=True)
    resource_id: Mapped[str | None] = mapped_column(String(36), index=True)
    access_level: Mapped[str] = mapped_column(String(20), default="public")
    owner_org_id: Mapped[str | None] = mapped_column(String(36))
    values_count: Mapped[int] = mapped_column(Integer, default=0)
    first_period: Mapped[str | None] = mapped_column(String(10))
    last_period: Mapped[str | None] = mapped_column(String(10))
    # When the values last changed, and when we last tried (a failing source leaves the values alone).
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IndicatorValue(Base):
    """One figure: an indicator in one period for one district ('' for the whole city)."""

    __tablename__ = "stats_indicator_values"

    indicator_id: Mapped[str] = mapped_column(ForeignKey("stats_indicators.id", ondelete="CASCADE"),
                                              primary_key=True)
    period: Mapped[str] = mapped_column(String(10), primary_key=True)  # 2024 | 2024Q3 | 2024-07
    district_code: Mapped[str] = mapped_column(String(20), primary_key=True)
    district: Mapped[str | None] = mapped_column(String(100))
    district_en: Mapped[str | None] = mapped_column(String(100))
    period_start: Mapped[date] = mapped_column(Date)
    value: Mapped[float | None] = mapped_column(Float)


class SavedQuery(Base):
    """A workbench query kept for later: its SQL with `:name` parameters and who may open it."""

    __tablename__ = "stats_queries"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    sql: Mapped[str] = mapped_column(Text)
    # [{"name", "type": text|integer|number|date, "default"}]
    parameters: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    visibility: Mapped[str] = mapped_column(String(20), default="private")  # private | shared | public
    owner_user_id: Mapped[str | None] = mapped_column(String(36), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class QueryRun(Base):
    """The workbench history: every query a user ran, how long it took and how it ended."""

    __tablename__ = "stats_query_runs"
    __table_args__ = (Index("ix_stats_query_runs_user_time", "user_id", "ran_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(36))
    query_id: Mapped[str | None] = mapped_column(String(36))
    sql: Mapped[str] = mapped_column(Text)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    millis: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text)
    ran_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Chart(Base):
    """A saved chart: its spec (type, source, column mapping, aggregation, bucketing)."""

    __tablename__ = "stats_charts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(String(300))
    title_en: Mapped[str | None] = mapped_column(String(300))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    visibility: Mapped[str] = mapped_column(String(20), default="private")
    owner_user_id: Mapped[str | None] = mapped_column(String(36), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Dashboard(Base):
    """A grid of cards (charts, KPIs, maps, indicators) with shared filters."""

    __tablename__ = "stats_dashboards"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    title_en: Mapped[str | None] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    description_en: Mapped[str | None] = mapped_column(Text)
    # [{"id", "kind": chart|indicator|text, "chart_id"|"indicator", "w", "h", "title", "title_en"}]
    cards: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # {"date_column"?: ..., "district": bool, "date_range": bool}
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    refresh_seconds: Mapped[int | None] = mapped_column(Integer)
    visibility: Mapped[str] = mapped_column(String(20), default="private")  # private | link | public
    owner_user_id: Mapped[str | None] = mapped_column(String(36), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Cube(Base):
    """A rollup of one datastore table: counts and sums per time bucket and dimension values.

    Kept fresh when the table's dataset changes; `source_rows` is the table's row count when it was
    built, so a cube that no longer matches its table is never used (the chart scans instead).
    """

    __tablename__ = "stats_cubes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    resource_id: Mapped[str] = mapped_column(String(36), index=True)
    table_name: Mapped[str] = mapped_column(String(100), unique=True)
    time_column: Mapped[str | None] = mapped_column(String(100))
    grain: Mapped[str] = mapped_column(String(10), default="day")  # hour | day
    dimensions: Mapped[list[str]] = mapped_column(JSON, default=list)
    measures: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | ready | failed
    source_rows: Mapped[int | None] = mapped_column(BigInteger)
    cube_rows: Mapped[int | None] = mapped_column(BigInteger)
    built_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    build_seconds: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
