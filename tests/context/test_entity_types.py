"""Issue 5 parts 4 and 5 gaps: every listed entity type is stored, typed and placed in its district
(point-in-polygon on write, also when it moves and outside the city); PM10 bands, the river alarm level and
congestion raise, escalate and clear their alerts (both backends)."""

from __future__ import annotations

import csv
from pathlib import Path

from tests.context.conftest import NGSI

CENTRES = {row["name_en"]: (float(row["lon"]), float(row["lat"])) for row in csv.DictReader(
    (Path(__file__).resolve().parents[2] / "src/cityhub/context/data/busan_districts.csv").open(encoding="utf-8"))}
TYPES = {  # type -> (district it stands in, a typical attribute)
    "AirQualityObserved": ("Jung-gu", {"pm25": {"type": "Property", "value": 12.0}}),
    "TrafficFlowObserved": ("Seo-gu", {"averageVehicleSpeed": {"type": "Property", "value": 42.0}}),
    "WaterQualityObserved": ("Dong-gu", {"pH": {"type": "Property", "value": 7.2}}),
    "NoiseLevelObserved": ("Yeongdo-gu", {"LAeq": {"type": "Property", "value": 55.0}}),
    "Device": ("Busanjin-gu", {"category": {"type": "Property", "value": ["sensor"]},
                               "controlledProperty": {"type": "Property", "value": ["pm25"]}}),
    "Camera": ("Dongnae-gu", {"cameraUsage": {"type": "Property", "value": "TRAFFIC"}}),
    "Alert": ("Nam-gu", {"category": {"type": "Property", "value": "weather"},
                         "severity": {"type": "Property", "value": "low"}}),
    "WaterLevelObserved": ("Buk-gu", {"waterLevel": {"type": "Property", "value": 0.8}}),
    "RainfallObserved": ("Haeundae-gu", {"precipitation": {"type": "Property", "value": 3.5}}),
}


def _entity(etype: str, where: tuple[float, float], n: int = 1, **attrs: object) -> dict:
    return {"id": f"urn:ngsi-ld:{etype}:typed-{n}", "type": etype, **attrs,
            "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": list(where)}}}


def _in(client, district: str, etype: str) -> list[str]:  # noqa: ANN001
    r = client.get(f"{NGSI}/entities", params={"type": etype, "district": district})
    assert r.status_code == 200, r.text
    return [e["id"] for e in r.json()]


def test_every_listed_type_is_stored_and_knows_its_district(client, writer):
    assert len(CENTRES) == 16
    batch = [_entity(t, CENTRES[d], **a) for t, (d, a) in TYPES.items()]
    r = client.post(f"{NGSI}/entityOperations/upsert", json=batch, headers=writer.headers)
    assert r.status_code == 201, r.text
    assert set(TYPES) <= set(client.get(f"{NGSI}/types").json()["typeList"])
    for etype, (district, attrs) in TYPES.items():
        eid = f"urn:ngsi-ld:{etype}:typed-1"
        assert _in(client, district, etype) == [eid], etype
        others = [d for d in CENTRES if d != district]
        assert all(_in(client, d, etype) == [] for d in others[:3]), etype
        got = client.get(f"{NGSI}/entities/{eid}", params={"options": "keyValues"}).json()
        assert got["type"] == etype and all(got[k] == v["value"] for k, v in attrs.items())
    # a gauge moved to another district follows; one outside Busan has no district
    moved = _entity("RainfallObserved", CENTRES["Gijang-gun"], **TYPES["RainfallObserved"][1])
    away = _entity("RainfallObserved", (151.2, -33.87), n=2, **TYPES["RainfallObserved"][1])
    r = client.post(f"{NGSI}/entityOperations/upsert", json=[moved, away], headers=writer.headers)
    assert r.status_code in (201, 204), r.text
    assert _in(client, "Gijang-gun", "RainfallObserved") == [moved["id"]]
    assert _in(client, "Haeundae-gu", "RainfallObserved") == []
    summary = {d["district"] for d in client.get("/api/v1/context/districts").json()}
    assert len(summary) == 16 and "Gijang-gun" in summary
    # each type is a catalog dataset with its own title
    from tests.context.conftest import publish_snapshots_now

    published = {d["type"]: d["dataset"] for d in publish_snapshots_now(client.app)}
    assert set(published) == set(TYPES)
    ds = client.get(f"/api/v1/datasets/{published['RainfallObserved']}", headers=writer.headers).json()
    assert ds["title_en"] == "Live rainfall"


def _kv(client, eid: str) -> dict | None:  # noqa: ANN001
    r = client.get(f"{NGSI}/entities/{eid}", params={"options": "keyValues"})
    return r.json() if r.status_code == 200 else None


def test_pm10_river_alarm_and_congestion_raise_escalate_and_clear(client, writer):
    h = writer.headers
    rules = {r["name"]: r for r in client.get("/api/v1/context/rules").json()["items"]}
    assert rules["pm10"]["lines"] == [[80, "high"], [150, "critical"]]

    def put(*entities: dict) -> None:
        r = client.post(f"{NGSI}/entityOperations/upsert", json=list(entities), headers=h)
        assert r.status_code in (201, 204), r.text

    station = "urn:ngsi-ld:AirQualityObserved:pm10-1"
    pm10_alert = "urn:ngsi-ld:Alert:pm10:AirQualityObserved:pm10-1"

    def pm10(v: float) -> dict:
        return {"id": station, "type": "AirQualityObserved", "pm10": {"type": "Property", "value": v}}

    put(pm10(75))  # moderate: nothing
    assert _kv(client, pm10_alert) is None
    put(pm10(90))
    assert _kv(client, pm10_alert)["severity"] == "high"
    put(pm10(160))
    assert _kv(client, pm10_alert)["severity"] == "critical"
    put(pm10(80 - rules["pm10"]["hysteresis"] / 2))  # under the line, within the hysteresis: still raised
    assert _kv(client, pm10_alert)["status"] == "active"
    put(pm10(20))
    assert _kv(client, pm10_alert)["status"] == "cleared"

    gauge = "urn:ngsi-ld:WaterLevelObserved:suyeong-1"
    river_alert = "urn:ngsi-ld:Alert:river:WaterLevelObserved:suyeong-1"

    def level(v: float) -> dict:
        return {"id": gauge, "type": "WaterLevelObserved", "waterLevel": {"type": "Property", "value": v},
                "warningLevel": {"type": "Property", "value": 2.0}, "alarmLevel": {"type": "Property", "value": 2.5}}

    put(level(2.7))  # past its own alarm level
    alert = _kv(client, river_alert)
    assert alert["severity"] == "critical" and alert["status"] == "active" and alert["subCategory"] == "flood"
    put(level(0.5))
    assert _kv(client, river_alert)["status"] == "cleared"

    link = "urn:ngsi-ld:TrafficFlowObserved:link-9"
    jam_alert = "urn:ngsi-ld:Alert:congestion:TrafficFlowObserved:link-9"
    put({"id": link, "type": "TrafficFlowObserved", "averageVehicleSpeed": {"type": "Property", "value": 9.0}})
    assert _kv(client, jam_alert)["status"] == "active"
    put({"id": link, "type": "TrafficFlowObserved", "averageVehicleSpeed": {"type": "Property", "value": 45.0}})
    assert _kv(client, jam_alert)["status"] == "cleared"
    r = client.get(f"{NGSI}/entities", params={"type": "Alert", "q": 'status=="active"', "count": "true"})
    assert r.headers["NGSILD-Results-Count"] == "0"
