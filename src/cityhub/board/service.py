"""The city board's data: six panels, the map layers, drill-downs and the minute samples behind sparklines.

The staff board (`/ops`: operators, the mayor's office, department heads) sees everything the viewer
may see; the citizens' board (`/city`) gets only public parts: air, traffic, water levels, public
indicators and public projects — no incidents, cameras or directives. District filtering happens in the
page from the per-district figures in the snapshot, so a tap filters every panel without a round trip.
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select

from cityhub.auth import policy
from cityhub.board import sources, water
from cityhub.board.live import oldest_id
from cityhub.board.models import BoardEvent, BoardSample
from cityhub.context.districts import districts as district_list
from cityhub.ctx import RequestContext
from cityhub.db import utcnow
from cityhub.errors import Forbidden, NotFound

S = BoardSample.__table__
SAMPLE_KEYS = ("pm25", "pm10", "averageVehicleSpeed", "pH", "waterLevel", "alerts")
SAMPLE_DAYS = 2


def staff_view(ctx: RequestContext, view: str) -> bool:
    """True for the staff board; the staff view demands the right to it, the public one never shows more."""
    if view == "city":
        policy.require(ctx, "board.public")
        return False
    policy.require(ctx, "board.view")
    return True


def snapshot(ctx: RequestContext, *, view: str = "ops") -> dict[str, Any]:
    """Everything the board draws at load time, plus the event cursor to follow live changes from."""
    staff = staff_view(ctx, view)
    from cityhub.projects.service import list_projects

    cursor = ctx.db.scalar(select(func.max(BoardEvent.id))) or 0
    return {
        "view": "ops" if staff else "city",
        "generated_at": utcnow().isoformat(),
        "cursor": cursor,
        "districts": [{"code": d.code, "name_ko": d.name_ko, "name_en": d.name_en, "lon": d.lon, "lat": d.lat}
                      for d in district_list()],
        "live": sources.districts(ctx),
        "incidents": _board_incidents(ctx) if staff else None,
        "directives": _board_directives(ctx) if staff else None,
        "projects": [p.model_dump(mode="json") for p in list_projects(ctx, limit=1000).items],
        "economy": sources.economy(ctx),
        "water_complaints": water.panel(ctx),
        "samples": samples(ctx, staff=staff),
        "can": {"directive": staff and policy.can(ctx, "directive.issue"),
                "video": staff and policy.can(ctx, "camera.read")},
    }


# Incidents about a protected person stay with those whose own rights let them read incidents (operators).
PROTECTED_TYPES = ("vulnerable_person",)


def _board_incidents(ctx: RequestContext) -> list[dict[str, Any]] | None:
    """Every staff-board viewer gets each incident's type, place and state live (the feed); the snapshot lists them
    the same way, read as the board: the mayor's office and department heads are neither operators nor agencies,
    and the operations service would list them nothing."""
    if policy.can(ctx, "incident.read", None):  # operators (and admins)
        return sources.incidents(ctx)
    rows = sources.incidents(ctx.with_actor(_system_actor()))
    return None if rows is None else [r for r in rows if r["type"] not in PROTECTED_TYPES]


def _board_directives(ctx: RequestContext) -> list[dict[str, Any]] | None:
    """Open directives for the staff board: all of them, as the feed shows them (the operations service lists a
    department member only their own department's, so the mayor's office would not see what it issued)."""
    return sources.directives(ctx.with_actor(_system_actor()))


def layers(ctx: RequestContext, *, view: str = "ops") -> dict[str, Any]:
    """The map's sensor and camera layers (cameras for the staff board only)."""
    staff = staff_view(ctx, view)
    return _cached_layers(ctx, cameras=staff and policy.can(ctx, "camera.read"))


# The layers are the same for every viewer allowed to see them (only the camera layer depends on who asks) and
# change when sensors report: each process keeps the last answer per camera flag for a few seconds and drops it
# when it hears an observation batch, so a room of wall screens (re)loading at once costs one read. A cache only:
# a worker that did not hear a batch serves at most LAYERS_FRESH_SECONDS-old layers.
LAYERS_FRESH_SECONDS = 5.0


@dataclass(eq=False)
class _LayerCache:
    generation: int = 0
    answers: dict[bool, tuple[float, int, dict[str, Any]]] = field(default_factory=dict)

    def changed(self, _topic: str, _payload: dict[str, Any]) -> None:
        self.generation += 1


_layer_caches: weakref.WeakKeyDictionary[Any, _LayerCache] = weakref.WeakKeyDictionary()  # per app (its bus)


def _cached_layers(ctx: RequestContext, *, cameras: bool) -> dict[str, Any]:
    cache = _layer_caches.get(ctx.bus)
    if cache is None:
        cache = _layer_caches[ctx.bus] = _LayerCache()
        ctx.bus.subscribe("observation.batch", cache.changed)
    now, generation = time.monotonic(), cache.generation
    hit = cache.answers.get(cameras)
    if hit is not None and hit[1] == generation and now - hit[0] < LAYERS_FRESH_SECONDS:
        return hit[2]
    answer = sources.layers(ctx, cameras=cameras)
    cache.answers[cameras] = (now, generation, answer)
    return answer


def incident_detail(ctx: RequestContext, *, incident_id: str) -> dict[str, Any]:
    """The incident drawer: the incident with its timeline, nearby cameras and its directives."""
    staff_view(ctx, "ops")
    svc = sources.optional_module("cityhub.ops.service_incidents")
    if svc is None:
        raise NotFound("incidents are not available")
    try:
        inc = svc.get_incident(ctx, incident_id=incident_id)
    except Forbidden:  # the mayor's office, department heads: the board shows them what its feed shows them
        inc = svc.get_incident(ctx.with_actor(_system_actor()), incident_id=incident_id)
        if inc.type in PROTECTED_TYPES:
            raise
    out = inc.model_dump(mode="json")
    out["cameras"] = []
    if policy.can(ctx, "camera.read"):
        from cityhub.ops.cameras import find_nearest

        out["cameras"] = [c.model_dump(mode="json") for c in
                          find_nearest(ctx, location=inc.location, radius_m=500, limit=8)]
    all_directives = _board_directives(ctx) or []
    out["directives"] = [d for d in all_directives if d.get("incident_id") == incident_id]
    return out


def sensor_detail(ctx: RequestContext, *, entity_id: str, view: str = "ops") -> dict[str, Any]:
    """A sensor's current state and its last 24 hours, hourly averages of its main measure."""
    staff = staff_view(ctx, view)
    from cityhub.context.entities import get_entity
    from cityhub.context.temporal import TemporalQuery, get_temporal_entity

    entity = get_entity(ctx, entity_id=entity_id, key_values=True)
    if entity.get("type") == "Camera" and not staff:
        raise NotFound(f"{entity_id} not found")
    attr = {"AirQualityObserved": "pm25", "TrafficFlowObserved": "averageVehicleSpeed",
            "WaterQualityObserved": "pH", "WaterLevelObserved": "waterLevel"}.get(entity.get("type"))
    series: list[list[Any]] = []
    if attr:
        since = utcnow() - timedelta(hours=24)
        tq = TemporalQuery(ids=[entity_id], attrs=[attr], timerel="after", time_at=since, aggr_methods=["avg"],
                           aggr_period=timedelta(hours=1), limit=1)
        try:
            temporal = get_temporal_entity(ctx, entity_id=entity_id, tq=tq)
        except NotFound:  # no history yet
            temporal = {}
        values = (temporal.get(attr) or {}).get("avg") or []
        series = [[v[1], v[0]] for v in values if isinstance(v, list) and len(v) >= 2]
    return {"entity": entity, "attr": attr, "series": series}


# --- sparklines ---------------------------------------------------------------------------------


def take_sample(ctx: RequestContext) -> dict[str, Any] | None:
    """Record the city's figures now (city-wide and per district), for the 24-hour sparklines. Several workers
    each sample once a minute: the first one's row for the minute stands, the others return None."""
    now = utcnow().replace(second=0, microsecond=0)
    if ctx.db.scalar(select(S.c.at).where(S.c.at == now)) is not None:
        return None
    live = sources.districts(ctx)
    figures: dict[str, Any] = {"d": {}}
    for key in SAMPLE_KEYS:
        values = [d[key] for d in live if d.get(key) is not None]
        figures[key] = (round(sum(values), 2) if key == "alerts" else round(sum(values) / len(values), 2)
                        ) if values else None
    for d in live:
        figures["d"][d["district"]] = {k: d.get(k) for k in SAMPLE_KEYS if d.get(k) is not None}
    incidents = sources.incidents(ctx.with_actor(_system_actor()))
    if incidents is not None:
        figures["incidents_open"] = sum(1 for i in incidents if not i["closed"])
    ctx.db.execute(delete(S).where(S.c.at < now - timedelta(days=SAMPLE_DAYS)))
    ctx.db.execute(insert(S), [{"at": now, "figures": figures}])
    return figures


def _system_actor() -> Any:
    from cityhub.ctx import Actor

    return Actor(user_id="system:board", email="board@cityhub.local", role="operator", city_member=True)


def samples(ctx: RequestContext, *, staff: bool) -> list[dict[str, Any]]:
    """The last 24 hours of minute samples, thinned to at most ~150 points (citizens get no incident counts)."""
    since = utcnow() - timedelta(hours=24)
    rows = ctx.db.execute(select(S.c.at, S.c.figures).where(S.c.at >= since).order_by(S.c.at)).all()
    step = max(1, len(rows) // 150)
    out = []
    for r in rows[::step]:
        figures = dict(r.figures)
        if not staff:
            figures.pop("incidents_open", None)
        out.append({"at": r.at.isoformat(), **figures})
    return out


def replay_floor(ctx: RequestContext) -> int:
    """The oldest event still in the replay log (a board further behind must reload its snapshot)."""
    return oldest_id(ctx.db)
