"""Governance tables. The audit log is append-only: the database itself refuses UPDATE and DELETE."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cityhub.db import Base, UTCDateTime, utcnow


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_actor", "actor_user_id", "at"),
        Index("ix_audit_log_resource", "resource_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_user_id: Mapped[str | None] = mapped_column(String(36))
    actor_email: Mapped[str | None] = mapped_column(String(320))
    actor_role: Mapped[str | None] = mapped_column(String(20))
    token_id: Mapped[str | None] = mapped_column(String(36))
    action: Mapped[str] = mapped_column(String(80), index=True)  # dataset.read, write.insert, login, token.use ...
    resource_kind: Mapped[str | None] = mapped_column(String(60))
    resource_id: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(20))  # allowed | denied | failed
    ip: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


# --- standards ---------------------------------------------------------------------------------------


class StandardTerm(Base):
    """A city standard term modelled on 공통표준용어: a column name every dataset should reuse."""

    __audited__ = True
    __tablename__ = "gov_standard_terms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name_ko: Mapped[str] = mapped_column(String(100), unique=True)
    name_en: Mapped[str] = mapped_column(String(200))
    abbr: Mapped[str] = mapped_column(String(60), index=True)  # English abbreviation, e.g. ADDR, TELNO
    domain: Mapped[str] = mapped_column(String(60))  # standard domain name, e.g. 주소V200
    data_type: Mapped[str] = mapped_column(String(20))  # VARCHAR, NUMERIC, DATE, ...
    length: Mapped[int | None] = mapped_column(Integer)
    scale: Mapped[int | None] = mapped_column(Integer)
    format: Mapped[str | None] = mapped_column(String(100))  # e.g. YYYY-MM-DD, 999-9999-9999
    description: Mapped[str | None] = mapped_column(Text)
    personal: Mapped[bool] = mapped_column(Boolean, default=False)  # a term naming personal data
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CodeList(Base):
    """A list of allowed codes (e.g. Busan's district codes) that schema fields may refer to."""

    __audited__ = True
    __tablename__ = "gov_code_lists"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    title_en: Mapped[str | None] = mapped_column(String(300))
    # [{"code": "26110", "label": "중구", "label_en": "Jung-gu"}]
    codes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DatasetSchema(Base):
    """A dataset's Frictionless Table Schema (fields with types, constraints, units, terms, code lists)
    plus extra rule descriptors (cross-field checks) that every write path validates against."""

    __audited__ = True
    __tablename__ = "gov_dataset_schemas"

    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True)
    table_schema: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    updated_by: Mapped[str | None] = mapped_column(String(36))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- personal data -----------------------------------------------------------------------------------


class PersonalColumn(Base):
    """Personal data found in one column of one resource, and what was done about it."""

    __audited__ = True
    __tablename__ = "gov_personal_columns"
    __table_args__ = (UniqueConstraint("resource_id", "column_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset_id: Mapped[str] = mapped_column(String(36), index=True)
    resource_id: Mapped[str] = mapped_column(String(36), index=True)
    column_name: Mapped[str] = mapped_column(String(200))
    kinds: Mapped[list[str]] = mapped_column(JSON, default=list)  # rrn, phone, email, card, address, name
    matches: Mapped[int] = mapped_column(BigInteger, default=0)
    example: Mapped[str | None] = mapped_column(String(300))  # always masked
    blocking: Mapped[bool] = mapped_column(Boolean, default=True)  # keeps the dataset from going public
    treatment: Mapped[str | None] = mapped_column(String(20))  # mask | pseudonymise | drop
    treated_by: Mapped[str | None] = mapped_column(String(36))
    treated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- quarantine --------------------------------------------------------------------------------------


class QuarantinedRecord(Base):
    """A row that broke its dataset's schema on some write path, kept with each rule and value."""

    __tablename__ = "gov_quarantine"
    __table_args__ = (Index("ix_gov_quarantine_dataset", "dataset_id", "status", "id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    dataset_id: Mapped[str] = mapped_column(String(36))
    resource_id: Mapped[str | None] = mapped_column(String(36), index=True)
    origin: Mapped[str] = mapped_column(String(20))  # upload | collect | api | ngsi-ld
    run_id: Mapped[str | None] = mapped_column(String(36))
    line: Mapped[int | None] = mapped_column(BigInteger)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    # [{"rule": "maximum", "field": "pm10", "value": "2000", "message": "…"}]
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | resubmitted | discarded
    resolved_by: Mapped[str | None] = mapped_column(String(36))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- quality -----------------------------------------------------------------------------------------


class QualityCounters(Base):
    """Running counts per resource, updated from each write's own rows: scores never rescan a table."""

    __tablename__ = "gov_quality_counters"

    resource_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    dataset_id: Mapped[str] = mapped_column(String(36), index=True)
    rows: Mapped[int] = mapped_column(BigInteger, default=0)  # accepted rows stored
    checked_rows: Mapped[int] = mapped_column(BigInteger, default=0)  # accepted + refused
    cells: Mapped[int] = mapped_column(BigInteger, default=0)
    missing_cells: Mapped[int] = mapped_column(BigInteger, default=0)
    invalid_rows: Mapped[int] = mapped_column(BigInteger, default=0)
    inconsistent_rows: Mapped[int] = mapped_column(BigInteger, default=0)  # cross-field and code-list rules
    duplicate_rows: Mapped[int] = mapped_column(BigInteger, default=0)
    has_rules: Mapped[bool] = mapped_column(Boolean, default=False)
    last_write_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class QualityScore(Base):
    """A dataset's quality score at one moment (current=True for the latest); history over time."""

    __tablename__ = "gov_quality_scores"
    __table_args__ = (Index("ix_gov_quality_scores_dataset", "dataset_id", "computed_at"),
                      Index("ix_gov_quality_scores_current", "current", "total"))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    dataset_id: Mapped[str] = mapped_column(String(36))
    owner_org_id: Mapped[str | None] = mapped_column(String(36), index=True)
    access_level: Mapped[str] = mapped_column(String(20), default="public")  # for visibility filters
    run_id: Mapped[str | None] = mapped_column(String(36))
    trigger: Mapped[str] = mapped_column(String(20))  # upload | collect | api | metadata
    total: Mapped[float] = mapped_column(Float)
    dimensions: Mapped[dict[str, Any]] = mapped_column(JSON)
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
