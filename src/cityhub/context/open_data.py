"""Sensor history in a form the SQL sandbox and charts can read: hourly figures per station.

The temporal API serves history per entity; analyses need it as a table to join with other datasets
(air quality against traffic by district and hour). The hourly rollups, maintained on write, already hold
count, sum, min and max per entity, attribute and hour, so publishing them costs no scan of raw values.
Only numeric attributes of the observation types are published: cameras, devices and alerts have no series.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityhub.context.models import ContextEntity, Rollup

SERIES_TYPES = ("AirQualityObserved", "TrafficFlowObserved", "WaterQualityObserved", "WaterLevelObserved",
                "NoiseLevelObserved", "RainfallObserved")
HOURLY_FIELDS: list[tuple[str, str]] = [
    ("entity_id", "text"), ("entity_type", "text"), ("district", "text"), ("attribute", "text"),
    ("hour", "datetime"), ("average", "number"), ("minimum", "number"), ("maximum", "number"),
    ("readings", "integer"),
]
HOURLY_KEY = ["entity_id", "attribute", "hour"]


def hourly_rows(db: Session, *, since: datetime | None, limit: int = 20_000) -> list[dict[str, Any]]:
    """Hourly figures of buckets starting at or after `since` (the open hour is re-sent until it closes),
    oldest first, at most `limit`."""
    r, e = Rollup.__table__.c, ContextEntity.__table__.c
    query = (select(r.entity_id, r.entity_type, e.district, r.attr, r.bucket, r.sum, r.count, r.min, r.max)
             .join_from(Rollup.__table__, ContextEntity.__table__, e.id == r.entity_id, isouter=True)
             .where(r.grain == "h", r.entity_type.in_(SERIES_TYPES))
             .order_by(r.bucket, r.entity_id, r.attr).limit(limit))
    if since is not None:
        query = query.where(r.bucket >= since)
    return [{"entity_id": row.entity_id, "entity_type": row.entity_type, "district": row.district,
             "attribute": row.attr, "hour": row.bucket, "average": row.sum / row.count if row.count else None,
             "minimum": row.min, "maximum": row.max, "readings": row.count}
            for row in db.execute(query)]
