"""What of the incident register may be published, and in which form.

The operations domain decides this, not its readers: the statistics domain turns these rows into the
"incident register" dataset that hot-spot analyses and the CCTV-coverage analysis query through the SQL
sandbox. Published rows are coarse on purpose: no description, address, reporter or person; the point is
rounded to about 100 m; vulnerable-person incidents (a child's or a dementia patient's SOS position) are
never published, and merged duplicates are left out so an event counts once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityhub.context.districts import district_by_name
from cityhub.ops.models import Incident

# (column, datastore type) of the published register, in order.
REGISTER_FIELDS: list[tuple[str, str]] = [
    ("incident_id", "text"), ("type", "text"), ("subtype", "text"), ("severity", "text"), ("state", "text"),
    ("source", "text"), ("district", "text"), ("district_ko", "text"), ("district_code", "text"),
    ("reported_at", "datetime"), ("hour", "integer"),
    ("weekday", "integer"), ("lat", "number"), ("lon", "number"), ("closed_at", "datetime"),
    ("updated_at", "datetime"),
]
REGISTER_KEY = ["incident_id"]
NOT_PUBLISHED_TYPES = ("vulnerable_person",)  # personal data: where a protected person is
ROUND_DEGREES = 3  # 0.001° ≈ 100 m
# Hour and weekday in the city's local time (KST has no daylight saving): hot spots are read by residents.
CITY_UTC_OFFSET = timedelta(hours=9)


def register_rows(db: Session, *, since: datetime | None, limit: int = 5000) -> list[dict[str, Any]]:
    """Incidents changed after `since` (oldest first, at most `limit`) in their published form."""
    query = (select(Incident).where(Incident.duplicate_of.is_(None), Incident.type.not_in(NOT_PUBLISHED_TYPES))
             .order_by(Incident.updated_at, Incident.id).limit(limit))
    if since is not None:
        query = query.where(Incident.updated_at > since)
    return [_published(inc) for inc in db.scalars(query)]


def _published(inc: Incident) -> dict[str, Any]:
    reported = inc.created_at
    local = reported + CITY_UTC_OFFSET
    area = district_by_name(inc.district) if inc.district else None
    return {
        "incident_id": inc.id, "type": inc.type, "subtype": inc.subtype, "severity": inc.severity,
        "state": inc.state, "source": inc.source, "district": inc.district,
        "district_ko": area.name_ko if area else None, "district_code": area.code if area else None,
        "reported_at": reported,
        "hour": local.hour, "weekday": local.isoweekday(),  # 1 = Monday
        "lat": round(inc.lat, ROUND_DEGREES), "lon": round(inc.lon, ROUND_DEGREES),
        "closed_at": inc.closed_at, "updated_at": inc.updated_at,
    }
