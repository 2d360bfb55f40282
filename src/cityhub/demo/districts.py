"""Busan's 16 districts (구·군) from the reference list shipped with the package.

Only the districts are real; everything the demo hangs on them is synthetic. The reference gives
each district's centre, not its boundary, so demo points are drawn within a radius smaller than
half the distance to the nearest other centre: such a point is always closer to its own centre
than to any other, i.e. inside the district's Voronoi cell (which is how the context domain draws
district polygons).
"""

from __future__ import annotations

import csv
import math
import random
from dataclasses import dataclass
from functools import cache
from pathlib import Path

CSV_PATH = Path(__file__).with_name("busan_districts.csv")
KM_PER_DEG_LAT = 110.95


@dataclass(frozen=True)
class District:
    code: str  # 시군구 코드 (sigungu code), e.g. 26350
    name_ko: str
    name_en: str
    lat: float
    lon: float
    area_km2: float
    population: int
    radius_km: float  # points drawn within this distance stay inside the district

    @property
    def slug(self) -> str:
        """Organization name in URLs: `haeundae-gu`."""
        return self.name_en.lower()


def _distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    dy = (lat2 - lat1) * KM_PER_DEG_LAT
    dx = (lon2 - lon1) * KM_PER_DEG_LAT * math.cos(math.radians((lat1 + lat2) / 2))
    return math.hypot(dx, dy)


@cache
def districts() -> tuple[District, ...]:
    """The 16 districts in sigungu-code order."""
    with CSV_PATH.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for row in rows:
        lat, lon = float(row["lat"]), float(row["lon"])
        nearest = min(
            _distance_km(lat, lon, float(o["lat"]), float(o["lon"])) for o in rows if o is not row
        )
        own = math.sqrt(float(row["area_km2"]) / math.pi)
        out.append(District(
            code=row["sigungu_code"], name_ko=row["name_ko"], name_en=row["name_en"], lat=lat, lon=lon,
            area_km2=float(row["area_km2"]), population=int(row["population"]),
            radius_km=min(own, nearest * 0.45),
        ))
    return tuple(out)


def by_code(code: str) -> District:
    for d in districts():
        if d.code == code:
            return d
    raise KeyError(code)


def random_point(district: District, rng: random.Random) -> tuple[float, float]:
    """A (lat, lon) inside the district, uniform over a disc around its centre."""
    r = district.radius_km * math.sqrt(rng.random())
    angle = rng.random() * 2 * math.pi
    lat = district.lat + (r * math.sin(angle)) / KM_PER_DEG_LAT
    lon = district.lon + (r * math.cos(angle)) / (KM_PER_DEG_LAT * math.cos(math.radians(district.lat)))
    return round(lat, 6), round(lon, 6)


def population_weights() -> list[float]:
    """Relative weights for spreading synthetic counts over districts by population."""
    total = sum(d.population for d in districts())
    return [d.population / total for d in districts()]
