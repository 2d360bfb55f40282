"""Pydantic shapes of the major-projects tracker."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field, HttpUrl, field_validator, model_validator

CATEGORIES = ("transport", "urban", "port", "environment", "culture", "welfare", "economy", "smart_city", "safety")
STATUSES = ("on_track", "at_risk", "delayed", "completed")
ACCESS = ("public", "internal")


class MilestoneCreate(BaseModel):
    title: str = Field(min_length=1, max_length=300)
    title_en: str | None = Field(default=None, max_length=300)
    planned_start: date
    planned_end: date
    progress: int = Field(default=0, ge=0, le=100)
    completed_on: date | None = None

    @model_validator(mode="after")
    def _order(self) -> MilestoneCreate:
        if self.planned_end < self.planned_start:
            raise ValueError("planned_end: must not be before planned_start")
        return self


class MilestoneUpdate(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=300)
    title_en: str | None = None
    planned_start: date | None = None
    planned_end: date | None = None
    progress: int | None = Field(default=None, ge=0, le=100)
    completed_on: date | None = None


class MilestonePublic(BaseModel):
    id: str
    position: int
    title: str
    title_en: str | None = None
    planned_start: date
    planned_end: date
    progress: int
    completed_on: date | None = None
    overdue_days: int = 0
    state: str = Field(description="done | overdue | in_progress | upcoming")


class ProjectCreate(BaseModel):
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,98}$")
    title: str = Field(min_length=1, max_length=300)
    title_en: str | None = Field(default=None, max_length=300)
    summary: str | None = Field(default=None, max_length=5000)
    summary_en: str | None = Field(default=None, max_length=5000)
    details: str | None = Field(default=None, max_length=20000)
    category: str = "urban"
    department: str = Field(description="responsible department (organization name or id)")
    officer_name: str | None = Field(default=None, max_length=200)
    officer_contact: str | None = Field(default=None, max_length=200)
    budget_krw: int | None = Field(default=None, ge=0)
    start_date: date
    end_date: date
    district: str | None = Field(default=None, description="district (English or Korean name, or code)")
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    access_level: str = "public"
    milestones: list[MilestoneCreate] = Field(default_factory=list, max_length=100)

    @field_validator("category")
    @classmethod
    def _category(cls, v: str) -> str:
        if v not in CATEGORIES:
            raise ValueError(f"must be one of {', '.join(CATEGORIES)}")
        return v

    @field_validator("access_level")
    @classmethod
    def _access(cls, v: str) -> str:
        if v not in ACCESS:
            raise ValueError(f"must be one of {', '.join(ACCESS)}")
        return v

    @model_validator(mode="after")
    def _dates(self) -> ProjectCreate:
        if self.end_date < self.start_date:
            raise ValueError("end_date: must not be before start_date")
        return self


class ProjectUpdate(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=300)
    title_en: str | None = None
    summary: str | None = None
    summary_en: str | None = None
    details: str | None = None
    category: str | None = None
    officer_name: str | None = None
    officer_contact: str | None = None
    budget_krw: int | None = Field(default=None, ge=0)
    start_date: date | None = None
    end_date: date | None = None
    district: str | None = None
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    access_level: str | None = None

    @field_validator("category")
    @classmethod
    def _category(cls, v: str | None) -> str | None:
        if v is not None and v not in CATEGORIES:
            raise ValueError(f"must be one of {', '.join(CATEGORIES)}")
        return v

    @field_validator("access_level")
    @classmethod
    def _access(cls, v: str | None) -> str | None:
        if v is not None and v not in ACCESS:
            raise ValueError(f"must be one of {', '.join(ACCESS)}")
        return v


class DocumentPublic(BaseModel):
    id: str
    name: str
    filename: str
    mimetype: str | None = None
    size: int
    sha256: str
    uploaded_at: datetime
    url: str


class LinkCreate(BaseModel):
    title: str = Field(min_length=1, max_length=300)
    url: HttpUrl
    source: str | None = Field(default=None, max_length=200)
    published_on: date | None = None


class LinkPublic(BaseModel):
    id: str
    title: str
    url: str
    source: str | None = None
    published_on: date | None = None


class ProjectPublic(BaseModel):
    id: str
    slug: str
    title: str
    title_en: str | None = None
    summary: str | None = None
    summary_en: str | None = None
    details: str | None = None
    category: str
    department: str
    department_title: str | None = None
    department_title_en: str | None = None
    officer_name: str | None = None
    officer_contact: str | None = None
    budget_krw: int | None = None
    start_date: date
    end_date: date
    district: str | None = None
    lon: float | None = None
    lat: float | None = None
    access_level: str
    progress: int
    expected_progress: int
    status: str
    created_at: datetime
    updated_at: datetime
    can_edit: bool = False
    milestones: list[MilestonePublic] | None = None
    documents: list[DocumentPublic] | None = None
    links: list[LinkPublic] | None = None


class ProjectList(BaseModel):
    items: list[ProjectPublic]
    total: int


class ProjectSummary(BaseModel):
    """What the board shows: counts by status and the biggest projects' progress."""

    total: int
    by_status: dict[str, int]
    top: list[ProjectPublic]
