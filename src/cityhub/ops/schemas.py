"""Pydantic shapes of integrated operations: incidents, timelines, agencies, deliveries, grants, directives."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cityhub.ops.lifecycle import SEVERITIES, TYPES


class Location(BaseModel):
    lon: float = Field(description="longitude (WGS84)")
    lat: float = Field(description="latitude (WGS84)")

    @field_validator("lon", "lat")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v


class IncidentCreate(BaseModel):
    type: str = Field(description=f"one of {', '.join(TYPES)}")
    subtype: str | None = None
    severity: str = "medium"
    title: str | None = Field(default=None, max_length=300)
    description: str | None = Field(default=None, max_length=5000)
    location: Location
    address: str | None = Field(default=None, max_length=300)
    source: str | None = Field(default=None, description="agency | sensor | citizen | operator (set by the door)")
    source_ref: str | None = Field(default=None, max_length=200, description="the caller's own id for the event")
    state: str | None = Field(default=None, description="initial state when the agency has already moved on")

    @field_validator("type")
    @classmethod
    def _type(cls, v: str) -> str:
        if v not in TYPES:
            raise ValueError(f"must be one of {', '.join(TYPES)}")
        return v

    @field_validator("severity")
    @classmethod
    def _severity(cls, v: str) -> str:
        if v not in SEVERITIES:
            raise ValueError(f"must be one of {', '.join(SEVERITIES)}")
        return v


class Transition(BaseModel):
    to: str = Field(description="the next state")
    note: str | None = Field(default=None, max_length=2000)


class NoteCreate(BaseModel):
    note: str = Field(min_length=1, max_length=5000)


class TimelineEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    at: datetime
    kind: str
    from_state: str | None = None
    to_state: str | None = None
    actor_id: str | None = None
    actor_label: str | None = None
    note: str | None = None
    detail: dict[str, Any] | None = None


class IncidentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    type: str
    subtype: str | None = None
    lifecycle: str
    state: str
    state_label: list[str] = Field(default_factory=list)
    allowed_transitions: list[str] = Field(default_factory=list)
    severity: str
    source: str
    source_ref: str | None = None
    reporting_agency: str | None = None
    title: str
    description: str | None = None
    location: Location
    address: str | None = None
    district: str | None = None
    duplicate_of: str | None = None
    reports: int = 1
    agencies: list[str] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None = None
    timeline: list[TimelineEntry] | None = None


class IncidentList(BaseModel):
    items: list[IncidentPublic]
    total: int


class AgencyCreate(BaseModel):
    code: str = Field(pattern=r"^[a-z0-9-]{2,50}$")
    kind: str = Field(description="police | fire | disaster | protection")
    name: str
    name_en: str | None = None
    webhook_url: str | None = None
    incident_types: list[str] = Field(default_factory=list)
    scopes: str = "ops.incident.write ops.video ops.linked"

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        if v not in ("police", "fire", "disaster", "protection"):
            raise ValueError("must be police, fire, disaster or protection")
        return v

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v and not v.startswith(("http://", "https://")):
            raise ValueError("an http(s):// URL")
        return v

    @field_validator("incident_types")
    @classmethod
    def _types(cls, v: list[str]) -> list[str]:
        bad = [t for t in v if t not in TYPES]
        if bad:
            raise ValueError(f"unknown incident types: {', '.join(bad)}")
        return v


class AgencyUpdate(BaseModel):
    name: str | None = None
    name_en: str | None = None
    webhook_url: str | None = None
    incident_types: list[str] | None = None
    active: bool | None = None


class AgencyPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    code: str
    kind: str
    name: str
    name_en: str | None = None
    webhook_url: str | None = None
    incident_types: list[str]
    scopes: str
    active: bool
    org_id: str


class AgencyCredentials(BaseModel):
    agency: str
    token: str
    webhook_secret: str
    scopes: str


class DeliveryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    target: str
    incident_id: str | None = None
    event: str
    idempotency_key: str
    endpoint: str | None = None
    status: str
    attempts: int
    created_at: datetime
    delivered_at: datetime | None = None
    next_attempt_at: datetime
    last_error: str | None = None


class DeliveryList(BaseModel):
    items: list[DeliveryPublic]
    total: int


class CameraPublic(BaseModel):
    id: str
    name: str | None = None
    usage: str | None = None
    district: str | None = None
    location: Location
    distance_m: float | None = None


class GrantCreate(BaseModel):
    agency: str = Field(description="agency code the video is shared with")
    reason: str = Field(min_length=3, max_length=1000)
    camera_ids: list[str] | None = Field(default=None, description="default: the nearest cameras")
    radius_m: float = Field(default=500, gt=0, le=5000)
    usage: str | None = None
    limit: int = Field(default=10, ge=1, le=50)
    minutes: int | None = Field(default=None, ge=1)


class GrantLink(BaseModel):
    camera_id: str
    camera_name: str | None = None
    distance_m: float | None = None
    url: str


class GrantPublic(BaseModel):
    id: str
    incident_id: str
    agency: str
    camera_ids: list[str]
    reason: str
    granted_by: str | None = None
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    links: list[GrantLink] = Field(default_factory=list)


class DirectiveCreate(BaseModel):
    title: str = Field(min_length=1, max_length=300)
    body: str | None = None
    incident_id: str | None = None
    project_ref: str | None = Field(default=None, max_length=200)
    department: str = Field(description="organization name or id")
    due_at: datetime


class DirectiveNoteCreate(BaseModel):
    text: str | None = Field(default=None, max_length=5000)
    progress: int | None = Field(default=None, ge=0, le=100)


class DirectivePublic(BaseModel):
    id: str
    title: str
    body: str | None = None
    incident_id: str | None = None
    project_ref: str | None = None
    department: str
    due_at: datetime
    state: str
    progress: int
    overdue: bool
    issued_by: str | None = None
    created_at: datetime
    acknowledged_at: datetime | None = None
    completed_at: datetime | None = None
    notes: list[dict[str, Any]] | None = None


class DirectiveList(BaseModel):
    items: list[DirectivePublic]
    total: int
