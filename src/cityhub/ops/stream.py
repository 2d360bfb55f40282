"""Live incident updates for agency units (112 patrol cars, 119 crews): server-sent events.

A stream is one agency's view: every timeline entry of the incidents it takes part in (or of one
incident), oldest first, each carrying the incident's current location, address and state; a unit's
first message about a new incident also names the nearest cameras. Entries are read from the
timeline table by id, so a reconnecting unit sends Last-Event-ID and misses nothing, and updates
written by another worker arrive too. Streams wake when this process hears `incident.*` on the bus
and otherwise look every POLL_SECONDS.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from cityhub.ctx import RequestContext
from cityhub.ops import cameras
from cityhub.ops.lifecycle import LIFECYCLES
from cityhub.ops.models import Incident, IncidentAgency, IncidentEvent

POLL_SECONDS = 2.0
KEEPALIVE_SECONDS = 15.0
MAX_STREAM_SECONDS = 300.0  # a stream ends itself (the client resumes by id at once): shutdown never waits on it
PAGE = 200
NEAR_CAMERAS = 5


@dataclass(eq=False)
class Feed:
    """Wakes the open streams of this process when an incident changes (bus handlers run in writer threads)."""

    waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hear(self, _topic: str, _payload: dict[str, Any]) -> None:
        with self.lock:
            waiters = list(self.waiters)
        for loop, event in waiters:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that loop is closed: its stream is gone
                pass

    def join(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Event]:
        entry = (asyncio.get_running_loop(), asyncio.Event())
        with self.lock:
            self.waiters.add(entry)
        return entry

    def leave(self, entry: tuple[asyncio.AbstractEventLoop, asyncio.Event]) -> None:
        with self.lock:
            self.waiters.discard(entry)


@dataclass(frozen=True)
class Scope:
    """What one stream may see: one incident, or all incidents of one agency (None: city staff see all)."""

    incident_id: str | None
    agency_id: str | None
    staff: bool


def latest_id(ctx: RequestContext) -> int:
    return ctx.db.scalar(select(func.max(IncidentEvent.id))) or 0


def read_since(ctx: RequestContext, scope: Scope, after: int) -> list[dict[str, Any]]:
    """Timeline entries newer than `after` in the scope, oldest first, as stream messages."""
    stmt = select(IncidentEvent, Incident).join(Incident, Incident.id == IncidentEvent.incident_id).where(
        IncidentEvent.id > after)
    if scope.incident_id is not None:
        stmt = stmt.where(IncidentEvent.incident_id == scope.incident_id)
    elif not scope.staff:
        stmt = stmt.where(IncidentEvent.incident_id.in_(
            select(IncidentAgency.incident_id).where(IncidentAgency.agency_id == (scope.agency_id or "-"))))
    out = []
    for ev, inc in ctx.db.execute(stmt.order_by(IncidentEvent.id).limit(PAGE)):
        message = {"id": ev.id, "incident": _incident(inc), "change": {
            "kind": ev.kind, "from": ev.from_state, "to": ev.to_state, "note": ev.note, "by": ev.actor_label,
            "at": ev.at.isoformat()}}
        if ev.kind == "created":
            near = cameras.nearest(ctx, lon=inc.lon, lat=inc.lat, radius_m=ctx.settings.ops_camera_radius_m,
                                   limit=NEAR_CAMERAS)
            message["cameras"] = [c.public().model_dump(mode="json") for c in near]
        out.append(message)
    return out


def _incident(inc: Incident) -> dict[str, Any]:
    cycle = LIFECYCLES[inc.lifecycle]
    ko, en = cycle.label(inc.state)
    return {"id": inc.id, "type": inc.type, "subtype": inc.subtype, "state": inc.state, "state_label": [ko, en],
            "allowed_transitions": cycle.allowed_from(inc.state), "severity": inc.severity, "title": inc.title,
            "location": {"lon": inc.lon, "lat": inc.lat}, "address": inc.address, "district": inc.district,
            "closed": inc.closed_at is not None}
