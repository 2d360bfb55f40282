"""Pydantic shapes of the collection domain: sources, runs, health, quarantine, connectors."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from cityhub.collect.mapping import FieldSpec

ScheduleKind = Literal["none", "interval", "cron"]
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{1,99}$")


class SourceFields(BaseModel):
    title: str | None = Field(default=None, max_length=500)
    config: dict[str, Any] | None = None
    fields: list[FieldSpec] | None = None
    key: list[str] | None = None
    schedule_kind: ScheduleKind | None = None
    schedule_expr: str | None = Field(default=None, description="seconds for interval; crontab for cron")
    enabled: bool | None = None
    update_frequency: str | None = Field(default=None, description="daily, hourly, monthly, ... (freshness)")
    max_concurrency: int | None = Field(default=None, ge=1, le=16)
    timeout_seconds: float | None = Field(default=None, gt=0, le=3600, description="seconds one request may take")
    run_timeout_seconds: float | None = Field(default=None, gt=0, le=7 * 86400,
                                              description="seconds a whole run may take; then it ends failed")
    max_retries: int | None = Field(default=None, ge=0, le=10)


class SourceCreate(SourceFields):
    name: str = Field(description="slug: lowercase letters, digits, - or _")
    title: str = Field(min_length=1, max_length=500)
    connector: str
    dataset: str = Field(description="target dataset: name or id")
    resource_name: str | None = None
    config: dict[str, Any] = {}
    fields: list[FieldSpec] = []
    key: list[str] = []
    schedule_kind: ScheduleKind = "none"
    enabled: bool = True

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError("2–100 lowercase letters, digits, - or _")
        return value

    @model_validator(mode="after")
    def _key_in_fields(self) -> SourceCreate:
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate field names: {sorted({n for n in names if names.count(n) > 1})}")
        missing = [k for k in self.key if self.fields and k not in names]
        if missing:
            raise ValueError(f"key fields not among the fields: {missing}")
        return self


class SourceUpdate(SourceFields):
    pass


class SourceHealth(BaseModel):
    status: Literal["ok", "stale", "failing", "never_run", "disabled"]
    last_run_at: datetime | None = None
    last_success_at: datetime | None = None
    failure_streak: int = 0
    fresh: bool | None = None
    age_seconds: float | None = None
    expected_every_seconds: float | None = None
    last_error: str | None = None


class SourcePublic(BaseModel):
    id: str
    name: str
    title: str
    connector: str
    config: dict[str, Any]
    fields: list[FieldSpec]
    key: list[str]
    dataset_id: str
    resource_id: str | None
    schedule_kind: str
    schedule_expr: str | None
    enabled: bool
    update_frequency: str | None
    max_concurrency: int
    timeout_seconds: float
    run_timeout_seconds: float
    max_retries: int
    state: dict[str, Any]
    health: SourceHealth
    created_at: datetime
    modified_at: datetime


class SourceList(BaseModel):
    items: list[SourcePublic]
    total: int


class RunPublic(BaseModel):
    id: str
    source_id: str
    source_name: str | None = None
    status: str
    trigger: str
    started_at: datetime
    ended_at: datetime | None
    requests: int
    rows_received: int
    rows_inserted: int
    rows_updated: int
    rows_unchanged: int
    rows_quarantined: int
    bytes: int
    error: str | None
    upstream_message: str | None
    cursor: dict[str, Any] | None
    resumed_from: str | None
    error_code: str | None = None
    broker_dropped: int | None = Field(default=None, description="messages the MQTT broker reported dropping "
                                       "while the run was subscribed (broker-wide $SYS counter)")
    messages_missing: int | None = Field(default=None, description="messages missing by the payloads' "
                                         "sequence numbers")


class RunList(BaseModel):
    items: list[RunPublic]
    total: int


class QuarantinedRowPublic(BaseModel):
    id: int
    run_id: str
    record: dict[str, Any]
    reason: str
    field: str | None
    created_at: datetime


class QuarantineList(BaseModel):
    items: list[QuarantinedRowPublic]
    total: int


class RawPayloadPublic(BaseModel):
    id: int
    run_id: str
    seq: int
    sha256: str
    size: int
    received_at: datetime
    request: dict[str, Any]
    content_type: str | None
    outcome: str


class ConnectorInfo(BaseModel):
    name: str
    title: str
    title_ko: str
    sink: str
    config_schema: dict[str, Any]


class RunRequest(BaseModel):
    wait: bool = Field(default=True, description="run in the request (true) or in the background")
