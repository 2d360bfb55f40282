"""The geo narrowing of an entity query in SQL: indexed latitude bands and longitude range, the bounding-box
overlap, and for `near` a Point the flat-projection circle, all on bind parameters.

The statement's shape (which of these terms appear) is separate from its values (the box, the centre, the
radius), so a query's conditions can be built once per shape and executed with new values each time
(query.py keeps them): building the ~40 expression objects cost ~1 ms CPU per query, more than the index
seek they describe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, and_, bindparam, func, or_

from cityhub.context import geo
from cityhub.context.models import ContextEntity, lat_band

T = ContextEntity.__table__
M_PER_DEG = math.pi * 6_371_008.8 / 180  # the sphere geo.distance_m uses
EARTH_R = 6_371_008.8
MAX_BANDS = 200  # a wider box (> 2° of latitude) scans a band range instead
MAX_FLAT_RADIUS_M = 20_000.0  # beyond this the flat prefilter's margin is not worth its bound: no prefilter


@dataclass(frozen=True)
class GeoShape:
    box: bool  # the relation can be boxed (not disjoint, not near without maxDistance)
    band_range: bool  # the box spans more than MAX_BANDS bands: a range, not an IN list
    circle: bool  # near a Point on location within MAX_FLAT_RADIUS_M: the flat circle prefilter


def point_near(g: geo.GeoQuery | None) -> bool:
    """near a Point on `location` with maxDistance (what maps and subscriptions ask): answered from the
    indexed lat/lon columns, without reading the attributes' JSON of entities that are not shown."""
    return (g is not None and g.rel == "near" and g.geoproperty == "location" and g.max_distance is not None
            and g.geom.geom_type == "Point")


def _band_limits(lo: float, hi: float, dialect: str) -> tuple[int, int]:
    """The first and last latitude band a range touches, as the database computes CAST(lat * 100 AS INTEGER):
    SQLite truncates toward zero, PostgreSQL rounds to nearest (half to even, as Python's round); both are
    monotonic, so the bands of lo and hi bound every band between. The multiplication is the same IEEE
    double product in Python and in the database. Other dialects: floor and ceil with one band either side."""
    if dialect == "sqlite":
        return math.trunc(lo * 100), math.trunc(hi * 100)
    if dialect == "postgresql":
        return round(lo * 100), round(hi * 100)
    return math.floor(lo * 100) - 1, math.ceil(hi * 100) + 1


def shape_and_params(g: geo.GeoQuery, pad: float, dialect: str) -> tuple[GeoShape, dict[str, Any]]:
    """The shape of a geo query's conditions and the values of their parameters."""
    params: dict[str, Any] = {}
    box = g.bbox()
    band_range = False
    if box is not None:
        min_lon, min_lat, max_lon, max_lat = box
        # The representative point lies within the box grown by the largest entity extent indexed
        # (uses the type+band+lon index); the exact bbox overlap and the exact test follow.
        first, last = _band_limits(min_lat - pad, max_lat + pad, dialect)
        band_range = last - first > MAX_BANDS
        if band_range:
            params.update(g_band_lo=first, g_band_hi=last)
        else:
            params["g_bands"] = list(range(first, last + 1))
        params.update(g_lat_lo=min_lat - pad, g_lat_hi=max_lat + pad, g_lon_lo=min_lon - pad, g_lon_hi=max_lon + pad,
                      g_min_lat=min_lat, g_max_lat=max_lat, g_min_lon=min_lon, g_max_lon=max_lon)
    circle = point_near(g) and g.max_distance <= MAX_FLAT_RADIUS_M
    if circle:
        params.update(g_x=g.geom.x, g_y=g.geom.y, g_kx=M_PER_DEG * math.cos(math.radians(g.geom.y)),
                      g_reach2=_reach(g.max_distance, g.geom.y) ** 2)
    return GeoShape(box is not None, band_range, circle), params


def _reach(max_distance: float, lat: float) -> float:
    """The flat circle's radius: the distance grown by a bound of the flat projection's error against the
    great circle (relative error ≲ (d/R)·tan|lat|: 0.02 % at 2 km in Busan, 1.8 % at 20 km at 80°), plus
    0.5 % and a metre. Was a flat 5 %: ~8 % more candidates whose JSON q then parsed, for nothing."""
    tan = math.tan(math.radians(min(abs(lat), 85.0)))
    return max_distance * (1.005 + 2 * max_distance / EARTH_R * tan) + 1.0


def conditions(shape: GeoShape) -> list[Any]:
    """The geo terms for a shape, on bind parameters named as shape_and_params names them."""
    conds: list[Any] = []
    if shape.box:
        band = lat_band(T.c.lat)
        if shape.band_range:
            conds.append(band.between(bindparam("g_band_lo"), bindparam("g_band_hi")))
        else:
            # a short IN list lets the index seek each band's longitude range
            conds.append(band.in_(bindparam("g_bands", expanding=True)))
        conds.append(and_(T.c.lat.between(bindparam("g_lat_lo"), bindparam("g_lat_hi")),
                          T.c.lon.between(bindparam("g_lon_lo"), bindparam("g_lon_hi")),
                          T.c.max_lat >= bindparam("g_min_lat"), T.c.min_lat <= bindparam("g_max_lat"),
                          T.c.max_lon >= bindparam("g_min_lon"), T.c.min_lon <= bindparam("g_max_lon")))
    if shape.circle:
        conds.append(_within_circle())
    conds.append(T.c.min_lat.is_not(None))
    return conds


def _flat_d2() -> Any:
    """The squared flat-projected distance in metres² from the query's point (the g_x/g_y/g_kx parameters)."""
    dx = (T.c.lon - bindparam("g_x")) * bindparam("g_kx")
    dy = (T.c.lat - bindparam("g_y")) * M_PER_DEG
    return dx * dx + dy * dy


_FLAT_D2 = _flat_d2()


def _within_circle() -> Any:
    """Point entities within the flat-projected circle (the exact great-circle test follows);
    entities with an extent (min != max) pass through to the shapely test."""
    return or_(T.c.min_lat != T.c.max_lat, T.c.min_lon != T.c.max_lon, _FLAT_D2 <= bindparam("g_reach2"))


# A point entity (no extent): the near test on its indexed coordinates is exact.
FLAT = and_(T.c.min_lat == T.c.max_lat, T.c.min_lon == T.c.max_lon)


def flat_circle(g: geo.GeoQuery) -> bool:
    """Whether a point near query's terms carry the flat circle (and its parameters): see shape_and_params."""
    return point_near(g) and g.max_distance <= MAX_FLAT_RADIUS_M


def distance_params(g: geo.GeoQuery) -> dict[str, Any]:
    """The centre and distances of a point near query, for within_distance's parameters."""
    p1 = math.radians(g.geom.y)
    return {"n_x": g.geom.x, "n_p1": p1, "n_cos_p1": math.cos(p1), "n_2r": 2 * EARTH_R,
            "n_max": g.max_distance, "n_min": g.min_distance, "n_inner2": _inner(g.max_distance, g.geom.y)}


def _inner(max_distance: float, lat: float) -> float:
    """The squared flat radius within which every point is surely within max_distance on the great circle:
    _reach's error bound taken the other way (sampled: at most 0.995 × max_distance inside it, latitudes to
    ±80°). Beyond ±80° the flat projection's error grows fast: -1, so every point takes the exact test."""
    if abs(lat) > 80.0:
        return -1.0
    tan = math.tan(math.radians(abs(lat)))
    inner = max_distance / (1.005 + 2 * max_distance / EARTH_R * tan) - 1.0
    return inner * inner if inner > 0 else -1.0


def _haversine() -> Any:
    """geo.distances_m in SQL, term for term and in the same order of operations (SQLite's math functions,
    PostgreSQL's own; radians multiply by the same π/180 double as numpy), so a boundary station falls on the
    same side as the numpy test that ran here before (the edge tests put stations 0.05 % either side)."""
    p2 = func.radians(T.c.lat)
    s1 = func.sin((p2 - bindparam("n_p1", type_=Float)) / 2.0)
    s2 = func.sin(func.radians(T.c.lon - bindparam("n_x", type_=Float)) / 2.0)
    a = s1 * s1 + (bindparam("n_cos_p1", type_=Float) * func.cos(p2)) * (s2 * s2)
    return bindparam("n_2r", type_=Float) * func.asin(func.sqrt(a))


_DISTANCE = _haversine()
_MAX = _DISTANCE <= bindparam("n_max", type_=Float)
# The flat distance first where the terms have the flat circle: ~98 % of the points within maxDistance are
# well inside it and skip the nine SQL function calls of the haversine (~1 ms CPU of 1,100 rows at 2 km);
# the ring near the edge still takes the exact test, so the answer is the haversine's. OR is evaluated in order.
_MAX_FLAT = or_(_FLAT_D2 <= bindparam("n_inner2", type_=Float), _MAX)
_MIN = _DISTANCE >= bindparam("n_min", type_=Float)
_WITHIN = {(False, False): _MAX, (True, False): and_(_MAX, _MIN),
           (False, True): _MAX_FLAT, (True, True): and_(_MAX_FLAT, _MIN)}


def within_distance(with_min: bool, flat: bool = False) -> Any:
    """A point entity within maxDistance (and beyond minDistance when asked) of the query's point; `flat`
    when the terms carry the flat circle's parameters (flat_circle), so the sure inside skips the haversine."""
    return _WITHIN[(with_min, flat)]
