"""Catalog schemas: datasets (DCAT-AP-minded), resources, search queries and results."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from cityhub.catalog.models import THEMES

SLUG_RE = re.compile(r"^[a-z0-9_-]{2,100}$")
ACCESS_LEVELS = ("public", "internal", "restricted")
FREQUENCIES = ("realtime", "hourly", "daily", "weekly", "monthly", "quarterly", "yearly", "irregular", "never")
TABULAR_FORMATS = frozenset({"CSV", "TSV", "XLSX", "JSON", "GEOJSON"})


# Fields whose values come from a fixed list (states a client may set: drafts and active ones).
ALLOWED: dict[str, tuple[str, ...]] = {
    "theme": THEMES, "access_level": ACCESS_LEVELS, "update_frequency": FREQUENCIES, "state": ("active", "draft"),
}


class DatasetFields(BaseModel):
    """Fields shared by create and update; on update every field is optional."""

    title: str | None = Field(default=None, max_length=500)
    title_en: str | None = Field(default=None, max_length=500)
    notes: str | None = None
    notes_en: str | None = None
    keywords: list[str] | None = None
    theme: str | None = None
    owner_org: str | None = Field(default=None, description="publisher organization: name or id")
    access_level: str | None = None
    contact_name: str | None = None
    contact_email: str | None = None
    license_id: str | None = None
    update_frequency: str | None = None
    spatial: str | None = None
    temporal_start: date | None = None
    temporal_end: date | None = None
    url: str | None = None
    version: str | None = None
    author: str | None = None
    author_email: str | None = None
    maintainer: str | None = None
    maintainer_email: str | None = None
    extras: dict[str, Any] | None = None
    state: str | None = None
    synthetic: bool | None = None

    @field_validator("theme", "access_level", "update_frequency", "state")
    @classmethod
    def _one_of(cls, v: str | None, info: ValidationInfo) -> str | None:
        allowed = ALLOWED[info.field_name]
        if v is not None and v not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return v

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        cleaned = []
        for word in v:
            word = word.strip()
            if not word:
                continue
            if len(word) > 100:
                raise ValueError(f"keyword too long: {word[:20]}…")
            if word not in cleaned:
                cleaned.append(word)
        return cleaned


class DatasetCreate(DatasetFields):
    name: str = Field(description="URL slug: 2–100 lowercase letters, digits, - or _")
    title: str = Field(min_length=1, max_length=500)
    owner_org: str
    access_level: str = "public"

    @field_validator("name")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not SLUG_RE.match(v):
            raise ValueError("must be 2–100 lowercase letters, digits, - or _")
        return v


class DatasetUpdate(DatasetFields):
    pass


class OrganizationSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    title: str
    title_en: str | None = None
    description: str | None = None
    kind: str
    image_url: str | None = None


class ResourceCreate(BaseModel):
    name: str | None = Field(default=None, max_length=500)
    description: str | None = None
    format: str | None = None
    url: str | None = Field(default=None, max_length=2000)
    mimetype: str | None = None


class ResourceUpdate(ResourceCreate):
    pass


class ResourcePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    dataset_id: str
    name: str
    description: str | None = None
    format: str | None = None
    mimetype: str | None = None
    url: str | None = None
    url_type: str | None = None
    size: int | None = None
    sha256: str | None = None
    position: int
    state: str
    datastore_active: bool
    row_count: int | None = None
    created_at: datetime
    modified_at: datetime
    download_url: str | None = None


class DatasetPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    title: str
    title_en: str | None = None
    notes: str | None = None
    notes_en: str | None = None
    keywords: list[str] = []
    theme: str | None = None
    organization: OrganizationSummary | None = None
    access_level: str
    state: str
    contact_name: str | None = None
    contact_email: str | None = None
    license_id: str | None = None
    update_frequency: str | None = None
    spatial: str | None = None
    temporal_start: date | None = None
    temporal_end: date | None = None
    url: str | None = None
    version: str | None = None
    author: str | None = None
    author_email: str | None = None
    maintainer: str | None = None
    maintainer_email: str | None = None
    extras: dict[str, Any] = {}
    synthetic: bool = False
    view_count: int = 0
    creator_user_id: str | None = None
    created_at: datetime
    modified_at: datetime
    resources: list[ResourcePublic] = []


class DatasetList(BaseModel):
    items: list[DatasetPublic]
    total: int


FACET_FIELDS = ("organization", "theme", "keywords", "format", "license_id", "access_level")
SORTS = ("relevance", "modified", "-modified", "name", "-name", "created", "-created", "views", "title",
         "id", "-id", "quality", "-quality")


class DatasetSearch(BaseModel):
    q: str | None = None
    # field -> accepted values (OR within a field, AND across fields); fields from FACET_FIELDS
    filters: dict[str, list[str]] = {}
    # field -> excluded values
    exclude: dict[str, list[str]] = {}
    modified_since: datetime | None = None
    modified_until: datetime | None = None
    sort: str = "relevance"
    limit: int = Field(default=20, ge=0, le=1000)
    offset: int = Field(default=0, ge=0)
    facets: bool = True
    facet_fields: list[str] = list(FACET_FIELDS)
    facet_limit: int = 50
    include_private: bool = True
    include_drafts: bool = False
    full: bool = True  # resources included in each item

    @field_validator("sort")
    @classmethod
    def _sort(cls, v: str) -> str:
        if v not in SORTS:
            raise ValueError(f"must be one of {', '.join(SORTS)}")
        return v

    @field_validator("filters", "exclude")
    @classmethod
    def _fields(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for key in v:
            if key not in FACET_FIELDS and key not in ("name", "id"):
                raise ValueError(f"cannot filter on {key!r}; use one of {', '.join(FACET_FIELDS)}")
        return v


class DatasetSearchResult(BaseModel):
    items: list[DatasetPublic]
    total: int
    facets: dict[str, dict[str, int]] = {}
