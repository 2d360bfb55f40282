from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cityhub.ctx import ROLES

NAME_RE = re.compile(r"^[a-z0-9_-]{2,100}$")
ORG_KINDS = ("department", "district", "public_body", "company", "research")


class OrganizationCreate(BaseModel):
    name: str = Field(description="URL name: 2–100 lowercase letters, digits, - or _")
    title: str = Field(min_length=1, max_length=300)
    title_en: str | None = None
    description: str | None = None
    kind: str = "department"
    image_url: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME_RE.match(v):
            raise ValueError("must be 2–100 lowercase letters, digits, - or _")
        return v

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        if v not in ORG_KINDS:
            raise ValueError(f"must be one of {', '.join(ORG_KINDS)}")
        return v


class OrganizationUpdate(BaseModel):
    title: str | None = None
    title_en: str | None = None
    description: str | None = None
    kind: str | None = None
    image_url: str | None = None


class OrganizationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    title: str
    title_en: str | None = None
    description: str | None = None
    kind: str
    image_url: str | None = None
    created_at: datetime
    package_count: int | None = None


class OrganizationList(BaseModel):
    items: list[OrganizationPublic]
    total: int


class UserCreate(BaseModel):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    name: str | None = None
    role: str = "citizen"
    password: str | None = Field(default=None, min_length=8)
    org: str | None = Field(default=None, description="organization name to join")
    capacity: str = "member"

    @field_validator("role")
    @classmethod
    def _role(cls, v: str) -> str:
        if v not in ROLES:
            raise ValueError(f"must be one of {', '.join(ROLES)}")
        return v


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    email: str
    name: str | None = None
    role: str
    is_active: bool
    created_at: datetime
    organizations: list[str] = []


class TokenCreated(BaseModel):
    id: str
    token: str = Field(description="shown once; only its hash is kept")
    name: str
    expires_at: datetime | None = None


class LoginRequest(BaseModel):
    email: str
    password: str
