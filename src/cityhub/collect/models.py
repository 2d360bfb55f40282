"""Collection tables: sources, their runs, the raw landing zone index and the quarantine."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cityhub.auth.models import new_id
from cityhub.db import Base, UTCDateTime, utcnow


class Source(Base):
    """A system the city collects from, its connector config, schedule and incremental state."""

    __tablename__ = "collect_sources"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    connector: Mapped[str] = mapped_column(String(60))
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # [{name, path, type, required}] and the key field names the upsert matches on.
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    key: Mapped[list[str]] = mapped_column(JSON, default=list)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    resource_id: Mapped[str | None] = mapped_column(String(36))
    owner_org_id: Mapped[str | None] = mapped_column(String(36), index=True)
    schedule_kind: Mapped[str] = mapped_column(String(20), default="none")  # none | interval | cron
    schedule_expr: Mapped[str | None] = mapped_column(String(100))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    update_frequency: Mapped[str | None] = mapped_column(String(40))
    max_concurrency: Mapped[int] = mapped_column(Integer, default=1)
    timeout_seconds: Mapped[float] = mapped_column(Float, default=30.0)  # one request
    run_timeout_seconds: Mapped[float] = mapped_column(Float, default=3600.0)  # a whole run
    max_retries: Mapped[int] = mapped_column(Integer, default=3)
    # Incremental state committed with each page: watermark (e.g. last metadata_modified) and friends.
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failure_streak: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    creator_user_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Run(Base):
    """One collection run: what was asked, what came back, what changed, and how it ended."""

    __tablename__ = "collect_runs"
    __table_args__ = (Index("ix_collect_runs_source_started", "source_id", "started_at"),
                      Index("ix_collect_runs_status", "status"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    source_id: Mapped[str] = mapped_column(ForeignKey("collect_sources.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default="running")  # running|succeeded|failed|interrupted
    trigger: Mapped[str] = mapped_column(String(20), default="manual")  # manual|schedule|cli|resume|replay
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    worker: Mapped[str | None] = mapped_column(String(200))  # host:pid, to notice a dead run after kill -9
    requests: Mapped[int] = mapped_column(Integer, default=0)
    rows_received: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_inserted: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_updated: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_unchanged: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_quarantined: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    upstream_message: Mapped[str | None] = mapped_column(Text)
    # The connector's reason code (e.g. run_timeout: the next run resumes from this run's cursor).
    error_code: Mapped[str | None] = mapped_column(String(40))
    # MQTT: messages the broker reported dropping while we were subscribed ($SYS counters; broker-wide),
    # and messages missing by the payloads' own sequence numbers. None: not observed.
    broker_dropped: Mapped[int | None] = mapped_column(BigInteger)
    messages_missing: Mapped[int | None] = mapped_column(BigInteger)
    # Where the next page starts; a resumed run continues from here.
    cursor: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    resumed_from: Mapped[str | None] = mapped_column(String(36))


class RawPayload(Base):
    """Index of the raw landing zone: the exact bytes received live in files named by their SHA-256."""

    __tablename__ = "collect_raw_payloads"
    __table_args__ = (Index("ix_collect_raw_payloads_run_seq", "run_id", "seq"),
                      Index("ix_collect_raw_payloads_source", "source_id", "id"))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("collect_sources.id", ondelete="CASCADE"))
    run_id: Mapped[str] = mapped_column(String(36))
    seq: Mapped[int] = mapped_column(Integer, default=0)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    request: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # method, url (key redacted), status
    content_type: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(20), default="ok")  # ok | error (kept for forensics)


class QuarantinedRow(Base):
    """A row that failed mapping or validation, kept with the reason instead of being dropped."""

    __tablename__ = "collect_quarantine"
    __table_args__ = (Index("ix_collect_quarantine_run", "run_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("collect_sources.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[str] = mapped_column(String(36))
    raw_id: Mapped[int | None] = mapped_column(BigInteger)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text)
    field: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
