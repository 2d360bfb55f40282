"""Catalog tables: datasets (DCAT-AP-minded metadata), their keywords and resources."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cityhub.auth.models import new_id
from cityhub.db import Base, UTCDateTime, utcnow

THEMES = (
    "transport", "environment", "safety", "welfare", "economy", "culture_tourism", "population", "administration",
)


class Dataset(Base):
    __audited__ = True
    __tablename__ = "datasets"
    __table_args__ = (
        Index("ix_datasets_state_access", "state", "access_level"),
        Index("ix_datasets_modified", "modified_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)  # the slug in URLs
    title: Mapped[str] = mapped_column(String(500))
    title_en: Mapped[str | None] = mapped_column(String(500))
    notes: Mapped[str | None] = mapped_column(Text)  # description (Korean or primary language)
    notes_en: Mapped[str | None] = mapped_column(Text)
    theme: Mapped[str | None] = mapped_column(String(40), index=True)
    owner_org_id: Mapped[str | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    access_level: Mapped[str] = mapped_column(String(20), default="public")  # public | internal | restricted
    state: Mapped[str] = mapped_column(String(20), default="active")  # active | draft | deleted
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(320))
    license_id: Mapped[str | None] = mapped_column(String(100), index=True)
    update_frequency: Mapped[str | None] = mapped_column(String(40))  # daily, weekly, monthly, ... (DCAT freq)
    spatial: Mapped[str | None] = mapped_column(Text)  # place name, district code(s) or GeoJSON
    temporal_start: Mapped[date | None] = mapped_column(Date)
    temporal_end: Mapped[date | None] = mapped_column(Date)
    url: Mapped[str | None] = mapped_column(String(1000))
    version: Mapped[str | None] = mapped_column(String(100))
    author: Mapped[str | None] = mapped_column(String(200))
    author_email: Mapped[str | None] = mapped_column(String(320))
    maintainer: Mapped[str | None] = mapped_column(String(200))
    maintainer_email: Mapped[str | None] = mapped_column(String(320))
    extras: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)  # demo data says so
    view_count: Mapped[int] = mapped_column(Integer, default=0)
    creator_user_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DatasetKeyword(Base):
    __tablename__ = "dataset_keywords"

    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True)
    keyword: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)


class Resource(Base):
    __audited__ = True
    __tablename__ = "resources"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    format: Mapped[str | None] = mapped_column(String(40), index=True)  # CSV, XLSX, JSON, GeoJSON, PNG, PDF, ...
    mimetype: Mapped[str | None] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(String(2000))
    url_type: Mapped[str | None] = mapped_column(String(20))  # "upload" or None for links
    file_path: Mapped[str | None] = mapped_column(String(500))  # relative to data_dir/files (content-addressed)
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(20), default="active")
    datastore_active: Mapped[bool] = mapped_column(Boolean, default=False)
    datastore_table: Mapped[str | None] = mapped_column(String(100))
    row_count: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
