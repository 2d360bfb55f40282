"""The demo city's past: some weeks of closed incidents, so hot-spot analyses have a history to read.

The calls come from the simulated 112/119 rooms' own model (rates by hour of day, district weighted by
population); each past incident is written closed, with its timeline's first and last line, in bulk (the
live simulator plays today's incidents through the services instead). Every row is marked synthetic in its
title and `source_ref`, and seeding twice adds nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

from cityhub.context.districts import district_for
from cityhub.ctx import RequestContext
from cityhub.ops.lifecycle import TYPE_LABELS, lifecycle_for
from cityhub.ops.models import Incident, IncidentEvent, new_id
from cityhub.ops.simulator import AgencySimulator

REF_PREFIX = "demo-history:"
# Weekends are busier at night for 112 (crime) and quieter on the roads at rush hour.
WEEKEND_FACTOR = {"crime": 1.4, "traffic_accident": 0.7}


def seed_history(ctx: RequestContext, *, days: int = 60, seed: int = 11, rate_scale: float = 0.5) -> int:
    """Write `days` of closed synthetic incidents ending last midnight (KST); returns how many (0 when already
    seeded)."""
    if ctx.db.scalar(select(Incident.id).where(Incident.source_ref.like(f"{REF_PREFIX}%")).limit(1)):
        return 0
    # ends at midnight in Korean time, so the board's "today" figures only ever count live incidents
    kst = timedelta(hours=9)
    end = (datetime.now(UTC) + kst).replace(hour=0, minute=0, second=0, microsecond=0) - kst
    sim = AgencySimulator(seed=seed, rate_scale=rate_scale, start=end - timedelta(days=days))
    incidents: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    at = sim.start
    while at < end:
        weekend = (at + timedelta(hours=9)).isoweekday() >= 6
        for _room, call in sim.calls_at(at):
            if weekend and sim.rng.random() > WEEKEND_FACTOR.get(call["type"], 1.0):
                continue
            incidents_row, closing = _closed_incident(sim, call, at)
            incidents.append(incidents_row)
            events.append({"incident_id": incidents_row["id"], "at": at, "kind": "created", "to_state":
                           lifecycle_for(call["type"]).initial, "actor_label": "demo"})
            events.append({"incident_id": incidents_row["id"], "at": closing, "kind": "state",
                           "from_state": lifecycle_for(call["type"]).initial, "to_state": "closed",
                           "actor_label": "demo", "note": "synthetic history: closed"})
        at += timedelta(minutes=1)
    for start in range(0, len(incidents), 5000):
        ctx.db.execute(insert(Incident), incidents[start:start + 5000])
    for start in range(0, len(events), 10000):
        ctx.db.execute(insert(IncidentEvent), events[start:start + 10000])
    return len(incidents)


def _closed_incident(sim: AgencySimulator, call: dict[str, Any], at: datetime) -> tuple[dict[str, Any], datetime]:
    lon, lat = call["location"]["lon"], call["location"]["lat"]
    closing = at + timedelta(minutes=max(5.0, sim.rng.expovariate(1 / 60)))
    label = TYPE_LABELS[call["type"]][0]
    district = district_for(lon, lat)
    return {
        "id": new_id(), "type": call["type"], "subtype": call["subtype"], "lifecycle": lifecycle_for(call["type"]).name,
        "state": "closed", "severity": call["severity"], "source": "agency",
        "source_ref": REF_PREFIX + call["source_ref"], "title": f"[합성 synthetic] {label}",
        "lon": lon, "lat": lat, "district": district, "reports": 1, "created_at": at, "updated_at": closing,
        "closed_at": closing,
    }, closing
