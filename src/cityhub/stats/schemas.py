"""What the statistics service accepts and returns."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

Period = Literal["Y", "Q", "M"]
Agg = Literal["count", "sum", "avg", "min", "max"]
Visibility = Literal["private", "shared", "link", "public"]


class KosisIndicatorSpec(BaseModel):
    """An indicator read from a KOSIS source's collected table (standard KOSIS field mapping)."""

    source: str = Field(description="collection source name (connector kosis)")
    item: str = Field(description="ITM_ID of the figure, e.g. T20")
    total_code: str | None = Field(default=None, description="C1 code of the whole city (e.g. 26 for Busan)")


class DatasetIndicatorSpec(BaseModel):
    """An indicator computed from one of the city's own datastore tables."""

    resource_id: str
    time: str = Field(description="date or datetime column")
    value: str | None = Field(default=None, description="column to aggregate (not needed for count)")
    agg: Agg = "count"
    district: str | None = Field(default=None, description="column holding the district name")


class IndicatorCreate(BaseModel):
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,98}$")
    title: str
    title_en: str | None = None
    definition: str | None = None
    definition_en: str | None = None
    topic: str = "population"
    unit: str | None = None
    unit_en: str | None = None
    period: Period = "Y"
    kosis: KosisIndicatorSpec | None = None
    dataset: DatasetIndicatorSpec | None = None


class SourceStatus(BaseModel):
    """Freshness of the system feeding an indicator (no configuration, nothing secret)."""

    status: str
    last_success_at: datetime | None = None
    last_run_at: datetime | None = None
    failure_streak: int = 0
    message: str | None = None


class IndicatorPublic(BaseModel):
    id: str
    slug: str
    title: str
    title_en: str | None = None
    definition: str | None = None
    definition_en: str | None = None
    topic: str
    unit: str | None = None
    unit_en: str | None = None
    period: Period
    source_kind: str
    source_name: str | None = None
    dataset_id: str | None = None
    access_level: str
    values_count: int = 0
    first_period: str | None = None
    last_period: str | None = None
    updated_at: datetime | None = None
    refreshed_at: datetime | None = None
    source_status: SourceStatus | None = None


class IndicatorList(BaseModel):
    items: list[IndicatorPublic]
    total: int


class SeriesPoint(BaseModel):
    period: str
    value: float | None


class DistrictSeries(BaseModel):
    district_code: str
    district: str | None = None
    district_en: str | None = None
    points: list[SeriesPoint]


class IndicatorSeries(BaseModel):
    indicator: str
    unit: str | None = None
    series: list[DistrictSeries]


class DistrictFigure(BaseModel):
    district_code: str
    district: str | None = None
    district_en: str | None = None
    value: float | None = None
    previous: float | None = None
    change: float | None = None
    change_percent: float | None = None


class IndicatorComparison(BaseModel):
    indicator: str
    period: str | None
    previous_period: str | None
    total: DistrictFigure | None = None
    districts: list[DistrictFigure]


class IndicatorPage(BaseModel):
    """Everything an indicator page shows, in one answer."""

    indicator: IndicatorPublic
    series: IndicatorSeries
    comparison: IndicatorComparison
    districts: list[dict[str, str | None]]


class RefreshResult(BaseModel):
    indicator: str
    changed: bool
    values: int
    error: str | None = None


# --- saved queries --------------------------------------------------------------------------------


class QueryParameter(BaseModel):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
    type: Literal["text", "integer", "number", "date"] = "text"
    default: Any = None
    label: str | None = None


class QueryCreate(BaseModel):
    title: str = Field(min_length=1, max_length=300)
    description: str | None = None
    sql: str = Field(min_length=1)
    parameters: list[QueryParameter] = Field(default_factory=list)
    visibility: Literal["private", "shared", "public"] = "private"


class QueryUpdate(BaseModel):
    title: str | None = None
    description: str | None = None
    sql: str | None = None
    parameters: list[QueryParameter] | None = None
    visibility: Literal["private", "shared", "public"] | None = None


class QueryPublic(BaseModel):
    id: str
    title: str
    description: str | None = None
    sql: str
    parameters: list[QueryParameter]
    visibility: str
    owner_user_id: str | None = None
    mine: bool = False
    created_at: datetime
    modified_at: datetime


class QueryList(BaseModel):
    items: list[QueryPublic]
    total: int


class RunRequest(BaseModel):
    sql: str | None = Field(default=None, description="SQL to run (or give query_id)")
    query_id: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    limit: int = Field(default=100, ge=1, le=10_000, description="rows per page")
    offset: int = Field(default=0, ge=0)


class RunResult(BaseModel):
    fields: list[dict[str, str]]
    records: list[dict[str, Any]]
    offset: int
    limit: int
    has_more: bool
    millis: float


class HistoryItem(BaseModel):
    id: int
    sql: str
    params: dict[str, Any]
    rows: int
    millis: float
    error: str | None = None
    ran_at: datetime
    query_id: str | None = None


class TableInfo(BaseModel):
    name: str
    dataset: str
    title: str
    resource: str
    columns: list[dict[str, str]]
