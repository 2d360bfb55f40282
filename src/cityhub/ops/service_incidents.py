"""Incidents: report, deduplicate, advance through their lifecycle, note, list — with a timeline of every change.

A report is written with its timeline entry, its agency links and the agencies' outbox rows in one
transaction; `incident.created` / `incident.changed` travel on the bus after commit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update

from cityhub.auth import policy
from cityhub.context.districts import CITY_BOUNDS, district_for
from cityhub.ctx import RequestContext
from cityhub.db import utcnow
from cityhub.errors import Conflict, Invalid, NotFound
from cityhub.ops import deliveries
from cityhub.ops.lifecycle import LIFECYCLES, TYPE_LABELS, TYPES, lifecycle_for
from cityhub.ops.models import Agency, Incident, IncidentAgency, IncidentEvent, new_id
from cityhub.ops.schemas import (
    IncidentCreate,
    IncidentList,
    IncidentPublic,
    Location,
    NoteCreate,
    TimelineEntry,
    Transition,
)
from cityhub.ops.service_agencies import active_agencies, actor_agency

OPERATOR_ROLES = ("admin", "operator")
_INCIDENTS, _PARTS, _EVENTS = Incident.__table__, IncidentAgency.__table__, IncidentEvent.__table__
_INSERT_INCIDENT, _INSERT_PART, _INSERT_EVENT = insert(_INCIDENTS), insert(_PARTS), insert(_EVENTS)
# Called with (ctx, incident, agency) for each linked agency on creation: what only that agency gets.
DeliveryExtras = Callable[[RequestContext, Incident, Agency], dict[str, Any]]
_extras: list[DeliveryExtras] = []


def add_delivery_extras(fn: DeliveryExtras) -> None:
    """Linked services add per-agency content (nearby cameras, video links, access roads) to deliveries."""
    if fn not in _extras:
        _extras.append(fn)


@dataclass(frozen=True)
class IncidentRef:
    """What the policy door sees of an incident: its id and the organizations of its agencies."""

    id: str
    agency_org_ids: frozenset[str]


def _ref(ctx: RequestContext, inc: Incident) -> IncidentRef:
    orgs = ctx.db.scalars(select(Agency.org_id).join(IncidentAgency, IncidentAgency.agency_id == Agency.id)
                          .where(IncidentAgency.incident_id == inc.id)).all()
    return IncidentRef(inc.id, frozenset(orgs))


def _label(ctx: RequestContext) -> str:
    agency = actor_agency(ctx)
    return agency.code if agency else (ctx.actor.email or ctx.actor.user_id or "system")


def check_location(loc: Location, field: str = "location") -> str:
    """The district of a point in the city; Invalid naming the field otherwise."""
    if not (-180 <= loc.lon <= 180):
        raise Invalid.field(f"{field}.lon", f"{loc.lon} is not a longitude (-180…180)")
    if not (-90 <= loc.lat <= 90):
        raise Invalid.field(f"{field}.lat", f"{loc.lat} is not a latitude (-90…90)")
    district = district_for(loc.lon, loc.lat)
    if district is None:
        min_lon, min_lat, max_lon, max_lat = CITY_BOUNDS
        raise Invalid.field(field, f"({loc.lon}, {loc.lat}) is outside the city "
                                   f"(lon {min_lon}…{max_lon}, lat {min_lat}…{max_lat})")
    return district


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(a))


# Built once: the duplicate check runs on every report, and building the statement cost more than running it.
# The (type, lat) index answers the latitude band; longitude and distance narrow what it finds.
_DUPLICATE = select(Incident.id, Incident.lon, Incident.lat).where(
    Incident.type == bindparam("type"), Incident.created_at >= bindparam("since"), Incident.closed_at.is_(None),
    Incident.duplicate_of.is_(None), Incident.lat.between(bindparam("lat_lo"), bindparam("lat_hi")),
    Incident.lon.between(bindparam("lon_lo"), bindparam("lon_hi")))


def _find_duplicate(ctx: RequestContext, data: IncidentCreate) -> Incident | None:
    """An open incident of the same type reported nearby within the window (the nearest one)."""
    radius = ctx.settings.ops_duplicate_radius_m
    lon, lat = data.location.lon, data.location.lat
    d_lat = radius / 110_574.0
    d_lon = radius / (111_320.0 * max(math.cos(math.radians(lat)), 0.01))
    rows = ctx.db.execute(_DUPLICATE, {
        "type": data.type, "since": utcnow() - timedelta(minutes=ctx.settings.ops_duplicate_window_minutes),
        "lat_lo": lat - d_lat, "lat_hi": lat + d_lat, "lon_lo": lon - d_lon, "lon_hi": lon + d_lon}).all()
    near = [(distance_m(r.lon, r.lat, lon, lat), r.id) for r in rows]
    near = [(d, i) for d, i in near if d <= radius]
    return ctx.db.get(Incident, min(near)[1]) if near else None


def _event(ctx: RequestContext, inc: Incident, kind: str, *, from_state: str | None = None,
           to_state: str | None = None, note: str | None = None, detail: dict | None = None) -> IncidentEvent:
    ev = IncidentEvent(incident_id=inc.id, at=utcnow(), kind=kind, from_state=from_state, to_state=to_state,
                       actor_id=ctx.actor.user_id, actor_label=_label(ctx), note=note, detail=detail)
    ctx.db.add(ev)
    ctx.db.flush()
    return ev


def _validate(data: IncidentCreate) -> tuple[str, str]:
    district = check_location(data.location)
    if data.subtype is not None and data.subtype not in TYPES[data.type]:
        raise Invalid.field("subtype", f"for {data.type}: one of {', '.join(TYPES[data.type])}")
    cycle = lifecycle_for(data.type)
    state = data.state or cycle.initial
    if state not in cycle.states or state == cycle.final:
        raise Invalid.field("state", f"an open {cycle.name} state: {', '.join(cycle.states[:-1])}")
    return district, state


def _source(ctx: RequestContext, data: IncidentCreate, agency: Agency | None) -> str:
    if agency is not None:
        return "agency"
    if data.source and ctx.actor.is_admin:  # the system reports on behalf of sensors
        return data.source
    return "operator" if ctx.actor.role in OPERATOR_ROLES else "citizen"


def report_incident(ctx: RequestContext, *, data: IncidentCreate) -> tuple[IncidentPublic, bool]:
    """Report an incident (agency, operator, sensor). Returns it and whether it is new: a report of the same
    type within the duplicate radius and window is linked to the open incident instead of doubling it."""
    agency = actor_agency(ctx)
    from cityhub.ops.service_agencies import ref as agency_ref

    policy.require(ctx, "incident.report", agency_ref(agency) if agency else None)
    return _create(ctx, data, agency, _source(ctx, data, agency))


def citizen_report(ctx: RequestContext, *, data: IncidentCreate) -> dict[str, Any]:
    """A citizen's report: it joins the operations board, the citizen gets a receipt and nothing more."""
    policy.require(ctx, "incident.citizen_report")
    data = data.model_copy(update={"state": None, "source": None, "source_ref": None})
    inc, _new = _create(ctx, data, None, "citizen")
    return {"receipt": inc.id, "received_at": utcnow().isoformat(), "district": inc.district}


def _create(ctx: RequestContext, data: IncidentCreate, agency: Agency | None,
            source: str) -> tuple[IncidentPublic, bool]:
    district, state = _validate(data)
    existing = _find_duplicate(ctx, data)
    if existing is not None:
        return _link_report(ctx, existing, data, agency, source), False
    now = utcnow()
    type_ko, type_en = TYPE_LABELS[data.type]
    # A plain (transient) object: it is written below with Core inserts, which cost a fraction of the ORM's unit
    # of work on this hot path (incidents are not audited per row; their timeline is the record).
    inc = Incident(id=new_id(), type=data.type, subtype=data.subtype, lifecycle=lifecycle_for(data.type).name,
                   state=state, severity=data.severity, source=source, source_ref=data.source_ref,
                   reporting_agency_id=agency.id if agency else None,
                   title=data.title or f"{type_ko} / {type_en} — {district}", description=data.description,
                   lon=data.location.lon, lat=data.location.lat, address=data.address, district=district,
                   duplicate_of=None, created_by=ctx.actor.user_id, created_at=now, updated_at=now, reports=1,
                   closed_at=None)
    linked = [a for a in active_agencies(ctx) if data.type in (a.incident_types or [])
              and (agency is None or a.id != agency.id)]
    parts = [(a.id, "linked") for a in linked] + ([(agency.id, "reporter")] if agency is not None else [])
    # The incident, its agencies and its first timeline entry (whose id keys the deliveries), in three statements.
    ev_id = _write_created(ctx, inc, parts, note=data.description,
                           detail={"source": source, "source_ref": data.source_ref, "severity": data.severity})
    codes = sorted(a.code for a in linked) + ([agency.code] if agency else [])
    public = _public(inc, codes)
    deliveries.enqueue(ctx, event="incident.created", key=f"{inc.id}:{ev_id}", incident_id=inc.id,
                       payload={"incident": public.model_dump(mode="json")}, agencies=linked,
                       extras=lambda a: _collect_extras(ctx, inc, a))
    ctx.publish("incident.created", _event_payload(inc, codes))
    return public, True


def _write_created(ctx: RequestContext, inc: Incident, parts: list[tuple[str, str]], *, note: str | None,
                   detail: dict[str, Any]) -> int:
    """Insert a new incident, its agency links and its "created" entry; returns the entry's id."""
    # Static statements with parameters: the compiled form is cached and no per-call statement is built.
    ctx.db.execute(_INSERT_INCIDENT, {c.key: getattr(inc, c.key) for c in _INCIDENTS.columns})
    if parts:
        ctx.db.execute(_INSERT_PART, [{"incident_id": inc.id, "agency_id": a, "role": r} for a, r in parts])
    created = ctx.db.execute(_INSERT_EVENT, {
        "incident_id": inc.id, "at": inc.created_at, "kind": "created", "from_state": None, "to_state": inc.state,
        "actor_id": ctx.actor.user_id, "actor_label": _label(ctx), "note": note, "detail": detail})
    return int(created.inserted_primary_key[0])


def _collect_extras(ctx: RequestContext, inc: Incident, agency: Agency) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for fn in _extras:
        out.update(fn(ctx, inc, agency))
    return out


def _link_report(ctx: RequestContext, inc: Incident, data: IncidentCreate, agency: Agency | None,
                 source: str) -> IncidentPublic:
    """A second report of the same event: one more report on the open incident, its reporter joins it."""
    ctx.db.execute(update(Incident).where(Incident.id == inc.id)
                   .values(reports=Incident.reports + 1, updated_at=utcnow()))
    if agency is not None and ctx.db.get(IncidentAgency, (inc.id, agency.id)) is None:
        ctx.db.add(IncidentAgency(incident_id=inc.id, agency_id=agency.id, role="reporter"))
    _event(ctx, inc, "duplicate", note=data.description,
           detail={"source": source, "source_ref": data.source_ref, "lon": data.location.lon,
                   "lat": data.location.lat, "distance_m": round(distance_m(inc.lon, inc.lat, data.location.lon,
                                                                            data.location.lat), 1)})
    ctx.db.refresh(inc)
    codes = _codes(ctx, [inc.id]).get(inc.id, [])
    ctx.publish("incident.changed", {**_event_payload(inc, codes), "change": "duplicate"})
    return _public(inc, codes)


def _event_payload(inc: Incident, codes: list[str]) -> dict[str, Any]:
    # Events carry no description or address: the public board and SSE listeners filter further.
    return {"id": inc.id, "type": inc.type, "subtype": inc.subtype, "state": inc.state, "severity": inc.severity,
            "district": inc.district, "lon": inc.lon, "lat": inc.lat, "agencies": codes,
            "at": (inc.updated_at or utcnow()).isoformat()}


def _load(ctx: RequestContext, incident_id: str) -> Incident:
    inc = ctx.db.get(Incident, incident_id)
    if inc is None:
        raise NotFound(f"incident {incident_id} not found")
    return inc


def get_incident(ctx: RequestContext, *, incident_id: str, timeline: bool = True) -> IncidentPublic:
    """One incident with its timeline (operators, and the agencies taking part)."""
    inc = _load(ctx, incident_id)
    policy.require(ctx, "incident.read", _ref(ctx, inc))
    out = _public(inc, _codes(ctx, [inc.id]).get(inc.id, []))
    if timeline:
        out.timeline = list_timeline(ctx, incident_id=inc.id, checked=True)
    return out


def list_timeline(ctx: RequestContext, *, incident_id: str, checked: bool = False) -> list[TimelineEntry]:
    """Every change of an incident, oldest first."""
    if not checked:
        policy.require(ctx, "incident.read", _ref(ctx, _load(ctx, incident_id)))
    rows = ctx.db.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == incident_id)
                          .order_by(IncidentEvent.id))
    return [TimelineEntry.model_validate(r) for r in rows]


def transition(ctx: RequestContext, *, incident_id: str, data: Transition) -> IncidentPublic:
    """Move an incident one step along its lifecycle; a skipped, reversed or unknown step is refused
    (409 / 422) with the allowed transitions named."""
    inc = _load(ctx, incident_id)
    policy.require(ctx, "incident.update", _ref(ctx, inc))
    cycle = LIFECYCLES[inc.lifecycle]
    allowed = cycle.allowed_from(inc.state)
    if data.to not in cycle.states:
        raise Invalid(f"to: {data.to!r} is not a state of the {cycle.name} lifecycle",
                      details={"to": [f"one of {', '.join(cycle.states)}"], "allowed": allowed})
    if data.to not in allowed:
        what = "reverses" if cycle.states.index(data.to) <= cycle.states.index(inc.state) else "skips"
        raise Conflict(f"{inc.state} → {data.to} {what} the {cycle.name} lifecycle; allowed: "
                       f"{', '.join(allowed) or 'none (closed)'}",
                       details={"to": [f"allowed from {inc.state}: {', '.join(allowed) or 'none'}"],
                                "allowed": allowed})
    now = utcnow()
    values: dict[str, Any] = {"state": data.to, "updated_at": now}
    if data.to == cycle.final:
        values["closed_at"] = now
    before = inc.state
    # Only if nobody moved it meanwhile: two rooms pressing "arrived" at once get one transition.
    done = ctx.db.execute(update(Incident).where(Incident.id == inc.id, Incident.state == inc.state)
                          .values(**values)).rowcount
    if done != 1:
        raise Conflict(f"incident {inc.id} changed meanwhile; reload and retry")
    ctx.db.refresh(inc)
    ev = _event(ctx, inc, "state", from_state=before, to_state=data.to, note=data.note)
    if data.to == cycle.final:
        from cityhub.ops.service_grants import clip_grants_to_incident

        clip_grants_to_incident(ctx, inc)
    _changed(ctx, inc, ev, "state")
    return _public(inc, _codes(ctx, [inc.id]).get(inc.id, []))


def add_note(ctx: RequestContext, *, incident_id: str, data: NoteCreate) -> TimelineEntry:
    """A note on the timeline (a unit's situation report, an operator's remark)."""
    inc = _load(ctx, incident_id)
    policy.require(ctx, "incident.update", _ref(ctx, inc))
    ev = _event(ctx, inc, "note", note=data.note)
    inc.updated_at = ev.at
    _changed(ctx, inc, ev, "note")
    return TimelineEntry.model_validate(ev)


def _changed(ctx: RequestContext, inc: Incident, ev: IncidentEvent, change: str) -> None:
    """Tell the other agencies taking part (outbox) and the bus."""
    acting = actor_agency(ctx)
    agencies = ctx.db.scalars(select(Agency).join(IncidentAgency, IncidentAgency.agency_id == Agency.id)
                              .where(IncidentAgency.incident_id == inc.id, Agency.active.is_(True))).all()
    codes = sorted(a.code for a in agencies)
    others = [a for a in agencies if acting is None or a.id != acting.id]
    payload = {"incident": _public(inc, codes).model_dump(mode="json"),
               "change": {"kind": change, "from": ev.from_state, "to": ev.to_state, "note": ev.note,
                          "by": ev.actor_label, "at": ev.at.isoformat()}}
    deliveries.enqueue(ctx, event="incident.changed", key=f"{inc.id}:{ev.id}", incident_id=inc.id,
                       payload=payload, agencies=others)
    ctx.publish("incident.changed", {**_event_payload(inc, codes), "change": change})


def _codes(ctx: RequestContext, ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if not ids:
        return out
    rows = ctx.db.execute(select(IncidentAgency.incident_id, Agency.code)
                          .join(Agency, Agency.id == IncidentAgency.agency_id)
                          .where(IncidentAgency.incident_id.in_(ids)).order_by(Agency.code))
    for iid, code in rows:
        out.setdefault(iid, []).append(code)
    return out


def _public(inc: Incident, codes: list[str]) -> IncidentPublic:
    cycle = LIFECYCLES[inc.lifecycle]
    return IncidentPublic(
        id=inc.id, type=inc.type, subtype=inc.subtype, lifecycle=inc.lifecycle, state=inc.state,
        state_label=list(cycle.label(inc.state)), allowed_transitions=cycle.allowed_from(inc.state),
        severity=inc.severity, source=inc.source, source_ref=inc.source_ref, title=inc.title,
        description=inc.description, location=Location(lon=inc.lon, lat=inc.lat), address=inc.address,
        district=inc.district, duplicate_of=inc.duplicate_of, reports=inc.reports, agencies=codes,
        created_at=inc.created_at, updated_at=inc.updated_at, closed_at=inc.closed_at)


def list_incidents(ctx: RequestContext, *, state: str | None = None, type: str | None = None,  # noqa: A002
                   open_only: bool = False, district: str | None = None, limit: int = 50,
                   offset: int = 0) -> IncidentList:
    """Incidents, newest first: all of them for operators, an agency's own for an agency."""
    policy.require(ctx, "incident.list")
    conds = []
    if ctx.actor.role not in OPERATOR_ROLES:
        own = actor_agency(ctx)
        conds.append(Incident.id.in_(select(IncidentAgency.incident_id)
                                     .where(IncidentAgency.agency_id == (own.id if own else "-"))))
    if state:
        conds.append(Incident.state == state)
    if type:
        conds.append(Incident.type == type)
    if open_only:
        conds.append(Incident.closed_at.is_(None))
    if district:
        conds.append(Incident.district == district)
    total = ctx.db.scalar(select(func.count()).select_from(Incident).where(*conds)) or 0
    rows = list(ctx.db.scalars(select(Incident).where(*conds).order_by(Incident.created_at.desc(), Incident.id)
                               .limit(min(limit, 500)).offset(offset)))
    codes = _codes(ctx, [r.id for r in rows])
    return IncidentList(items=[_public(r, codes.get(r.id, [])) for r in rows], total=total)
