"""JSON arrays of objects and GeoJSON FeatureCollections.

orjson refuses nesting deeper than 1024 levels with an error (never a RecursionError), and an
iterative walk then enforces settings.json_max_depth, so a 10,000-deep document is a clean 4xx.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from cityhub.datastore.importers.base import RawTable, clean_column_names
from cityhub.errors import Invalid
from cityhub.settings import Settings


def check_depth(document: Any, max_depth: int) -> None:
    """Raise Invalid when containers nest deeper than max_depth (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise Invalid.field("file", f"JSON nests deeper than {max_depth} levels")
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def _load(path: Path, settings: Settings) -> Any:
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if not raw.strip():
        raise Invalid.field("file", "the file is empty")
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "depth" in str(exc) or "recursion" in str(exc):
            raise Invalid.field("file", f"JSON nests deeper than {settings.json_max_depth} levels") from None
        raise Invalid.field("file", f"not valid JSON: {exc}") from None
    if isinstance(document, dict | list):
        check_depth(document, settings.json_max_depth)
    return document


def _cell(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


def _records_table(records: list[dict[str, Any]], extra: dict[str, list[str | None]] | None = None) -> RawTable:
    keys: dict[str, None] = {}
    for record in records:
        keys.update(dict.fromkeys(record))
    names = clean_column_names([*keys, *(extra or {})])
    columns = {name: [_cell(r.get(key)) for r in records] for name, key in zip(names, keys, strict=False)}
    for name, values in (extra or {}).items():
        columns[name] = values
    table = pa.table({f"c{i}": pa.array(columns[n], pa.string()) for i, n in enumerate(names)})
    return RawTable(columns=names, table=table.rename_columns(names))


def _features(document: dict[str, Any]) -> RawTable:
    features = document.get("features")
    if not isinstance(features, list):
        raise Invalid.field("features", "a GeoJSON FeatureCollection needs a list of features")
    props: list[dict[str, Any]] = []
    geometry: list[str | None] = []
    lon: list[str | None] = []
    lat: list[str | None] = []
    for i, feature in enumerate(features):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise Invalid.field(f"features[{i}]", "is not a GeoJSON Feature")
        props.append(feature.get("properties") or {})
        geom = feature.get("geometry")
        geometry.append(orjson.dumps(geom).decode() if geom else None)
        point = geom.get("coordinates") if isinstance(geom, dict) and geom.get("type") == "Point" else None
        ok = isinstance(point, list) and len(point) >= 2
        lon.append(str(point[0]) if ok else None)
        lat.append(str(point[1]) if ok else None)
    taken = {k.casefold() for p in props for k in p}
    extra = {"geometry": geometry}
    if any(v is not None for v in lon) and not {"lon", "lat"} & taken:
        extra.update(lon=lon, lat=lat)
    if "geometry" in taken:
        raise Invalid.field("properties", 'a property named "geometry" clashes with the geometry column')
    raw = _records_table(props, extra)
    raw.forced["geometry"] = "geometry"
    return raw


def read_json(path: Path, settings: Settings) -> RawTable:
    """A JSON array of objects, or a GeoJSON FeatureCollection (properties + geometry + lon/lat)."""
    document = _load(path, settings)
    if isinstance(document, dict) and document.get("type") == "FeatureCollection":
        return _features(document)
    if isinstance(document, dict):
        lists = [v for v in document.values() if isinstance(v, list)]
        if len(lists) == 1:  # {"records": [...]} style wrappers
            document = lists[0]
    if not isinstance(document, list):
        raise Invalid.field("file", "expected a JSON array of objects or a GeoJSON FeatureCollection")
    if not document:
        raise Invalid.field("file", "the JSON array is empty")
    for i, record in enumerate(document):
        if not isinstance(record, dict):
            raise Invalid.field(f"[{i}]", "every element of the array must be an object")
    return _records_table(document)
