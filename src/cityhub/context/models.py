"""Tables of the real-time context: entities, observations and rollups, subscriptions, their outbox.

Entities keep their NGSI-LD attributes as one JSON document plus a few extracted columns
(type, district, a representative point and a bounding box) so queries by type, place and district
use plain B-tree indexes on both SQLite and PostgreSQL (no PostGIS assumed).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Boolean, Float, Index, Integer, String, Text, cast, literal_column
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from cityhub.db import Base, UTCDateTime, utcnow
from cityhub.outbox import OutboxColumns


class JSONDoc(TypeDecorator):
    """JSON stored as text on SQLite (serialised with orjson, fast) and as JSONB on PostgreSQL."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect):  # noqa: ANN001, ANN201
        if dialect.name == "postgresql":
            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: Any, dialect):  # noqa: ANN001, ANN201
        if value is None or dialect.name == "postgresql":
            return value
        return orjson.dumps(value).decode()

    def process_result_value(self, value: Any, dialect):  # noqa: ANN001, ANN201
        if value is None or dialect.name == "postgresql" or not isinstance(value, str):
            return value
        return orjson.loads(value)


class ContextEntity(Base):
    __tablename__ = "ctx_entities"

    id: Mapped[str] = mapped_column(String(512), primary_key=True)
    type: Mapped[str] = mapped_column(String(256))
    # Normalized NGSI-LD attributes (everything but id/type/@context/system attributes).
    attrs: Mapped[dict] = mapped_column(JSONDoc)
    district: Mapped[str | None] = mapped_column(String(64))
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    min_lon: Mapped[float | None] = mapped_column(Float)
    min_lat: Mapped[float | None] = mapped_column(Float)
    max_lon: Mapped[float | None] = mapped_column(Float)
    max_lat: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    __table_args__ = (
        Index("ix_ctx_entities_type_district", "type", "district"),
        Index("ix_ctx_entities_type_id", "type", "id"),  # pages of a type come in id order
        Index("ix_ctx_entities_bbox", "min_lat", "max_lat", "min_lon", "max_lon"),
    )


# Geo narrowing: 0.01° latitude bands (≈1.1 km), then longitude, with the extent columns in the index so
# the bounding-box test needs no table row (SQLite answers it from the index alone). Queries must spell
# the band exactly as `lat_band()` does for the database to use this expression index.
def lat_band(lat: Any) -> Any:
    return cast(lat * literal_column("100"), Integer)


Index("ix_ctx_entities_type_band_lon", ContextEntity.type, lat_band(ContextEntity.lat), ContextEntity.lon,
      ContextEntity.lat, ContextEntity.min_lat, ContextEntity.max_lat, ContextEntity.min_lon, ContextEntity.max_lon)


class Observation(Base):
    """One observed value of one attribute: the narrow history table behind /temporal."""

    __tablename__ = "ctx_observations"

    entity_id: Mapped[str] = mapped_column(String(512), primary_key=True)
    attr: Mapped[str] = mapped_column(String(256), primary_key=True)
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    value_num: Mapped[float | None] = mapped_column(Float)
    # Non-numeric values (strings, booleans, objects) are kept as JSON and not rolled up.
    value_json: Mapped[Any] = mapped_column(JSONDoc, nullable=True)
    entity_type: Mapped[str] = mapped_column(String(256))

    __table_args__ = (Index("ix_ctx_observations_type_time", "entity_type", "observed_at"),)


class Rollup(Base):
    """count/sum/min/max of an attribute per minute ('m'), hour ('h') or day ('d'), kept on write."""

    __tablename__ = "ctx_rollups"

    entity_id: Mapped[str] = mapped_column(String(512), primary_key=True)
    attr: Mapped[str] = mapped_column(String(256), primary_key=True)
    grain: Mapped[str] = mapped_column(String(1), primary_key=True)
    bucket: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    sum: Mapped[float] = mapped_column(Float)
    min: Mapped[float] = mapped_column(Float)
    max: Mapped[float] = mapped_column(Float)
    entity_type: Mapped[str] = mapped_column(String(256))

    # clustered on its key on SQLite (migration context_0005): an upsert is one B-tree probe, not two
    __table_args__ = (Index("ix_ctx_rollups_type_grain_bucket", "entity_type", "grain", "bucket"),
                      {"sqlite_with_rowid": False})


class PendingHistory(Base):
    """A batch's observations, acknowledged with the entity state but not yet expanded (write-behind).

    The request commits this one row beside the entities; `history.settle` (a background writer, and
    every history reader first) moves it into observations and rollups and deletes it in one transaction."""

    __tablename__ = "ctx_history_pending"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # JSON array of [entity_id, attr, observed_at (naive UTC text), value_num, value_json, entity_type]
    readings: Mapped[str] = mapped_column(Text)
    count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RetentionPolicy(Base):
    """How long history of one entity type is kept: raw values N days, rollups longer."""

    __tablename__ = "ctx_retention"

    entity_type: Mapped[str] = mapped_column(String(256), primary_key=True)
    raw_days: Mapped[int] = mapped_column(Integer)
    rollup_days: Mapped[int] = mapped_column(Integer)


class Subscription(Base):
    __tablename__ = "ctx_subscriptions"

    id: Mapped[str] = mapped_column(String(512), primary_key=True)
    body: Mapped[dict] = mapped_column(JSONDoc)  # the NGSI-LD subscription as given (normalized)
    owner_id: Mapped[str | None] = mapped_column(String(64))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    throttling: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_notification: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failure: Mapped[datetime | None] = mapped_column(UTCDateTime)
    times_sent: Mapped[int] = mapped_column(Integer, default=0)
    failure_count: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class NotificationOutbox(OutboxColumns, Base):
    """A notification promised to a subscriber, written in the same transaction as the change."""

    __tablename__ = "ctx_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscription_id: Mapped[str] = mapped_column(String(512), index=True)
    endpoint: Mapped[str] = mapped_column(Text)
    accept: Mapped[str] = mapped_column(String(64), default="application/json")
    payload: Mapped[dict] = mapped_column(JSONDoc)
    # delivery state (status pending | done | failed, attempts, lease, …) from OutboxColumns

    __table_args__ = (Index("ix_ctx_outbox_status_next", "status", "next_attempt_at"),)


class ThresholdRuleRow(Base):
    """A threshold rule kept as data (stewards edit it; the Korean defaults are seeded by the migration).

    `lines` is a list of [line, severity] from mildest to most severe; `line_attrs` names entity attributes
    that override a line per entity (a river gauge's own warningLevel/alarmLevel)."""

    __tablename__ = "ctx_threshold_rules"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(256))
    attr: Mapped[str] = mapped_column(String(256))
    direction: Mapped[str] = mapped_column(String(8))  # above | below
    lines: Mapped[list] = mapped_column(JSONDoc)
    hysteresis: Mapped[float] = mapped_column(Float, default=0.0)
    category: Mapped[str] = mapped_column(String(64))
    sub_category: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    line_attrs: Mapped[list] = mapped_column(JSONDoc, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
