"""What the board reads from the other domains, through their service functions only.

Each reader returns plain data and tolerates a domain that is not (yet) there: the panel that needs
it stays empty and says so, instead of breaking the whole board.
"""

from __future__ import annotations

import importlib
import logging
from datetime import datetime, timedelta
from typing import Any

from cityhub.context import summary
from cityhub.context.query import EntityQuery, query_entities
from cityhub.ctx import RequestContext
from cityhub.errors import CityhubError

log = logging.getLogger("cityhub.board")

KST = timedelta(hours=9)
ECONOMY = ("population", "employment-rate", "unemployment-rate", "cpi", "new-corporations", "businesses")
LAYER_ATTRS = {
    "AirQualityObserved": ("pm25", "pm10", "dateObserved"),
    "TrafficFlowObserved": ("averageVehicleSpeed", "congested", "dateObserved"),
    "WaterQualityObserved": ("pH", "turbidity", "dateObserved"),
    "WaterLevelObserved": ("waterLevel", "warningLevel", "alarmLevel"),
    "Camera": ("cameraName", "cameraUsage"),
}
PAGE = 1000


def optional_module(name: str) -> Any | None:
    """A sibling domain's service module, or None while it is not written yet."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None


def districts(ctx: RequestContext) -> list[dict[str, Any]]:
    """Each district's live averages (air, traffic, water) and active alerts."""
    return summary.district_summary(ctx)


def entities(ctx: RequestContext, etype: str) -> list[dict[str, Any]]:
    """Every entity of a type with the attributes the map needs (key-values), paged through the query service."""
    out: list[dict[str, Any]] = []
    offset = 0
    attrs = {*LAYER_ATTRS[etype], "location"}
    while True:
        page = query_entities(ctx, query=EntityQuery(types=[etype], attrs=attrs, key_values=True, limit=PAGE,
                                                     offset=offset))
        out.extend(page.items)
        if len(page.items) < PAGE:
            return out
        offset += PAGE


def districts_for(points: list[tuple[float, float]]) -> list[str | None]:
    """Each point's district (English name, None outside the city): `district_for` for a whole layer at once,
    one vectorised test per district instead of a Python loop per point (the layers call was spending
    most of its time here)."""
    import numpy as np
    import shapely

    from cityhub.context.districts import districts as district_list

    if not points:
        return []
    xs, ys = np.array(points, dtype=float).T
    names: list[str | None] = [None] * len(points)
    left = np.ones(len(points), dtype=bool)
    for d in district_list():  # first district that covers the point wins, as in district_for
        hit = left & shapely.intersects_xy(d.polygon, xs, ys)
        for i in np.flatnonzero(hit):
            names[i] = d.name_en
        left &= ~hit
    return names


def _point(loc: Any) -> tuple[float, float] | None:
    if not isinstance(loc, dict):
        return None
    coords = loc.get("coordinates")
    if loc.get("type") == "Point":
        return float(coords[0]), float(coords[1])
    if loc.get("type") == "LineString" and coords:
        return float(coords[0][0]), float(coords[0][1])
    return None


def layers(ctx: RequestContext, *, cameras: bool) -> dict[str, Any]:
    """Map layers as compact rows: air stations, traffic links, water and river-level stations, cameras."""
    def rows(etype: str, fields: tuple[str, ...], line: bool = False) -> list[list[Any]]:
        placed = [(e, pt) for e in entities(ctx, etype) if (pt := _point(e.get("location"))) is not None]
        names = districts_for([pt for _, pt in placed])
        out = []
        for (e, pt), district in zip(placed, names, strict=True):
            loc = e["location"]
            shape = loc.get("coordinates") if line and loc.get("type") == "LineString" else [pt[0], pt[1]]
            out.append([e["id"], shape, district, *(e.get(f) for f in fields)])
        return out

    out = {
        "air": rows("AirQualityObserved", ("pm25", "pm10", "dateObserved")),
        "traffic": rows("TrafficFlowObserved", ("averageVehicleSpeed", "dateObserved"), line=True),
        "water": rows("WaterQualityObserved", ("pH", "turbidity", "dateObserved")),
        "levels": rows("WaterLevelObserved", ("waterLevel", "warningLevel", "alarmLevel")),
    }
    out["cameras"] = rows("Camera", ("cameraUsage",)) if cameras else None
    return out


def incidents(ctx: RequestContext) -> list[dict[str, Any]] | None:
    """Open incidents plus today's closed ones (for the day's counts); None when the ops domain is absent."""
    svc = optional_module("cityhub.ops.service_incidents")
    if svc is None:
        return None
    listed = svc.list_incidents(ctx, limit=500)
    midnight = _kst_midnight()
    out = []
    for inc in listed.items:
        if inc.closed_at is not None and inc.created_at < midnight:
            continue
        out.append(incident_row(inc))
    return out


def _kst_midnight() -> datetime:
    from cityhub.db import utcnow

    now = utcnow() + KST
    return now.replace(hour=0, minute=0, second=0, microsecond=0) - KST


def incident_row(inc: Any) -> dict[str, Any]:
    """What the board draws of an incident (no description or reporter details)."""
    return {"id": inc.id, "type": inc.type, "subtype": inc.subtype, "severity": inc.severity, "state": inc.state,
            "state_label": inc.state_label, "title": inc.title, "district": inc.district,
            "lon": inc.location.lon, "lat": inc.location.lat, "created_at": inc.created_at.isoformat(),
            "closed": inc.closed_at is not None, "agencies": inc.agencies}


def directives(ctx: RequestContext) -> list[dict[str, Any]] | None:
    """Open directives (ops), overdue first; None while the ops directives service is not there."""
    svc = optional_module("cityhub.ops.service_directives")
    if svc is None or not hasattr(svc, "list_directives"):
        return None
    try:
        listed = svc.list_directives(ctx, open_only=True)
    except TypeError:  # an older signature
        listed = svc.list_directives(ctx)
    items = getattr(listed, "items", listed)
    rows = [d.model_dump(mode="json") if hasattr(d, "model_dump") else dict(d) for d in items]
    rows = [d for d in rows if d.get("state") != "completed"]
    rows.sort(key=lambda d: (not d.get("overdue"), d.get("due_at") or ""))
    return rows


def issue_directive(ctx: RequestContext, data: Any) -> dict[str, Any]:
    """Issue a directive through the ops service (its policy decides who may)."""
    svc = optional_module("cityhub.ops.service_directives")
    fn = getattr(svc, "issue_directive", None) or getattr(svc, "create_directive", None) if svc else None
    if fn is None:
        from cityhub.errors import UpstreamError

        raise UpstreamError("directives are not available yet (the operations service has no directives)")
    return fn(ctx, data=data).model_dump(mode="json")


def economy(ctx: RequestContext) -> list[dict[str, Any]]:
    """Key economy and population indicators the actor may read: latest value, change, a short series, and
    the latest figure of every district."""
    figures = optional_module("cityhub.stats.service_figures")
    indicators = optional_module("cityhub.stats.service_indicators")
    if figures is None or indicators is None:
        return []
    out = []
    for slug in ECONOMY:
        try:
            ind = indicators.get_indicator(ctx, slug=slug)
            series = figures.series(ctx, slug=slug)
            comp = figures.comparison(ctx, slug=slug)
        except CityhubError:
            continue  # not there, or not for this viewer
        points = series.series[0].points[-12:] if series.series else []
        total = comp.total
        out.append({
            "slug": slug, "title": ind.title, "title_en": ind.title_en, "unit": ind.unit, "unit_en": ind.unit_en,
            "period": comp.period, "value": total.value if total else (points[-1].value if points else None),
            "change_percent": total.change_percent if total else None,
            "series": [[p.period, p.value] for p in points],
            "districts": {d.district_en: d.value for d in comp.districts if d.district_en},
            "updated_at": ind.updated_at.isoformat() if ind.updated_at else None,
        })
    return out
