"""Incoming NGSI-LD entities and attributes: validate, normalize, and render back (normalized or keyValues).

Every entity is stored normalized (`{"type": "Property", "value": …}`); simplified input (plain
values, a bare GeoJSON `location`) is accepted and normalized on the way in.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from cityhub.context.jsonld import compact_name
from cityhub.context.problems import BadRequestData

ATTR_TYPES = {"Property", "Relationship", "GeoProperty", "LanguageProperty", "VocabProperty", "ListProperty",
              "JsonProperty"}
RESERVED = {"id", "type", "@context", "createdAt", "modifiedAt", "scope", "deletedAt"}
GEO_TYPES = {"Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon"}
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")
_NAME = re.compile(r"^[A-Za-z0-9_@#:/\-.]+$")
MAX_FUTURE = timedelta(days=1)
_MAX_FUTURE_S = MAX_FUTURE.total_seconds()
# The common attribute shape, checked without the general walk below.
_GEO_NAMES = frozenset({"location", "observationSpace", "operationSpace"})
_PLAIN_KEYS = frozenset({"type", "value", "observedAt", "unitCode"})


@dataclass
class Footprint:
    """Where an entity is: a representative point and a bounding box, plus its district."""

    lon: float
    lat: float
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float


@lru_cache(maxsize=4096)
def _iso_instant(text: str) -> tuple[datetime, float] | None:
    # A batch repeats the same few observedAt strings thousands of times: parse each once.
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value, value.timestamp()


def observed_instant(text: Any, field: str) -> datetime:
    """An observedAt already validated on the way in (cached parse, no future check)."""
    parsed = _iso_instant(text) if isinstance(text, str) else None
    return parsed[0] if parsed is not None else parse_time(text, field)


def parse_time(text: Any, field: str) -> datetime:
    """An ISO 8601 date-time (Z or offset); refuse unparseable ones and ones far in the future."""
    if not isinstance(text, str):
        raise BadRequestData.field(field, "must be an ISO 8601 date-time string")
    parsed = _iso_instant(text)
    if parsed is None:
        raise BadRequestData.field(field, f"{text!r} is not an ISO 8601 date-time")
    if parsed[1] > time.time() + _MAX_FUTURE_S:
        raise BadRequestData.field(field, f"{text} lies in the future; observations must have happened")
    return parsed[0]


def _check_position(pos: Any, field: str) -> None:
    if not isinstance(pos, list) or len(pos) not in (2, 3) or not all(
            isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c) for c in pos):
        raise BadRequestData.field(field, f"a position must be [longitude, latitude], got {pos!r}")
    lon, lat = pos[0], pos[1]
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise BadRequestData.field(field, f"[{lon}, {lat}] is outside longitude -180..180 / latitude -90..90")


def _walk_positions(coords: Any, depth: int, field: str) -> None:
    if depth == 0:
        _check_position(coords, field)
        return
    if not isinstance(coords, list) or not coords:
        raise BadRequestData.field(field, "coordinates are nested wrongly for this geometry type")
    for c in coords:
        _walk_positions(c, depth - 1, field)


def geometry(value: Any, field: str) -> BaseGeometry:
    """Validate GeoJSON (no GeometryCollection) and return it as a shapely geometry."""
    if not isinstance(value, dict) or value.get("type") not in GEO_TYPES or "coordinates" not in value:
        raise BadRequestData.field(field, "must be a GeoJSON geometry (Point, LineString, Polygon, Multi*)")
    depth = {"Point": 0, "LineString": 1, "MultiPoint": 1, "Polygon": 2, "MultiLineString": 2,
             "MultiPolygon": 3}[value["type"]]
    _walk_positions(value["coordinates"], depth, field)
    if value["type"] in ("Polygon", "MultiPolygon"):
        polys = [value["coordinates"]] if value["type"] == "Polygon" else value["coordinates"]
        for rings in polys:
            for ring in rings:
                if len(ring) < 4 or ring[0] != ring[-1]:
                    raise BadRequestData.field(field, "a polygon ring needs at least 4 positions, first == last")
    try:
        geom = shape(value)
    except Exception as exc:  # shapely's own complaint, reported as the client's data error
        raise BadRequestData.field(field, f"invalid geometry: {exc}") from None
    if value["type"] == "LineString" and len(value["coordinates"]) < 2:
        raise BadRequestData.field(field, "a LineString needs at least 2 positions")
    return geom


def footprint(geom: BaseGeometry) -> Footprint:
    min_lon, min_lat, max_lon, max_lat = geom.bounds
    point = geom if geom.geom_type == "Point" else geom.representative_point()
    return Footprint(point.x, point.y, min_lon, min_lat, max_lon, max_lat)


def normalize_attr(name: str, value: Any, *, path: str | None = None) -> Any:
    """One attribute in normalized form; raises BadRequestData naming the attribute."""
    field = path or name
    if type(value) is dict and value.get("type") == "Property" and value.keys() <= _PLAIN_KEYS \
            and value.get("value") is not None and name not in _GEO_NAMES:
        # fast path: {"type": "Property", "value": v[, "observedAt": t][, "unitCode": u]}
        if "observedAt" in value:
            parse_time(value["observedAt"], f"{field}.observedAt")
        return dict(value)
    if isinstance(value, list) and value and all(isinstance(v, dict) and v.get("type") in ATTR_TYPES
                                                 for v in value):
        return [normalize_attr(name, v, path=f"{field}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict) and value.get("type") in ATTR_TYPES:
        kind = value["type"]
        out: dict[str, Any] = {"type": kind}
        if kind == "Relationship":
            obj = value.get("object")
            if not isinstance(obj, (str, list)) or not obj:
                raise BadRequestData.field(field, "a Relationship needs an object (a URI)")
            out["object"] = obj
        elif kind == "LanguageProperty":
            if not isinstance(value.get("languageMap"), dict):
                raise BadRequestData.field(field, "a LanguageProperty needs a languageMap")
            out["languageMap"] = value["languageMap"]
        else:
            if "value" not in value or value["value"] is None:
                raise BadRequestData.field(field, f"a {kind} needs a value")
            out["value"] = value["value"]
            if kind == "GeoProperty" or (name in _GEO_NAMES
                                         and isinstance(value["value"], dict) and "coordinates" in value["value"]):
                out["type"] = "GeoProperty"
                geometry(value["value"], f"{field}.value")
        for key, sub in value.items():
            if key in ("type", "value", "object", "languageMap", "createdAt", "modifiedAt"):
                continue
            if key == "observedAt":
                parse_time(sub, f"{field}.observedAt")
                out[key] = sub
            elif key in ("unitCode", "datasetId", "instanceId", "objectType", "lang"):
                out[key] = sub
            else:
                out[compact_name(key)] = normalize_attr(key, sub, path=f"{field}.{key}")
        return out
    if name == "location" and isinstance(value, dict) and "coordinates" in value:
        geometry(value, field)
        return {"type": "GeoProperty", "value": value}
    if value is None:
        raise BadRequestData.field(field, "null is not a value")
    return {"type": "Property", "value": value}


def normalize_fragment(body: Any, *, field_prefix: str = "") -> dict[str, Any]:
    """The attributes of an entity or fragment (id/type/@context/system attributes left out).

    The common attribute ({"type": "Property", "value": v[, "observedAt": t][, "unitCode": u]}) is checked
    here inline and kept as the very dict it came in (already normalized, and nothing mutates an entity's
    attribute dicts after): a batch holds 10,000 of them, and a call plus a copy each was a third of its
    parsing. Everything else goes through `normalize_attr`, with the same field-named 400s.
    """
    if not isinstance(body, dict):
        raise BadRequestData.field(field_prefix or "body", "must be a JSON object")
    out: dict[str, Any] = {}
    limit = time.time() + _MAX_FUTURE_S
    checked = None  # the observedAt last found valid: an entity's attributes mostly share one
    for key, value in body.items():
        if key in RESERVED:
            continue
        name = _NAMES.get(key)
        if name is None:
            name = _attr_name(key)
            if name is None:
                raise BadRequestData.field(compact_name(key),
                                           "attribute names use letters, digits and _ - : / # @ only")
        if type(value) is dict and value.get("type") == "Property" and value.get("value") is not None \
                and name not in _GEO_NAMES:
            timed = "observedAt" in value
            # its keys are among _PLAIN_KEYS (type and value are there): counted, no keys view allocated
            if len(value) == 2 + timed + ("unitCode" in value):
                if timed:
                    stamp = value["observedAt"]
                    if stamp != checked or type(stamp) is not str:
                        parsed = _iso_instant(stamp) if type(stamp) is str else None
                        if parsed is None or parsed[1] > limit:
                            parse_time(stamp, f"{name}.observedAt")  # the field-named 400 (or, a moment later, passes)
                        checked = stamp
                out[name] = value
                continue
        out[name] = normalize_attr(name, value)
    return out


# Attribute key -> its valid compact name (a plain dict: cheaper than an lru_cache call per attribute).
_NAMES: dict[str, str] = {}


def _attr_name(key: str) -> str | None:
    # the same few attribute names arrive thousands of times per batch
    name = compact_name(key)
    if not _NAME.match(name):
        return None
    if len(_NAMES) >= 4096:  # bounded against clients inventing names
        _NAMES.clear()
    _NAMES[key] = name
    return name


def entity_id_and_type(body: Any, *, need_type: bool = True) -> tuple[str, str | None]:
    if not isinstance(body, dict):
        raise BadRequestData.field("entity", "must be a JSON object")
    eid = body["id"] if "id" in body else body.get("@id")
    if not isinstance(eid, str) or not _URI.match(eid):
        raise BadRequestData.field("id", f"an entity id must be a URI (urn:ngsi-ld:Type:name), got {eid!r}")
    etype = body["type"] if "type" in body else body.get("@type")
    if isinstance(etype, list):
        etype = etype[0] if etype else None
    if etype is None:
        if need_type:
            raise BadRequestData.field("type", f"entity {eid} has no type")
        return eid, None
    if not isinstance(etype, str) or not etype:
        raise BadRequestData.field("type", "an entity type must be a string")
    return eid, compact_name(etype)


def location_footprint(attrs: dict[str, Any]) -> Footprint | None:
    loc = attrs.get("location")
    if isinstance(loc, list):
        loc = loc[0] if loc else None
    if not isinstance(loc, dict) or not isinstance(loc.get("value"), dict):
        return None
    value = loc["value"]
    if value.get("type") == "Point":
        lon, lat = value["coordinates"][0], value["coordinates"][1]
        return Footprint(lon, lat, lon, lat, lon, lat)
    return footprint(shape(value))


# --- rendering ------------------------------------------------------------------------------------

def simplify(attr: Any) -> Any:
    if isinstance(attr, list):
        return [simplify(a) for a in attr]
    if not isinstance(attr, dict):
        return attr
    if attr.get("type") == "Relationship":
        return attr.get("object")
    if attr.get("type") == "LanguageProperty":
        return attr.get("languageMap")
    return attr.get("value")


def render(entity_id: str, entity_type: str, attrs: dict[str, Any], *, key_values: bool = False,
           only: set[str] | None = None, sys_attrs: dict[str, str] | None = None) -> dict[str, Any]:
    """An entity for the wire, normalized or keyValues, optionally projected to some attributes."""
    out: dict[str, Any] = {"id": entity_id, "type": entity_type}
    for name, attr in attrs.items():
        if only is not None and name not in only:
            continue
        out[name] = simplify(attr) if key_values else attr
    if sys_attrs and not key_values:
        out.update(sys_attrs)
    return out
