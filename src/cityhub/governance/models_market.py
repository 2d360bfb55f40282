"""Governance tables for dataset versions, access requests (the data market) and usage metering."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cityhub.db import Base, UTCDateTime, utcnow
from cityhub.outbox import OutboxColumns


class DatasetVersion(Base):
    """One state of a dataset: its metadata, a manifest of its resources' rows, and the diff to the
    version before. Row snapshots are content-addressed files, so unchanged tables cost nothing."""

    __tablename__ = "gov_dataset_versions"
    __table_args__ = (UniqueConstraint("dataset_id", "number"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    dataset_id: Mapped[str] = mapped_column(String(36), index=True)
    number: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(20))  # created | metadata | rows | rollback
    actor_user_id: Mapped[str | None] = mapped_column(String(36))
    # the DatasetUpdate fields as they were
    meta: Mapped[dict[str, Any]] = mapped_column(JSON)
    # [{"resource_id", "name", "sha256", "row_count", "snapshot": sha | null, "columns": [...]}]
    resources: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # {"rows_added", "rows_changed", "rows_removed", "metadata_changed": [...], "resources_added": [...], ...}
    diff: Mapped[dict[str, Any]] = mapped_column(JSON)
    restored_from: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when the retention rule removed this version's in-engine row copies: the version stays listed
    # with its diff summary but can no longer be restored or downloaded.
    pruned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class VersionRetention(Base):
    """A dataset's own retention rule for its versions' big-table copies (the city default otherwise):
    a copy is kept while its version is among the last `keep_copies` versions holding copies or younger
    than `keep_days` days."""

    __audited__ = True
    __tablename__ = "gov_version_retention"

    dataset_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    keep_copies: Mapped[int] = mapped_column(Integer)
    keep_days: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[str | None] = mapped_column(String(36))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class VersionOutbox(OutboxColumns, Base):
    """A dataset whose change still needs its version recorded: written in the changing transaction
    (so a version is never lost across kill -9) and worked off in the background by the shared outbox
    engine, so imports do not wait for the snapshot and diff."""

    __tablename__ = "gov_version_outbox"
    __table_args__ = (Index("ix_gov_version_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    dataset_id: Mapped[str] = mapped_column(String(36), index=True)
    last_error: Mapped[str | None] = mapped_column(String(2000))  # narrower than the shared Text
    # What the change was, taken in its own transaction: the metadata as committed and, per resource,
    # an in-engine copy of the rows it left (so a later change never leaks into this one's version).
    capture: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class AccessRequest(Base):
    """A company's or researcher's request to use an internal or restricted dataset."""

    __audited__ = True
    __tablename__ = "gov_access_requests"
    __table_args__ = (Index("ix_gov_access_requests_dataset", "dataset_id", "status"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    dataset_id: Mapped[str] = mapped_column(String(36))
    owner_org_id: Mapped[str | None] = mapped_column(String(36), index=True)
    requester_user_id: Mapped[str] = mapped_column(String(36), index=True)
    organization: Mapped[str | None] = mapped_column(String(300))  # the company or institute, as stated
    purpose: Mapped[str] = mapped_column(Text)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    license_id: Mapped[str | None] = mapped_column(String(100))
    terms_version: Mapped[str] = mapped_column(String(40))  # the terms the requester accepted
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | approved | refused
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(36))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    grant_id: Mapped[str | None] = mapped_column(String(36))
    token_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UsageMeter(Base):
    """Requests, rows and bytes one consumer drew from one dataset on one day (upserted counters)."""

    __tablename__ = "gov_usage"
    __table_args__ = (UniqueConstraint("user_id", "dataset_id", "day"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(36), index=True)
    dataset_id: Mapped[str] = mapped_column(String(36), index=True)
    day: Mapped[date] = mapped_column(Date)
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    rows: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
