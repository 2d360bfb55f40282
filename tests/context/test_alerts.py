"""Thresholds raise and clear Alert entities with severity and hysteresis, and publish alert.raised."""

from __future__ import annotations

from tests.context.conftest import NGSI, air

AID = "urn:ngsi-ld:Alert:pm25:AirQualityObserved:busan-0001"


def _pm25(client, headers, value: float) -> None:  # noqa: ANN001
    r = client.post(f"{NGSI}/entityOperations/upsert", json=[air(1, pm25=value)], headers=headers)
    assert r.status_code in (201, 204), r.text


def _alert(client) -> dict | None:  # noqa: ANN001
    r = client.get(f"{NGSI}/entities/{AID}", params={"options": "keyValues"})
    return r.json() if r.status_code == 200 else None


def test_pm25_bands_with_hysteresis(sqlite_client, sqlite_writer):
    c, h = sqlite_client, sqlite_writer.headers
    raised: list[dict] = []
    c.app.state.bus.subscribe("alert.raised", lambda t, p: raised.append(p) if p["rule"] == "pm25" else None)
    _pm25(c, h, 30)  # moderate: nothing
    assert _alert(c) is None
    _pm25(c, h, 40)  # bad
    alert = _alert(c)
    assert alert["severity"] == "high" and alert["status"] == "active" and alert["category"] == "environment"
    assert alert["alertSource"] == "urn:ngsi-ld:AirQualityObserved:busan-0001"
    assert [p["severity"] for p in raised] == ["high"]
    _pm25(c, h, 34)  # below the line, within hysteresis: still active
    assert _alert(c)["status"] == "active"
    _pm25(c, h, 36)
    assert len(raised) == 1  # hovering at the line does not flap
    _pm25(c, h, 80)  # very bad: escalates
    assert _alert(c)["severity"] == "critical" and [p["severity"] for p in raised] == ["high", "critical"]
    _pm25(c, h, 74)  # within hysteresis of 75: stays critical
    assert _alert(c)["severity"] == "critical"
    _pm25(c, h, 60)  # back to bad
    assert _alert(c)["severity"] == "high"
    _pm25(c, h, 20)  # good again: cleared
    alert = _alert(c)
    assert alert["status"] == "cleared" and "validTo" in alert
    r = c.get(f"{NGSI}/entities", params={"type": "Alert", "q": 'status=="active"', "count": "true"})
    assert r.headers["NGSILD-Results-Count"] == "0"


def test_traffic_and_river_rules(sqlite_client, sqlite_writer):
    c, h = sqlite_client, sqlite_writer.headers
    link = {"id": "urn:ngsi-ld:TrafficFlowObserved:link-7", "type": "TrafficFlowObserved",
            "averageVehicleSpeed": {"type": "Property", "value": 12.0}}
    gauge = {"id": "urn:ngsi-ld:WaterLevelObserved:oncheon-1", "type": "WaterLevelObserved",
             "waterLevel": {"type": "Property", "value": 2.2}, "warningLevel": {"type": "Property", "value": 2.0},
             "alarmLevel": {"type": "Property", "value": 2.5},
             "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [129.08, 35.2]}}}
    r = c.post(f"{NGSI}/entityOperations/upsert", json=[link, gauge], headers=h)
    assert r.status_code in (201, 204)
    jam = c.get(f"{NGSI}/entities/urn:ngsi-ld:Alert:congestion:TrafficFlowObserved:link-7",
                params={"options": "keyValues"}).json()
    assert jam["severity"] == "medium" and jam["subCategory"] == "trafficJam"
    flood = c.get(f"{NGSI}/entities/urn:ngsi-ld:Alert:river:WaterLevelObserved:oncheon-1",
                  params={"options": "keyValues"}).json()
    assert flood["severity"] == "high" and flood["threshold"] == 2.0
    r = c.get(f"{NGSI}/entities", params={"type": "Alert", "district": "Dongnae-gu"})
    assert [a["id"] for a in r.json()] == ["urn:ngsi-ld:Alert:river:WaterLevelObserved:oncheon-1"]
