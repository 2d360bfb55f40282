"""Chart specs, chart data, dashboards: what the chart builder and dashboards accept and return."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from cityhub.stats.schemas import Agg

ChartType = Literal["line", "area", "bar", "stacked_bar", "pie", "scatter", "heatmap", "kpi", "table",
                    "choropleth", "points"]
Bucket = Literal["hour", "day", "week", "month", "quarter", "year", "hour_of_day", "weekday"]
# Charts that plot raw rows (no grouping): a value per row.
RAW_TYPES = ("scatter", "points", "table")


class ChartSource(BaseModel):
    resource_id: str | None = Field(default=None, description="a datastore table (resource id)")
    query_id: str | None = Field(default=None, description="a saved query")
    params: dict[str, Any] = Field(default_factory=dict, description="values for the saved query's parameters")

    @model_validator(mode="after")
    def _one(self) -> ChartSource:
        if (self.resource_id is None) == (self.query_id is None):
            raise ValueError("give exactly one of resource_id or query_id")
        return self


class Axis(BaseModel):
    column: str
    bucket: Bucket | None = Field(default=None, description="time bucketing for date/datetime columns")


class Measure(BaseModel):
    column: str | None = Field(default=None, description="not needed for count")
    agg: Agg | None = Field(default="count", description="none for raw values (scatter, points, table)")
    label: str | None = None


class Filter(BaseModel):
    column: str
    op: Literal["eq", "ne", "gt", "gte", "lt", "lte", "in"] = "eq"
    value: Any


class ChartSpec(BaseModel):
    type: ChartType
    source: ChartSource
    x: Axis | None = Field(default=None, description="category or time axis; the district column for choropleths")
    y: list[Measure] = Field(default_factory=lambda: [Measure()])
    series: str | None = Field(default=None, description="colour: one series per value of this column")
    size: str | None = Field(default=None, description="point size (scatter, points)")
    lat: str | None = None
    lon: str | None = None
    columns: list[str] | None = Field(default=None, description="table charts: columns to show")
    filters: list[Filter] = Field(default_factory=list)
    time_column: str | None = Field(default=None, description="dashboard date-range filters apply here")
    district_column: str | None = Field(default=None, description="dashboard district filters apply here")
    sort: Literal["x", "-x", "y", "-y"] | None = None
    limit: int = Field(default=5000, ge=1, le=10_000)


class ChartCreate(BaseModel):
    title: str = Field(min_length=1, max_length=300)
    title_en: str | None = None
    spec: ChartSpec
    visibility: Literal["private", "shared", "public"] = "private"


class ChartUpdate(BaseModel):
    title: str | None = None
    title_en: str | None = None
    spec: ChartSpec | None = None
    visibility: Literal["private", "shared", "public"] | None = None


class ChartPublic(BaseModel):
    id: str
    title: str
    title_en: str | None = None
    spec: ChartSpec
    visibility: str
    owner_user_id: str | None = None
    created_at: datetime
    modified_at: datetime


class ChartList(BaseModel):
    items: list[ChartPublic]
    total: int


class ViewFilters(BaseModel):
    """Filters a dashboard applies across its cards."""

    date_from: date | None = None
    date_to: date | None = None
    district: str | None = None


class ChartData(BaseModel):
    type: ChartType
    columns: list[str]
    rows: list[list[Any]]
    capped: bool = False
    message: str | None = None
    engine: Literal["sql", "rollup"] = "sql"
    sql: str | None = None
    millis: float = 0.0


# --- dashboards -----------------------------------------------------------------------------------


class Card(BaseModel):
    id: str | None = None
    kind: Literal["chart", "indicator", "text"] = "chart"
    chart_id: str | None = None
    indicator: str | None = None
    text: str | None = None
    title: str | None = None
    title_en: str | None = None
    w: int = Field(default=6, ge=1, le=12)
    h: int = Field(default=4, ge=1, le=12)


class DashboardCreate(BaseModel):
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,98}$")
    title: str
    title_en: str | None = None
    description: str | None = None
    description_en: str | None = None
    cards: list[Card] = Field(default_factory=list)
    filters: dict[str, Any] = Field(default_factory=lambda: {"date_range": True, "district": True})
    refresh_seconds: int | None = Field(default=None, ge=10, description="auto-refresh, at least 10 s")
    visibility: Literal["private", "shared", "link", "public"] = "private"


class DashboardUpdate(BaseModel):
    title: str | None = None
    title_en: str | None = None
    description: str | None = None
    description_en: str | None = None
    cards: list[Card] | None = None
    filters: dict[str, Any] | None = None
    refresh_seconds: int | None = Field(default=None, ge=10)
    visibility: Literal["private", "shared", "link", "public"] | None = None


class DashboardPublic(BaseModel):
    id: str
    slug: str
    title: str
    title_en: str | None = None
    description: str | None = None
    description_en: str | None = None
    cards: list[Card]
    filters: dict[str, Any]
    refresh_seconds: int | None = None
    visibility: str
    owner_user_id: str | None = None
    mine: bool = False
    created_at: datetime
    modified_at: datetime


class DashboardList(BaseModel):
    items: list[DashboardPublic]
    total: int


class CardData(BaseModel):
    """One card's data for this viewer: the chart data, or `no_access` when the viewer may not see it."""

    id: str
    kind: str
    title: str | None = None
    title_en: str | None = None
    status: Literal["ok", "no_access", "error"] = "ok"
    message: str | None = None
    chart: ChartData | None = None
    spec: ChartSpec | None = None
    indicator: dict[str, Any] | None = None
