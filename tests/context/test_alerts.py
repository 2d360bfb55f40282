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


def test_pm25_bands_with_hysteresis(client, writer):
    c, h = client, writer.headers
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


def test_traffic_and_river_rules(client, writer):
    c, h = client, writer.headers
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


def test_rules_are_data_editable_over_the_api(client, writer, people):
    c, h = client, writer.headers
    items = c.get("/api/v1/context/rules").json()["items"]
    pm25 = next(r for r in items if r["name"] == "pm25")
    assert pm25["lines"] == [[35, "high"], [75, "critical"]] and {"pm10", "congestion", "river"} <= {
        r["name"] for r in items}
    # a stricter local band for PM2.5 and a new noise rule, applied to the next observations
    stricter = {**{k: pm25[k] for k in ("entity_type", "attr", "direction", "hysteresis", "category",
                                       "sub_category", "description")}, "lines": [[25, "medium"], [50, "high"]]}
    r = c.put("/api/v1/context/rules/pm25", json=stricter, headers=h)
    assert r.status_code == 200, r.text
    noise = {"entity_type": "NoiseLevelObserved", "attr": "LAeq", "direction": "above", "lines": [[65, "low"]],
             "hysteresis": 2, "category": "environment", "sub_category": "noisePollution",
             "description": "소음 기준 초과 / noise above 65 dB"}
    assert c.put("/api/v1/context/rules/noise", json=noise, headers=h).status_code == 201
    _pm25(c, h, 30)
    assert _alert(c)["severity"] == "medium"
    meter = {"id": "urn:ngsi-ld:NoiseLevelObserved:n1", "type": "NoiseLevelObserved",
             "LAeq": {"type": "Property", "value": 70.0}}
    assert c.post(f"{NGSI}/entityOperations/upsert", json=[meter], headers=h).status_code == 201
    got = c.get(f"{NGSI}/entities/urn:ngsi-ld:Alert:noise:NoiseLevelObserved:n1", params={"options": "keyValues"})
    assert got.status_code == 200 and got.json()["severity"] == "low"
    # a disabled rule raises nothing
    assert c.put("/api/v1/context/rules/noise", json={**noise, "enabled": False}, headers=h).status_code == 200
    meter["id"] = "urn:ngsi-ld:NoiseLevelObserved:n2"
    c.post(f"{NGSI}/entityOperations/upsert", json=[meter], headers=h)
    assert c.get(f"{NGSI}/entities/urn:ngsi-ld:Alert:noise:NoiseLevelObserved:n2").status_code == 404
    # bad rules are refused naming the field; citizens cannot edit
    bad = c.put("/api/v1/context/rules/pm25", json={**stricter, "lines": [[50, "high"], [25, "medium"]]},
                headers=h)
    assert bad.status_code in (400, 422) and "lines" in bad.text
    bad = c.put("/api/v1/context/rules/pm25", json={**stricter, "lines": [[25, "awful"]]}, headers=h)
    assert bad.status_code in (400, 422) and "awful" in bad.text
    citizen = people.user("citizen@city.test", role="citizen")
    assert c.put("/api/v1/context/rules/pm25", json=stricter, headers=citizen.headers).status_code == 403
    assert c.delete("/api/v1/context/rules/noise", headers=citizen.headers).status_code == 403
    assert c.delete("/api/v1/context/rules/noise", headers=h).status_code == 204
    assert c.delete("/api/v1/context/rules/noise", headers=h).status_code == 404
    assert "noise" not in {r["name"] for r in c.get("/api/v1/context/rules").json()["items"]}
