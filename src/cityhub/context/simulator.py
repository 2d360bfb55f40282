"""A synthetic live Busan: air stations, traffic links, water stations and river gauges, cameras.

Deterministic for a seed. Values follow daily cycles (rush hours, quiet nights), two weather
episodes (a PM2.5 episode in the western industrial districts, a heavy-rain river rise) and sensor
faults (stuck values, gaps, spikes). `SimulatedCity.tick(at)` returns NGSI-LD entities (normalized);
publishers send them in process, over HTTP batch upsert, or over MQTT. `cityhub demo` imports this.
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shapely.geometry import Point

from cityhub.context.districts import District, districts

WEST_INDUSTRIAL = {"Gangseo-gu", "Saha-gu", "Sasang-gu", "Buk-gu", "Seo-gu"}


@dataclass(frozen=True)
class Scenario:
    """When the weather episodes happen (hours after the simulation start)."""

    pm_episode_start_h: float = 6.0
    pm_episode_hours: float = 8.0
    rain_start_h: float = 18.0
    rain_hours: float = 6.0
    fault_rate: float = 0.02


@dataclass
class Sensor:
    id: str
    kind: str
    district: str
    lon: float
    lat: float
    bias: float
    fault: str | None = None  # stuck | gappy | spiky
    stuck_value: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _points_in(d: District, n: int, rng: random.Random) -> Iterator[tuple[float, float]]:
    min_x, min_y, max_x, max_y = d.polygon.bounds
    made = 0
    while made < n:
        x, y = rng.uniform(min_x, max_x), rng.uniform(min_y, max_y)
        if d.polygon.contains(Point(x, y)):
            made += 1
            yield round(x, 6), round(y, 6)


def _spread(total: int, weights: list[float]) -> list[int]:
    raw = [total * w / sum(weights) for w in weights]
    counts = [int(r) for r in raw]
    for i in sorted(range(len(raw)), key=lambda i: raw[i] - counts[i], reverse=True)[: total - sum(counts)]:
        counts[i] += 1
    return counts


class SimulatedCity:
    """The sensor population and its readings at any moment."""

    def __init__(self, *, seed: int = 42, air: int = 300, traffic: int = 1000, water: int = 50, cameras: int = 1200,
                 start: datetime | None = None, scenario: Scenario | None = None) -> None:
        self.rng = random.Random(seed)
        self.start = (start or datetime.now(UTC)).astimezone(UTC)
        self.scenario = scenario or Scenario()
        self.sensors: list[Sensor] = []
        ds = list(districts())
        by_pop = [d.population for d in ds]
        by_area = [d.area_km2 for d in ds]
        for kind, total, weights, prefix in (("air", air, by_pop, "AirQualityObserved"),
                                             ("traffic", traffic, by_pop, "TrafficFlowObserved"),
                                             ("water", water, by_area, "WaterQualityObserved"),
                                             ("camera", cameras, by_pop, "Camera")):
            n = 0
            for d, count in zip(ds, _spread(total, weights), strict=True):
                for lon, lat in _points_in(d, count, self.rng):
                    n += 1
                    fault = None
                    if kind != "camera" and self.rng.random() < self.scenario.fault_rate:
                        fault = self.rng.choice(("stuck", "gappy", "spiky"))
                    sid = f"urn:ngsi-ld:{prefix}:busan-{kind}-{n:04d}"
                    self.sensors.append(Sensor(sid, kind, d.name_en, lon, lat, self.rng.uniform(-0.15, 0.15), fault))
        self.cameras_sent = False

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.sensors:
            out[s.kind] = out.get(s.kind, 0) + 1
        return out

    # --- the city's rhythms ------------------------------------------------------------------
    def _hours(self, at: datetime) -> float:
        return (at - self.start).total_seconds() / 3600

    def _local_hour(self, at: datetime) -> float:
        local = at + timedelta(hours=9)  # KST
        return local.hour + local.minute / 60

    def rush(self, at: datetime) -> float:
        """0 (empty roads) … 1 (peak rush hour), KST."""
        h = self._local_hour(at)
        peaks = math.exp(-((h - 8.3) ** 2) / 1.2) + 0.9 * math.exp(-((h - 18.5) ** 2) / 1.8)
        night = 0.15 if 0 <= h < 6 else 0.35
        return min(1.0, max(peaks, night))

    def _episode(self, at: datetime, start_h: float, hours: float) -> float:
        """0 outside, rising to 1 in the middle of an episode, back to 0."""
        x = (self._hours(at) - start_h) / hours
        return math.sin(math.pi * x) if 0 <= x <= 1 else 0.0

    # --- readings ----------------------------------------------------------------------------
    def _faulty(self, s: Sensor, value: float) -> float | None:
        if s.fault == "stuck":
            if s.stuck_value is None:
                s.stuck_value = value
            return s.stuck_value
        if s.fault == "gappy" and self.rng.random() < 0.3:
            return None
        if s.fault == "spiky" and self.rng.random() < 0.1:
            return value * 10
        return value

    def _air(self, s: Sensor, at: datetime, stamp: str) -> dict[str, Any] | None:
        episode = self._episode(at, self.scenario.pm_episode_start_h, self.scenario.pm_episode_hours)
        boost = 1 + (4.0 if s.district in WEST_INDUSTRIAL else 1.5) * episode
        pm25 = max(1.0, (14 + 12 * self.rush(at)) * (1 + s.bias) * boost + self.rng.gauss(0, 2))
        pm25 = self._faulty(s, round(pm25, 1))
        if pm25 is None:
            return None
        pm10 = round(pm25 * 1.7 + self.rng.gauss(0, 3), 1)
        no2 = round(0.01 + 0.03 * self.rush(at) + self.rng.uniform(0, 0.005), 4)
        return {"pm25": _p(pm25, stamp, "GQ"), "pm10": _p(max(pm10, pm25), stamp, "GQ"),
                "no2": _p(no2, stamp, "GP"), "o3": _p(round(0.02 + 0.01 * self.rng.random(), 4), stamp, "GP"),
                "airQualityLevel": _p(_band(pm25), stamp)}

    def _traffic(self, s: Sensor, at: datetime, stamp: str) -> dict[str, Any] | None:
        free = 55 * (1 + s.bias)
        speed = self._faulty(s, round(max(3.0, free * (1 - 0.8 * self.rush(at)) + self.rng.gauss(0, 3)), 1))
        if speed is None:
            return None
        return {"averageVehicleSpeed": _p(speed, stamp, "KMH"),
                "intensity": _p(int(40 + 900 * self.rush(at) * (1 + s.bias)), stamp),
                "occupancy": _p(round(min(1.0, 0.05 + 0.8 * self.rush(at)), 3), stamp),
                "congested": _p(speed < 15, stamp)}

    def _water(self, s: Sensor, at: datetime, stamp: str) -> dict[str, Any] | None:
        rain = self._episode(at, self.scenario.rain_start_h, self.scenario.rain_hours)
        turbidity = self._faulty(s, round(3 + 80 * rain + self.rng.uniform(0, 1), 2))
        if turbidity is None:
            return None
        level = round(1.2 + s.bias + 3.6 * rain + self.rng.uniform(0, 0.05), 2)
        return {"pH": _p(round(7.2 + s.bias + self.rng.gauss(0, 0.05), 2), stamp),
                "turbidity": _p(turbidity, stamp), "temperature": _p(round(14 + 3 * s.bias, 1), stamp, "CEL"),
                "O2": _p(round(8 - 2 * rain, 2), stamp), "waterLevel": _p(level, stamp, "MTR"),
                "precipitation": _p(round(40 * rain, 1), stamp)}

    def tick(self, at: datetime) -> list[dict[str, Any]]:
        """Every sensor's entity at `at` (cameras only on the first tick; faulty sensors may skip)."""
        stamp = at.astimezone(UTC).isoformat().replace("+00:00", "Z")
        out = []
        for s in self.sensors:
            base = {"id": s.id, "location": {"type": "GeoProperty", "value": self._geometry(s)},
                    "dateObserved": {"type": "Property", "value": stamp}}
            if s.kind == "camera":
                if self.cameras_sent:
                    continue
                attrs = {"cameraName": {"type": "Property", "value": f"{s.district} CCTV {s.id[-4:]}"},
                         "cameraUsage": {"type": "Property", "value": self.rng.choice(["SURVEILLANCE", "TRAFFIC"])},
                         "cameraType": {"type": "Property", "value": self.rng.choice(["FIXED", "PTZ", "DOME"])},
                         "on": {"type": "Property", "value": True}}
                out.append({**base, "type": "Camera", **attrs})
                continue
            make = {"air": self._air, "traffic": self._traffic, "water": self._water}[s.kind]
            attrs = make(s, at, stamp)
            if attrs is None:
                continue
            etype = {"air": "AirQualityObserved", "traffic": "TrafficFlowObserved", "water": "WaterQualityObserved"}
            out.append({**base, "type": etype[s.kind], **attrs})
            if s.kind == "water":  # the same station reports the river level as a flood-watch entity
                out.append({"id": s.id.replace("WaterQualityObserved", "WaterLevelObserved"),
                            "type": "WaterLevelObserved", "location": base["location"],
                            "waterLevel": attrs["waterLevel"], "warningLevel": _p(3.0, stamp, "MTR"),
                            "alarmLevel": _p(4.5, stamp, "MTR")})
        self.cameras_sent = True
        return out

    def _geometry(self, s: Sensor) -> dict[str, Any]:
        if s.kind == "traffic":
            heading = (zlib.crc32(s.id.encode()) % 360) * math.pi / 180
            end = [round(s.lon + 0.003 * math.cos(heading), 6), round(s.lat + 0.003 * math.sin(heading), 6)]
            return {"type": "LineString", "coordinates": [[s.lon, s.lat], end]}
        return {"type": "Point", "coordinates": [s.lon, s.lat]}


def _p(value: Any, stamp: str, unit: str | None = None) -> dict[str, Any]:
    out = {"type": "Property", "value": value, "observedAt": stamp}
    if unit:
        out["unitCode"] = unit
    return out


def _band(pm25: float) -> str:
    return "good" if pm25 <= 15 else "moderate" if pm25 <= 35 else "bad" if pm25 <= 75 else "veryBad"


def chunks(items: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
