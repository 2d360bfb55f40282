"""Simulated 112 and 119 situation rooms for the demo and the tests.

Calls arrive by hour of day (KST) and district (weighted by population): 112 sees more crime late at
night and traffic accidents at rush hours, 119 more EMS in the daytime. Each incident is then
advanced through its lifecycle with realistic, jittered delays (a fire: dispatch → arrival ≈ 7 min →
operations → initial suppression ≈ 20 min → full suppression → closed), as the rooms would report.
Rooms are reached over HTTP (a running cityhub, agency tokens) or in process through the services.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from cityhub.context.districts import districts
from cityhub.ops.lifecycle import LIFECYCLES, TYPES, lifecycle_for

# incidents per hour at the daily mean, per room and type (Busan-scale, for a lively demo)
RATES: dict[str, dict[str, float]] = {
    "police": {"crime": 6.0, "traffic_accident": 3.0, "vulnerable_person": 0.4},
    "fire": {"fire": 0.8, "rescue": 1.5, "ems": 10.0},
}
# mean minutes spent in each state before the next report, per lifecycle
DWELL: dict[str, dict[str, float]] = {
    "fire": {"dispatched": 7, "arrived": 2, "operating": 20, "initially_suppressed": 40, "fully_suppressed": 30},
    "generic": {"reported": 1, "acknowledged": 2, "dispatched": 8, "on_scene": 25, "resolved": 10},
}


def hourly_factor(room: str, incident_type: str, hour: float) -> float:
    """How busy an hour (KST, 0–24) is relative to the daily mean."""
    if incident_type == "crime":  # late evening and night, around 23:30
        d = min(abs(hour - 23.5), 24 - abs(hour - 23.5))
        return 0.5 + 1.5 * math.exp(-(d ** 2) / 8)
    if incident_type == "traffic_accident":
        return 0.5 + math.exp(-((hour - 8.3) ** 2) / 2) + math.exp(-((hour - 18.5) ** 2) / 3)
    if room == "fire":
        return 0.5 + 0.8 * math.exp(-((hour - 14.0) ** 2) / 30)
    return 1.0


class Rooms(Protocol):
    def report(self, room: str, body: dict[str, Any]) -> str | None: ...
    def advance(self, room: str, incident_id: str, to: str) -> bool: ...


@dataclass
class OpenCase:
    id: str
    room: str
    lifecycle: str
    state: str
    due: datetime


@dataclass
class AgencySimulator:
    seed: int = 7
    rate_scale: float = 1.0
    start: datetime = field(default_factory=lambda: datetime.now(UTC))
    rng: random.Random = field(init=False)
    open: list[OpenCase] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        ds = list(districts())
        self.districts = ds
        self.weights = [d.population for d in ds]

    def _point(self) -> dict[str, float]:
        from shapely.geometry import Point

        d = self.rng.choices(self.districts, weights=self.weights)[0]
        min_x, min_y, max_x, max_y = d.polygon.bounds
        while True:
            x, y = self.rng.uniform(min_x, max_x), self.rng.uniform(min_y, max_y)
            if d.polygon.contains(Point(x, y)):
                return {"lon": round(x, 6), "lat": round(y, 6)}

    def _poisson(self, mean: float) -> int:
        # Knuth: fine for the small per-minute means here
        limit, k, p = math.exp(-mean), 0, 1.0
        while True:
            p *= self.rng.random()
            if p <= limit:
                return k
            k += 1

    def calls_at(self, at: datetime) -> list[tuple[str, dict[str, Any]]]:
        """The calls arriving in the minute starting at `at`."""
        hour = ((at + timedelta(hours=9)).hour + at.minute / 60)
        out = []
        for room, types in RATES.items():
            for itype, per_hour in types.items():
                mean = per_hour * self.rate_scale * hourly_factor(room, itype, hour) / 60
                for _ in range(self._poisson(mean)):
                    body = {"type": itype, "subtype": self.rng.choice(TYPES[itype]),
                            "severity": self.rng.choices(("low", "medium", "high", "critical"), (3, 5, 2, 0.5))[0],
                            "location": self._point(),
                            "source_ref": f"{room}-{at:%Y%m%d%H%M}-{self.rng.randrange(10**6)}"}
                    out.append((room, body))
        return out

    def step(self, rooms: Rooms, at: datetime) -> None:
        """One simulated minute: new calls, then every case whose next report is due."""
        for room, body in self.calls_at(at):
            incident_id = rooms.report(room, body)
            if incident_id:
                cycle = lifecycle_for(body["type"])
                self.open.append(OpenCase(incident_id, room, cycle.name, cycle.initial, self._due(at, cycle.name,
                                                                                                   cycle.initial)))
        still = []
        for case in self.open:
            if case.due > at:
                still.append(case)
                continue
            nxt = LIFECYCLES[case.lifecycle].allowed_from(case.state)
            if not nxt or not rooms.advance(case.room, case.id, nxt[0]):
                continue  # closed, or someone else moved it: the room stops following it
            case.state = nxt[0]
            if nxt[0] != "closed":
                case.due = self._due(at, case.lifecycle, case.state)
                still.append(case)
        self.open = still

    def _due(self, at: datetime, lifecycle: str, state: str) -> datetime:
        mean = DWELL[lifecycle].get(state, 5)
        return at + timedelta(minutes=max(0.5, self.rng.expovariate(1 / mean)))

    def run(self, rooms: Rooms, *, minutes: int, speed: float = 0.0) -> Iterator[datetime]:
        """Play `minutes` simulated minutes; with speed > 0, sleep to run `speed` times faster than real time."""
        for i in range(minutes):
            at = self.start + timedelta(minutes=i)
            self.step(rooms, at)
            yield at
            if speed > 0:
                time.sleep(60 / speed)


class HttpRooms:
    """The rooms talking to a running cityhub with their agency tokens (and idempotency keys)."""

    def __init__(self, base_url: str, tokens: dict[str, str]) -> None:
        import httpx

        self.clients = {room: httpx.Client(base_url=base_url, timeout=10, headers={"Authorization": f"Bearer {t}"})
                        for room, t in tokens.items()}
        self.reported = self.transitions = self.refused = 0

    def report(self, room: str, body: dict[str, Any]) -> str | None:
        r = self.clients[room].post("/api/v1/ops/incidents", json=body,
                                    headers={"Idempotency-Key": body["source_ref"]})
        if r.status_code not in (200, 201):
            self.refused += 1
            return None
        self.reported += 1
        return r.json()["id"] if r.status_code == 201 else None  # a linked duplicate is followed by its first room

    def advance(self, room: str, incident_id: str, to: str) -> bool:
        r = self.clients[room].post(f"/api/v1/ops/incidents/{incident_id}/transitions", json={"to": to})
        ok = r.status_code == 200
        self.transitions += ok
        self.refused += not ok
        return ok


class ServiceRooms:
    """The rooms calling the services in process (demo seeding, tests): each room acts as its agency."""

    def __init__(self, factory: Any, settings: Any, bus: Any, actors: dict[str, Any]) -> None:
        self.factory, self.settings, self.bus, self.actors = factory, settings, bus, actors
        self.reported = self.transitions = self.refused = 0

    def _call(self, room: str, fn: Any) -> Any:
        from cityhub.ctx import RequestContext
        from cityhub.errors import CityhubError

        with self.factory() as db:
            ctx = RequestContext(actor=self.actors[room], db=db, settings=self.settings, bus=self.bus)
            try:
                out = fn(ctx)
                db.commit()
                return out
            except CityhubError:
                db.rollback()
                self.refused += 1
                return None

    def report(self, room: str, body: dict[str, Any]) -> str | None:
        from cityhub.ops.schemas import IncidentCreate
        from cityhub.ops.service_incidents import report_incident

        out = self._call(room, lambda ctx: report_incident(ctx, data=IncidentCreate(**body)))
        if out is None:
            return None
        self.reported += 1
        incident, new = out
        return incident.id if new else None

    def advance(self, room: str, incident_id: str, to: str) -> bool:
        from cityhub.ops.schemas import Transition
        from cityhub.ops.service_incidents import transition

        ok = self._call(room, lambda ctx: transition(ctx, incident_id=incident_id, data=Transition(to=to))) is not None
        self.transitions += ok
        return ok
