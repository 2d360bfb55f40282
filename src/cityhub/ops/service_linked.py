"""The five services linking the city's CCTV control centre with 112, 119, the disaster room and the
protection of vulnerable people.

1. 112 emergency video — cameras near an incident (or a 112 request by location) granted to 112;
2. 112 emergency dispatch — patrol units get the location, nearby cameras and the incident's updates;
3. 119 emergency dispatch — location, nearby cameras, access roads (live traffic links) and hazardous
   facilities nearby (a catalog dataset with lon/lat columns);
4. disaster emergency response — everything inside an affected polygon, and broadcast instructions;
5. vulnerable-person support — see `service_persons.py`.

When an incident is reported, police and fire agencies linked to it automatically receive the nearest
cameras and a time-limited grant in the same delivery (registered as delivery extras).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy import select

from cityhub.auth import policy
from cityhub.ctx import RequestContext
from cityhub.errors import Forbidden, Invalid, NotFound
from cityhub.governance.audit import note
from cityhub.ops import cameras, deliveries
from cityhub.ops.models import Agency, Incident, IncidentEvent
from cityhub.ops.schemas import GrantCreate, IncidentCreate, Location
from cityhub.ops.service_agencies import active_agencies, actor_agency, ref
from cityhub.ops.service_grants import grant_cameras
from cityhub.ops.service_incidents import _public, _ref, add_delivery_extras, distance_m, report_incident

log = logging.getLogger("cityhub.ops.linked")
SERVICE_NAMES = {"police": "112 긴급영상 지원 / 112 emergency video",
                 "fire": "119 긴급출동 지원 / 119 emergency dispatch"}


def _cameras_with_grant(ctx: RequestContext, inc: Incident, agency: Agency, reason: str) -> dict[str, Any]:
    found = cameras.nearest(ctx, lon=inc.lon, lat=inc.lat, radius_m=ctx.settings.ops_camera_radius_m, limit=10)
    if not found:
        return {"cameras": [], "video_grant": None}
    grant = grant_cameras(ctx, inc=inc, agency=agency,
                          data=GrantCreate(agency=agency.code, reason=reason, camera_ids=[c.id for c in found]))
    dist = {c.id: round(c.distance_m, 1) for c in found}
    links = [{**link.model_dump(mode="json"), "distance_m": dist.get(link.camera_id)} for link in grant.links]
    return {"cameras": [c.public().model_dump(mode="json") for c in found],
            "video_grant": {"id": grant.id, "expires_at": grant.expires_at.isoformat(), "links": links}}


def _delivery_extras(ctx: RequestContext, inc: Incident, agency: Agency) -> dict[str, Any]:
    """What a linked police or fire agency receives with a new incident: cameras, links, and for 119 access."""
    if agency.kind not in SERVICE_NAMES:
        return {}
    out = _cameras_with_grant(ctx, inc, agency, f"연계서비스 자동 제공 / linked service: {SERVICE_NAMES[agency.kind]}")
    if agency.kind == "fire":
        out["access"] = access_information(ctx, inc)
    return out


add_delivery_extras(_delivery_extras)


def _linked_agency(ctx: RequestContext, kind: str | None = None) -> Agency | None:
    agency = actor_agency(ctx)
    policy.require(ctx, "linked.use", ref(agency) if agency else None)
    if kind and agency is not None and agency.kind != kind:
        raise Forbidden(f"this linked service is for the {kind} agency")
    return agency


def _incident_for(ctx: RequestContext, incident_id: str) -> Incident:
    inc = ctx.db.get(Incident, incident_id)
    if inc is None:
        raise NotFound(f"incident {incident_id} not found")
    policy.require(ctx, "incident.read", _ref(ctx, inc))
    return inc


# --- 1. 112 emergency video -----------------------------------------------------------------------


def emergency_video(ctx: RequestContext, *, incident_id: str | None, location: Location | None, reason: str,
                    radius_m: float = 500, usage: str | None = None) -> dict[str, Any]:
    """112 asks for live video: of an incident it takes part in, or of a location it reports (which becomes
    an incident, deduplicated). Cameras within the radius, nearest first, are granted to 112."""
    agency = _linked_agency(ctx, "police")
    if incident_id is None:
        if location is None:
            raise Invalid.field("location", "give an incident_id or a location")
        public, _new = report_incident(ctx, data=IncidentCreate(type="crime", location=location, description=reason,
                                                                severity="high"))
        incident_id = public.id
    inc = _incident_for(ctx, incident_id)
    police = agency or ctx.db.scalar(select(Agency).where(Agency.kind == "police", Agency.active.is_(True)))
    if police is None:
        raise NotFound("no 112 agency is registered")
    grant = grant_cameras(ctx, inc=inc, agency=police, data=GrantCreate(agency=police.code, reason=reason,
                                                                        radius_m=radius_m, usage=usage))
    return {"incident": _public(inc, []).model_dump(mode="json"), "grant": grant.model_dump(mode="json")}


# --- 2. 112 emergency dispatch / 3. 119 emergency dispatch ---------------------------------------------


def dispatch_view(ctx: RequestContext, *, incident_id: str, after: int = 0) -> dict[str, Any]:
    """What a unit on its way sees: location, nearby cameras with distances, and timeline entries after `after`
    (poll with the last id seen). 119 also gets access roads and hazardous facilities."""
    agency = _linked_agency(ctx)
    inc = _incident_for(ctx, incident_id)
    near = cameras.nearest(ctx, lon=inc.lon, lat=inc.lat, radius_m=ctx.settings.ops_camera_radius_m, limit=10)
    updates = ctx.db.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == inc.id, IncidentEvent.id > after)
                             .order_by(IncidentEvent.id)).all()
    out: dict[str, Any] = {
        "incident": _public(inc, []).model_dump(mode="json"),
        "cameras": [c.public().model_dump(mode="json") for c in near],
        "updates": [{"id": e.id, "at": e.at.isoformat(), "kind": e.kind, "to_state": e.to_state, "note": e.note,
                     "by": e.actor_label} for e in updates],
    }
    if agency is None or agency.kind == "fire":
        out["access"] = access_information(ctx, inc)
    return out


def access_information(ctx: RequestContext, inc: Incident) -> dict[str, Any]:
    """Access roads (live traffic links within 1 km, slowest first) and hazardous facilities within 1 km."""
    return {"roads": _roads(ctx, inc), "hazardous_facilities": hazardous_facilities(ctx, lon=inc.lon, lat=inc.lat)}


def _roads(ctx: RequestContext, inc: Incident) -> list[dict[str, Any]]:
    from cityhub.context import geo
    from cityhub.context.query import EntityQuery, query_entities

    q = EntityQuery(types=["TrafficFlowObserved"], key_values=True, limit=50,
                    geo=geo.parse_geoquery("near;maxDistance==1000", "Point", [inc.lon, inc.lat]))
    out = []
    for e in query_entities(ctx, query=q).items:
        coords = (e.get("location") or {}).get("coordinates") or []
        start = coords[0] if coords and isinstance(coords[0], list) else coords
        if len(start) < 2:
            continue
        out.append({"id": e["id"], "speed_kmh": e.get("averageVehicleSpeed"), "congested": e.get("congested"),
                    "distance_m": round(distance_m(inc.lon, inc.lat, start[0], start[1]), 1)})
    out.sort(key=lambda r: (r["distance_m"]))
    return out[:10]


def hazardous_facilities(ctx: RequestContext, *, lon: float, lat: float, radius_m: float = 1000) -> list[dict]:
    """Facilities from the catalog dataset named by `ops_hazard_dataset` (rows with lon/lat) near a point."""
    name = ctx.settings.ops_hazard_dataset
    try:
        from cityhub.catalog import service as catalog
        from cityhub.datastore import service as datastore
        from cityhub.ops.sensors import SENSOR_ACTOR

        # The city shares this dataset with fire units through the linked service (it is usually internal):
        # it is read as the platform, for the one configured dataset only.
        city = ctx.with_actor(SENSOR_ACTOR)
        ds = catalog.get_dataset(city, id_or_name=name)
        resource = next((r for r in ds.resources if getattr(r, "datastore_active", False)), None)
        if resource is None:
            return []
        rows = datastore.search(city, resource_id=resource.id, limit=5000, include_total=False).records
    except Exception as exc:  # noqa: BLE001 - the catalog may not have the dataset: dispatch goes on without it
        log.info("hazardous facilities unavailable", extra={"error": str(exc)[:200]})
        return []
    out = []
    for row in rows:
        try:
            d = distance_m(lon, lat, float(row.get("lon") or row.get("longitude")),
                           float(row.get("lat") or row.get("latitude")))
        except (TypeError, ValueError):
            continue
        if d <= radius_m:
            out.append({**{k: v for k, v in row.items() if not k.startswith("_")}, "distance_m": round(d, 1)})
    out.sort(key=lambda r: r["distance_m"])
    return out[:20]


# --- 4. disaster emergency response ----------------------------------------------------------------


def _polygon(geometry: Any) -> Any:
    from shapely.geometry import shape

    try:
        poly = shape(geometry)
    except Exception:  # noqa: BLE001 - any malformed geometry is the caller's field error
        raise Invalid.field("area", "a GeoJSON Polygon or MultiPolygon") from None
    if poly.geom_type not in ("Polygon", "MultiPolygon") or not poly.is_valid or poly.is_empty:
        raise Invalid.field("area", "a valid GeoJSON Polygon or MultiPolygon")
    return poly


def disaster_area(ctx: RequestContext, *, area: dict[str, Any]) -> dict[str, Any]:
    """Everything inside an affected area: cameras, water-level and rainfall sensors, open incidents."""
    from shapely.geometry import Point

    from cityhub.context import geo
    from cityhub.context.query import EntityQuery, query_entities

    _linked_agency(ctx, "disaster")
    poly = _polygon(area)
    coords = area.get("coordinates")
    sensors = []
    for etype in ("WaterLevelObserved", "WaterQualityObserved"):
        q = EntityQuery(types=[etype], key_values=True, limit=ctx.settings.context_max_limit,
                        geo=geo.parse_geoquery("within", area.get("type"), coords))
        for e in query_entities(ctx, query=q).items:
            sensors.append({"id": e["id"], "type": etype, "waterLevel": e.get("waterLevel"),
                            "precipitation": e.get("precipitation"), "location": e.get("location")})
    min_lon, min_lat, max_lon, max_lat = poly.bounds
    open_incidents = [i for i in ctx.db.scalars(select(Incident).where(
        Incident.closed_at.is_(None), Incident.lat.between(min_lat, max_lat), Incident.lon.between(min_lon, max_lon)))
        if poly.covers(Point(i.lon, i.lat))]
    cams = cameras.within(ctx, poly)
    note(ctx, "linked.disaster_area", detail={"cameras": len(cams), "incidents": len(open_incidents)})
    return {"cameras": [{"id": c.camera_id, "name": c.name, "usage": c.usage, "location": {"lon": c.lon, "lat": c.lat}}
                        for c in cams],
            "sensors": sensors, "incidents": [_public(i, []).model_dump(mode="json") for i in open_incidents]}


def broadcast(ctx: RequestContext, *, message: str, incident_id: str | None = None,
              area: dict[str, Any] | None = None) -> dict[str, Any]:
    """An instruction to every agency (outbox: each receives it once), on the incident's timeline if given."""
    agency = actor_agency(ctx)
    if agency is None:
        policy.require(ctx, "linked.broadcast")
    else:
        _linked_agency(ctx, "disaster")
    if not message.strip():
        raise Invalid.field("message", "must not be empty")
    if area is not None:
        _polygon(area)
    key = f"broadcast:{uuid.uuid4()}"
    if incident_id:
        inc = _incident_for(ctx, incident_id)
        ctx.db.add(IncidentEvent(incident_id=inc.id, kind="instruction", actor_id=ctx.actor.user_id,
                                 actor_label=agency.code if agency else ctx.actor.email, note=message))
    targets = [a for a in active_agencies(ctx) if agency is None or a.id != agency.id]
    sent = deliveries.enqueue(ctx, event="instruction.broadcast", key=key, incident_id=incident_id,
                              payload={"instruction": {"message": message, "area": area, "incident_id": incident_id,
                                                       "from": agency.code if agency else "city-control-centre"}},
                              agencies=targets)
    ctx.publish("instruction.broadcast", {"incident_id": incident_id, "agencies": [a.code for a in targets]})
    return {"broadcast": key, "agencies": [a.code for a in targets], "deliveries": sent}
