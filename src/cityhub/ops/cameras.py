"""The CCTV registry: Camera entities of the context domain, indexed on a grid for "nearest within a radius".

Cameras live in the context domain (NGSI-LD `Camera`: cameraName, cameraUsage, streamURL, on,
location). This module keeps a narrow copy keyed by grid cell (≈550 m squares) in `ops_camera_cells`,
refreshed from the context query service at start-up, when a batch with cameras is written, and on
demand. Each process answers radius queries from an in-memory snapshot of that table (a dict of
cells), reloaded when the index's state token in the database changes: a query costs one indexed
one-row read and a few dozen distance computations, with no per-camera row objects to build.
"""

from __future__ import annotations

import gc
import logging
import math
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, insert, select, update

from cityhub.auth import policy
from cityhub.ctx import RequestContext
from cityhub.db import utcnow
from cityhub.errors import Invalid
from cityhub.ops.models import CameraCell, CameraIndexState
from cityhub.ops.schemas import CameraPublic, Location

log = logging.getLogger("cityhub.ops.cameras")
C = CameraCell.__table__
S = CameraIndexState.__table__
CELL_LAT = 0.005  # ≈ 555 m
CELL_LON = 0.006  # ≈ 545 m at Busan's latitude
# Usage words of the city's control centre → the FIWARE Camera cameraUsage values they cover.
USAGES: dict[str, frozenset[str]] = {
    "crime_prevention": frozenset({"SURVEILLANCE"}),
    "traffic": frozenset({"TRAFFIC", "RLVD", "ANPR"}),
    "disaster": frozenset({"DISASTER"}),
    "parking": frozenset({"PARKING"}),
}


def cell_of(lon: float, lat: float) -> int:
    return math.floor(lat / CELL_LAT) * 100_000 + math.floor(lon / CELL_LON)


def cells_around(lon: float, lat: float, radius_m: float) -> list[tuple[int, int]]:
    """The cells a circle of `radius_m` around the point can touch, as one key range per grid row."""
    d_lat = radius_m / 110_574.0
    d_lon = radius_m / (111_320.0 * max(math.cos(math.radians(lat)), 0.01))
    rows = range(math.floor((lat - d_lat) / CELL_LAT), math.floor((lat + d_lat) / CELL_LAT) + 1)
    first, last = math.floor((lon - d_lon) / CELL_LON), math.floor((lon + d_lon) / CELL_LON)
    return [(r * 100_000 + first, r * 100_000 + last) for r in rows]


def _distance(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(a))


@dataclass(frozen=True)
class NearCamera:
    id: str
    name: str | None
    usage: str | None
    district: str | None
    lon: float
    lat: float
    stream_url: str | None
    distance_m: float

    def public(self) -> CameraPublic:
        return CameraPublic(id=self.id, name=self.name, usage=self.usage, district=self.district,
                            location=Location(lon=self.lon, lat=self.lat), distance_m=round(self.distance_m, 1))


def usage_values(usage: str | None) -> frozenset[str] | None:
    if not usage:
        return None
    if usage in USAGES:
        return USAGES[usage]
    if usage.upper() in {v for vs in USAGES.values() for v in vs}:
        return frozenset({usage.upper()})
    raise Invalid.field("usage", f"one of {', '.join(USAGES)} (or a FIWARE cameraUsage value)")


# (lon, lat, id, name, usage, upper-cased usage, district, stream URL): tuples of atoms, which the
# garbage collector stops tracking, so a large registry adds nothing to collection pauses.
Entry = tuple[float, float, str, str | None, str | None, str, str | None, str | None]


@dataclass
class Snapshot:
    token: str | None
    cells: dict[int, list[Entry]] = field(default_factory=dict)
    size: int = 0


_snapshots: dict[str, Snapshot] = {}  # by database URL: one per database this process talks to
_load_lock = threading.Lock()


def _db_key(ctx: RequestContext) -> str:
    return str(ctx.db.get_bind().url)


def snapshot(ctx: RequestContext) -> Snapshot:
    """The index as of the database's current state token (reloaded in this transaction when it moved)."""
    # A plain statement: building and caching an expression costs more than the read itself.
    token = ctx.db.connection().exec_driver_sql("SELECT token FROM ops_camera_index_state WHERE id = 1").scalar()
    key = _db_key(ctx)
    snap = _snapshots.get(key)
    if snap is not None and snap.token == token:
        return snap
    with _load_lock:
        snap = Snapshot(token)
        cols = (C.c.lon, C.c.lat, C.c.camera_id, C.c.name, C.c.usage, C.c.district, C.c.stream_url)
        for lon, lat, cid, name, usage, district, url in ctx.db.execute(select(*cols).where(C.c.active.is_(True))):
            snap.cells.setdefault(cell_of(lon, lat), []).append(
                (lon, lat, cid, name, usage, (usage or "").upper(), district, url))
            snap.size += 1
        _snapshots[key] = snap
    return snap


_frozen = threading.Event()


def freeze_after_load(ctx: RequestContext) -> None:
    """Load the snapshot, then move everything alive so far (the app, its imports, the snapshot) out of the
    collector's reach (gc.freeze): later collections only scan what requests allocate. Once per process (a
    process creating many apps, like the test suite, must not freeze each one's garbage for good)."""
    snapshot(ctx)
    if not _frozen.is_set():
        _frozen.set()
        gc.collect()
        gc.freeze()


def nearest(ctx: RequestContext, *, lon: float, lat: float, radius_m: float, usage: str | None = None,
            limit: int = 20) -> list[NearCamera]:
    """Active cameras within `radius_m` of the point, nearest first (no policy check: callers check)."""
    wanted = usage_values(usage)
    cells = snapshot(ctx).cells
    # Metres per degree here: a flat-earth pre-filter (exact to well under a metre at these radii), then the
    # great-circle distance only for the cameras kept.
    ky = 6_371_008.8 * math.pi / 180  # the sphere `_distance` uses, so the two agree
    kx = ky * math.cos(math.radians(lat))
    reach = (radius_m * 1.01) ** 2
    out = []
    for lo, hi in cells_around(lon, lat, radius_m):
        for cell in range(lo, hi + 1):
            for c_lon, c_lat, cid, name, c_usage, upper, district, url in cells.get(cell, ()):
                dx, dy = (c_lon - lon) * kx, (c_lat - lat) * ky
                if dx * dx + dy * dy > reach or (wanted is not None and upper not in wanted):
                    continue
                d = _distance(lon, lat, c_lon, c_lat)
                if d <= radius_m:
                    out.append(NearCamera(cid, name, c_usage, district, c_lon, c_lat, url, d))
    out.sort(key=lambda c: (c.distance_m, c.id))
    return out[:limit]


def find_nearest(ctx: RequestContext, *, location: Location, radius_m: float, usage: str | None = None,
                 limit: int = 20) -> list[CameraPublic]:
    """The nearest cameras to a point (operators and agencies)."""
    from cityhub.ops.service_agencies import actor_agency, ref

    agency = actor_agency(ctx)
    policy.require(ctx, "camera.read", ref(agency) if agency else None)
    if not 0 < radius_m <= 5000:
        raise Invalid.field("radius", "between 0 and 5000 metres")
    return [c.public() for c in nearest(ctx, lon=location.lon, lat=location.lat, radius_m=radius_m, usage=usage,
                                        limit=limit)]


def by_ids(ctx: RequestContext, ids: list[str]) -> dict[str, Any]:
    return {r.camera_id: r for r in ctx.db.execute(select(C).where(C.c.camera_id.in_(ids)))}


def within(ctx: RequestContext, polygon: Any) -> list[Any]:
    """Cameras inside a (shapely) polygon: bounding box on the grid, then the exact test."""
    from shapely.geometry import Point

    min_lon, min_lat, max_lon, max_lat = polygon.bounds
    stmt = select(C).where(C.c.lat.between(min_lat, max_lat), C.c.lon.between(min_lon, max_lon))
    return [r for r in ctx.db.execute(stmt) if polygon.covers(Point(r.lon, r.lat))]


# --- keeping the index in step with the context domain -------------------------------------------


def _row(entity: dict[str, Any], now: Any) -> dict[str, Any] | None:
    from cityhub.context.districts import district_for

    loc = entity.get("location")
    if not isinstance(loc, dict) or loc.get("type") != "Point":
        return None
    lon, lat = (float(v) for v in loc["coordinates"][:2])
    usage = entity.get("cameraUsage")
    return {"camera_id": entity["id"], "cell": cell_of(lon, lat), "lon": lon, "lat": lat,
            "usage": usage if isinstance(usage, str) else None, "name": entity.get("cameraName"),
            "district": district_for(lon, lat), "stream_url": entity.get("streamURL"),
            "active": entity.get("on", True) is not False, "refreshed_at": now}


def sync(ctx: RequestContext, *, ids: list[str] | None = None) -> int:
    """Copy Camera entities (all of them, or the given ids) from the context domain into the index."""
    from cityhub.context.query import EntityQuery, query_entities

    now = utcnow()
    rows: list[dict[str, Any]] = []
    page = max(1, min(1000, ctx.settings.context_max_limit))
    offset = 0
    while True:
        q = EntityQuery(types=["Camera"], ids=list(ids or []), limit=page, offset=offset, key_values=True)
        items = query_entities(ctx, query=q).items
        rows.extend(r for r in (_row(e, now) for e in items) if r is not None)
        if len(items) < page:
            break
        offset += page
    if ids is None:
        ctx.db.execute(delete(C))
    else:
        ctx.db.execute(delete(C).where(C.c.camera_id.in_(ids)))
    for start in range(0, len(rows), 1000):
        ctx.db.execute(insert(C), rows[start:start + 1000])
    _changed(ctx)
    return len(rows)


def _changed(ctx: RequestContext) -> None:
    """A new state token: every process's snapshot reloads on its next query (after this commits)."""
    values = {"token": str(uuid.uuid4()), "changed_at": utcnow()}
    if not ctx.db.execute(update(S).where(S.c.id == 1).values(**values)).rowcount:
        ctx.db.execute(insert(S).values(id=1, **values))


def on_batch(factory: Any, settings: Any, bus: Any) -> Any:
    """A bus handler: cameras written in a batch are re-indexed right after that batch commits."""
    from cityhub.ops.sensors import SENSOR_ACTOR

    def handle(_topic: str, payload: dict[str, Any]) -> None:
        if not (payload.get("types") or {}).get("Camera"):
            return
        ids = [i for i in payload.get("ids") or [] if ":Camera:" in i]
        complete = payload.get("entities") == len(payload.get("ids") or [])
        try:
            with factory() as db:
                ctx = RequestContext(actor=SENSOR_ACTOR, db=db, settings=settings, bus=bus, request_id="camera-sync")
                sync(ctx, ids=ids if complete else None)
                db.commit()
        except Exception:  # the writer already committed; a failed re-index is retried on the next one
            log.exception("camera index refresh failed")

    return handle
