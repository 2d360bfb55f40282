"""Busan's 16 districts as polygons, and which district a point lies in.

The reference data gives each district's centre, not its boundary, so the polygons are the
Voronoi cells of the centres clipped to a city bounding box: good enough to say "which district
is this sensor in" consistently everywhere (entities, pages, simulator). Others may reuse this.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import shapely
from shapely import STRtree
from shapely.geometry import MultiPoint, Point, box
from shapely.geometry.base import BaseGeometry
from shapely.ops import voronoi_diagram

CSV_PATH = Path(__file__).parent / "data" / "busan_districts.csv"
# The city's extent (lon/lat): from Gangseo-gu in the west to Gijang-gun in the north-east.
CITY_BOUNDS = (128.76, 34.98, 129.31, 35.40)


@dataclass(frozen=True)
class District:
    code: str
    name_ko: str
    name_en: str
    lon: float
    lat: float
    area_km2: float
    population: int
    polygon: BaseGeometry


@lru_cache(maxsize=1)
def districts() -> tuple[District, ...]:
    """Every district with its generated polygon (static reference data, computed once)."""
    with CSV_PATH.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    centres = MultiPoint([(float(r["lon"]), float(r["lat"])) for r in rows])
    bounds = box(*CITY_BOUNDS)
    cells = voronoi_diagram(centres, envelope=bounds)
    out = []
    for row in rows:
        centre = Point(float(row["lon"]), float(row["lat"]))
        cell = next(c for c in cells.geoms if c.contains(centre))
        out.append(District(code=row["sigungu_code"], name_ko=row["name_ko"], name_en=row["name_en"],
                            lon=centre.x, lat=centre.y, area_km2=float(row["area_km2"]),
                            population=int(row["population"]), polygon=cell.intersection(bounds)))
    return tuple(out)


def district_polygons() -> dict[str, BaseGeometry]:
    """English district name → polygon (lon/lat)."""
    return {d.name_en: d.polygon for d in districts()}


@lru_cache(maxsize=1)
def _index() -> tuple[STRtree, tuple[str, ...]]:
    """An STRtree over the (prepared) district polygons, built once."""
    ds = districts()
    for d in ds:
        shapely.prepare(d.polygon)
    return STRtree([d.polygon for d in ds]), tuple(d.name_en for d in ds)


@lru_cache(maxsize=65_536)
def district_for(lon: float, lat: float) -> str | None:
    """The English name of the district containing the point, or None outside the city.

    Sensors do not move, so the answer is cached per position."""
    tree, names = _index()
    hits = tree.query(Point(lon, lat), predicate="covered_by")
    # districts share their borders: the lowest index wins, as a scan in CSV order would
    return names[int(min(hits))] if len(hits) else None


def district_by_name(name: str) -> District | None:
    """Look a district up by English or Korean name, or by sigungu code."""
    for d in districts():
        if name in (d.name_en, d.name_ko, d.code):
            return d
    return None
