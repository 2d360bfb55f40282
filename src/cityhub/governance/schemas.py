"""Governance schemas: standard terms, code lists, Table Schemas, personal data, quarantine."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

FIELD_TYPES = ("string", "integer", "number", "boolean", "date", "datetime", "year", "yearmonth", "time",
               "geopoint", "geojson", "object", "array", "any")
TREATMENTS = ("mask", "pseudonymise", "drop")


class StandardTermIn(BaseModel):
    name_ko: str = Field(min_length=1, max_length=100)
    name_en: str = Field(min_length=1, max_length=200)
    abbr: str = Field(min_length=1, max_length=60, pattern=r"^[A-Z0-9_]+$")
    domain: str = Field(min_length=1, max_length=60)
    data_type: Literal["VARCHAR", "CHAR", "NUMERIC", "DATE", "DATETIME", "BOOLEAN", "TEXT"]
    length: int | None = Field(default=None, ge=1)
    scale: int | None = Field(default=None, ge=0)
    format: str | None = None
    description: str | None = None
    personal: bool = False


class StandardTermPublic(StandardTermIn):
    model_config = ConfigDict(from_attributes=True)
    id: int
    abbr: str
    data_type: str  # type: ignore[assignment]


class TermList(BaseModel):
    items: list[StandardTermPublic]
    total: int


class FieldTermMatch(BaseModel):
    field: str
    standard: bool
    term: StandardTermPublic | None = None
    suggestions: list[StandardTermPublic] = []
    warning: str | None = None


class CodeEntry(BaseModel):
    code: str = Field(min_length=1, max_length=100)
    label: str
    label_en: str | None = None


class CodeListIn(BaseModel):
    title: str = Field(min_length=1, max_length=300)
    title_en: str | None = None
    codes: list[CodeEntry]


class CodeListPublic(CodeListIn):
    model_config = ConfigDict(from_attributes=True)
    name: str
    updated_at: datetime


class FieldConstraints(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    required: bool | None = None
    unique: bool | None = None
    minimum: float | str | None = None
    maximum: float | str | None = None
    minLength: int | None = Field(default=None, ge=0)  # noqa: N815 — Frictionless spelling
    maxLength: int | None = Field(default=None, ge=0)  # noqa: N815
    pattern: str | None = None
    enum: list[Any] | None = None

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return v


class SchemaField(BaseModel):
    """A Frictionless Table Schema field, plus `unit`, `term` (a standard term) and `codeList`."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    name: str = Field(min_length=1, max_length=200)
    type: str = "string"
    title: str | None = None
    description: str | None = None
    format: str | None = None
    unit: str | None = None
    term: str | None = None
    codeList: str | None = None  # noqa: N815
    constraints: FieldConstraints = FieldConstraints()

    @field_validator("type")
    @classmethod
    def _type(cls, v: str) -> str:
        if v not in FIELD_TYPES:
            raise ValueError(f"must be one of {', '.join(FIELD_TYPES)}")
        return v


class TableSchema(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    fields: list[SchemaField]
    primaryKey: list[str] | str | None = None  # noqa: N815
    missingValues: list[str] | None = None  # noqa: N815

    @model_validator(mode="after")
    def _names(self) -> TableSchema:
        names = [f.name for f in self.fields]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"duplicate field names: {', '.join(dup)}")
        keys = [self.primaryKey] if isinstance(self.primaryKey, str) else (self.primaryKey or [])
        missing = [k for k in keys if k not in names]
        if missing:
            raise ValueError(f"primaryKey names unknown fields: {', '.join(missing)}")
        return self


class DatasetSchemaIn(BaseModel):
    table_schema: TableSchema = Field(alias="schema")
    # extra rule descriptors, e.g. {"type": "compare", "left": "start", "op": "<=", "right": "end"}
    rules: list[dict[str, Any]] = []
    model_config = ConfigDict(populate_by_name=True)


class DatasetSchemaPublic(BaseModel):
    dataset_id: str
    table_schema: dict[str, Any] = Field(serialization_alias="schema")
    rules: list[dict[str, Any]]
    terms: list[FieldTermMatch] = []
    updated_at: datetime | None = None
    model_config = ConfigDict(populate_by_name=True)


class PersonalColumnPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    resource_id: str
    column_name: str
    kinds: list[str]
    matches: int
    example: str | None
    blocking: bool
    treatment: str | None
    treated_at: datetime | None
    detected_at: datetime


class PersonalReport(BaseModel):
    dataset_id: str
    columns: list[PersonalColumnPublic]
    may_be_public: bool
    untreated: list[str]


class TreatmentIn(BaseModel):
    resource_id: str
    column: str
    treatment: Literal["mask", "pseudonymise", "drop"]


class QuarantinePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    dataset_id: str
    resource_id: str | None
    origin: str
    run_id: str | None
    line: int | None
    record: dict[str, Any]
    errors: list[dict[str, Any]]
    status: str
    created_at: datetime
    resolved_at: datetime | None


class QuarantineList(BaseModel):
    items: list[QuarantinePublic]
    total: int


class QuarantineFix(BaseModel):
    record: dict[str, Any] | None = None  # corrected values (merged over the stored record)


class ResubmitResult(BaseModel):
    id: int
    status: str
    errors: list[dict[str, Any]] = []


class RowsIn(BaseModel):
    rows: list[dict[str, Any]] = Field(max_length=10_000)


class RowsResult(BaseModel):
    accepted: int
    quarantined: int
    errors: list[dict[str, Any]] = []
