"""Validation on the NGSI-LD write path: an entity type's schema is its live-<type> dataset's schema."""

from __future__ import annotations

NGSI = "/ngsi-ld/v1"
SCHEMA = {"schema": {"fields": [
    {"name": "id", "type": "string", "constraints": {"required": True, "unique": True}},
    {"name": "district", "type": "string", "constraints": {"required": True}},  # derived: not checked on writes
    {"name": "pm10", "type": "number", "constraints": {"required": True, "minimum": 0, "maximum": 1000}},
    {"name": "districtCode", "type": "string", "codeList": "busan-district"},
    {"name": "grade", "type": "string", "constraints": {"enum": ["good", "moderate", "bad"]}},
]}}


def _entity(n: int, pm10: object = 30, **extra: object) -> dict:
    body = {"id": f"urn:ngsi-ld:AirQualityObserved:s{n}", "type": "AirQualityObserved",
            "pm10": {"type": "Property", "value": pm10},
            "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [129.06, 35.18]}}}
    body.update({k: {"type": "Property", "value": v} for k, v in extra.items()})
    return body


def _setup(client, people):  # noqa: ANN001, ANN202
    people.org("env", "환경정책과")
    steward = people.user("s@city.test", role="steward", org="env")
    body = {"name": "live-airqualityobserved", "title": "실시간 대기질", "owner_org": "env", "access_level": "public"}
    assert client.post("/api/v1/datasets", json=body, headers=steward.headers).status_code == 201
    r = client.put("/api/v1/governance/datasets/live-airqualityobserved/schema", json=SCHEMA,
                   headers=steward.headers)
    assert r.status_code == 200, r.text
    return steward


def _quarantine(client, steward):  # noqa: ANN001, ANN202
    return client.get("/api/v1/governance/datasets/live-airqualityobserved/quarantine",
                      params={"origin": "ngsi-ld"}, headers=steward.headers).json()


def test_types_without_a_schema_are_written_as_before(client, people) -> None:  # noqa: ANN001
    _setup(client, people)
    writer = people.user("o@city.test", role="operator")
    noisy = {"id": "urn:ngsi-ld:NoiseLevelObserved:n1", "type": "NoiseLevelObserved",
             "pm10": {"type": "Property", "value": -999}}
    assert client.post(f"{NGSI}/entities", json=noisy, headers=writer.headers).status_code == 201


def test_single_entity_writes_are_refused_and_quarantined(client, people) -> None:  # noqa: ANN001
    steward = _setup(client, people)
    writer = people.user("o@city.test", role="operator")
    r = client.post(f"{NGSI}/entities", json=_entity(1, 5000, grade="awful"), headers=writer.headers)
    assert r.status_code == 400, r.text
    problem = r.json()
    assert problem["type"].endswith("BadRequestData") and "pm10" in problem["detail"]
    assert set(problem["errors"]) == {"pm10", "grade"}
    assert client.get(f"{NGSI}/entities/urn:ngsi-ld:AirQualityObserved:s1").status_code == 404  # nothing written

    q = _quarantine(client, steward)
    assert q["total"] == 1
    item = q["items"][0]
    assert {(e["rule"], e["field"], e["value"]) for e in item["errors"]} == {
        ("maximum", "pm10", 5000), ("enum", "grade", "awful")}
    assert item["origin"] == "ngsi-ld" and item["record"]["pm10"] == 5000

    # a valid entity goes through; a merge that breaks the schema leaves the stored entity untouched
    assert client.post(f"{NGSI}/entities", json=_entity(2, 40), headers=writer.headers).status_code == 201
    r = client.patch(f"{NGSI}/entities/urn:ngsi-ld:AirQualityObserved:s2/attrs",
                     json={"pm10": {"type": "Property", "value": -3}}, headers=writer.headers)
    assert r.status_code == 400 and "minimum" in str(r.json()["errors"]["pm10"])
    stored = client.get(f"{NGSI}/entities/urn:ngsi-ld:AirQualityObserved:s2", params={"options": "keyValues"})
    assert stored.json()["pm10"] == 40
    assert _quarantine(client, steward)["total"] == 2

    # the steward corrects the first entity and re-submits it through the context write path
    fixed = client.post(f"/api/v1/governance/datasets/live-airqualityobserved/quarantine/{item['id']}/resubmit",
                        json={"record": {"pm10": 50, "grade": "good"}}, headers=steward.headers)
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["status"] == "resubmitted"
    written = client.get(f"{NGSI}/entities/urn:ngsi-ld:AirQualityObserved:s1", params={"options": "keyValues"})
    assert written.json()["pm10"] == 50 and written.json()["grade"] == "good"
    assert written.json()["location"]["coordinates"] == [129.06, 35.18]  # metadata kept through the quarantine


def test_batch_writes_good_entities_and_quarantines_bad_ones(client, people) -> None:  # noqa: ANN001
    steward = _setup(client, people)
    writer = people.user("o@city.test", role="operator")
    batch = [_entity(1, 10, districtCode="26110"), _entity(2, "lots"), _entity(3, 20, districtCode="99999"),
             _entity(4, 30), {"id": "urn:ngsi-ld:AirQualityObserved:s5", "type": "AirQualityObserved"}]
    r = client.post(f"{NGSI}/entityOperations/upsert", json=batch, headers=writer.headers)
    assert r.status_code == 207, r.text
    body = r.json()
    assert body["success"] == ["urn:ngsi-ld:AirQualityObserved:s1", "urn:ngsi-ld:AirQualityObserved:s4"]
    errors = {e["entityId"].rsplit(":", 1)[1]: e["error"] for e in body["errors"]}
    assert set(errors) == {"s2", "s3", "s5"}
    assert "type" in str(errors["s2"]["errors"]["pm10"]) and "code_list" in str(errors["s3"]["errors"])
    assert "required" in str(errors["s5"]["errors"]["pm10"])
    listed = client.get(f"{NGSI}/entities", params={"type": "AirQualityObserved"}).json()
    assert sorted(e["id"][-2:] for e in listed) == ["s1", "s4"]
    rules = {i["record"]["id"][-2:]: {e["rule"] for e in i["errors"]} for i in _quarantine(client, steward)["items"]}
    assert rules == {"s2": {"type"}, "s3": {"code_list"}, "s5": {"required"}}

    # batch update of an existing entity: refused whole, earlier state kept
    r = client.post(f"{NGSI}/entityOperations/update", headers=writer.headers,
                    json=[{"id": "urn:ngsi-ld:AirQualityObserved:s1", "pm10": {"type": "Property", "value": 9999}}])
    assert r.status_code in (207, 400) and r.json()["errors"][0]["entityId"].endswith(":s1")
    assert client.get(f"{NGSI}/entities/urn:ngsi-ld:AirQualityObserved:s1",
                      params={"options": "keyValues"}).json()["pm10"] == 10
