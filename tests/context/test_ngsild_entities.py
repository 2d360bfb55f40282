"""NGSI-LD entity CRUD, attribute operations and batch operations over HTTP."""

from __future__ import annotations

from tests.context.conftest import CORE, LD, NGSI, air

ERR = "https://uri.etsi.org/ngsi-ld/errors/"


def test_probe_answers_with_count(client):
    r = client.get(f"{NGSI}/entities", params={"type": "None", "limit": 0, "count": "true"},
                          headers={"Accept": "application/json"})
    assert r.status_code == 200
    assert r.headers["NGSILD-Results-Count"] == "0"
    assert r.json() == []


def test_create_get_conflict_and_location(client, writer):
    h = writer.headers
    r = client.post(f"{NGSI}/entities/", json=air(1), headers=h)
    assert r.status_code == 201, r.text
    assert r.headers["Location"] == f"{NGSI}/entities/urn:ngsi-ld:AirQualityObserved:busan-0001"
    r = client.post(f"{NGSI}/entities", json=air(1), headers=h)
    assert r.status_code == 409
    assert r.json()["type"] == ERR + "AlreadyExists"
    r = client.get(f"{NGSI}/entities/urn:ngsi-ld:AirQualityObserved:busan-0001")
    assert r.status_code == 200
    assert r.json()["pm25"] == {"type": "Property", "value": 20.0, "unitCode": "GQ"}
    assert "Link" in r.headers
    r = client.get(f"{NGSI}/entities/urn:ngsi-ld:AirQualityObserved:busan-0001", headers={"Accept": LD})
    assert r.headers["content-type"].startswith(LD)
    assert r.json()["@context"] == CORE
    kv = client.get(f"{NGSI}/entities/urn:ngsi-ld:AirQualityObserved:busan-0001",
                    params={"options": "keyValues"}).json()
    assert kv["pm25"] == 20.0 and kv["location"]["type"] == "Point"
    r = client.get(f"{NGSI}/entities/urn:ngsi-ld:AirQualityObserved:nope")
    assert r.status_code == 404 and r.json()["type"] == ERR + "ResourceNotFound"


def test_anonymous_cannot_write(client):
    r = client.post(f"{NGSI}/entities", json=air(1))
    assert r.status_code == 401


def test_patch_put_delete_and_attrs(client, writer):
    c, h = client, writer.headers
    eid = "urn:ngsi-ld:AirQualityObserved:busan-0001"
    assert c.post(f"{NGSI}/entities", json=air(1), headers=h).status_code == 201
    # merge
    assert c.patch(f"{NGSI}/entities/{eid}", json={"no2": {"type": "Property", "value": 0.02}},
                   headers=h).status_code == 204
    got = c.get(f"{NGSI}/entities/{eid}", params={"options": "keyValues"}).json()
    assert got["no2"] == 0.02 and got["pm25"] == 20.0
    # attrs update: one known, one unknown → 207
    r = c.patch(f"{NGSI}/entities/{eid}/attrs", json={"pm25": {"type": "Property", "value": 50},
                                                      "o3": {"type": "Property", "value": 1}}, headers=h)
    assert r.status_code == 207
    assert r.json() == {"updated": ["pm25"], "notUpdated": [
        {"attributeName": "o3", "reason": "the entity has no such attribute"}]}
    # append with noOverwrite
    r = c.post(f"{NGSI}/entities/{eid}/attrs?options=noOverwrite", json={"pm25": {"type": "Property", "value": 1},
                                                                      "o3": {"type": "Property", "value": 0.03}},
               headers=h)
    assert r.status_code == 207 and r.json()["updated"] == ["o3"]
    # single attribute patch / delete
    assert c.patch(f"{NGSI}/entities/{eid}/attrs/pm25", json={"value": 77}, headers=h).status_code == 204
    got = c.get(f"{NGSI}/entities/{eid}").json()
    assert got["pm25"] == {"type": "Property", "value": 77}
    assert c.delete(f"{NGSI}/entities/{eid}/attrs/o3", headers=h).status_code == 204
    assert c.delete(f"{NGSI}/entities/{eid}/attrs/o3", headers=h).status_code == 404
    # replace
    new = {"type": "AirQualityObserved", "pm10": {"type": "Property", "value": 5}}
    assert c.put(f"{NGSI}/entities/{eid}", json=new, headers=h).status_code == 204
    assert set(c.get(f"{NGSI}/entities/{eid}").json()) == {"id", "type", "pm10"}
    assert c.delete(f"{NGSI}/entities/{eid}/", headers=h).status_code == 204
    assert c.get(f"{NGSI}/entities/{eid}").status_code == 404


def test_batch_operations_partial_results(client, writer):
    c, h = client, writer.headers
    batch = [air(i) for i in range(5)]
    r = c.post(f"{NGSI}/entityOperations/create/", json=batch, headers=h)
    assert r.status_code == 201 and len(r.json()) == 5
    bad = {"id": "not a uri", "type": "AirQualityObserved"}
    r = c.post(f"{NGSI}/entityOperations/create", json=[air(0), air(9), bad], headers=h)
    assert r.status_code == 207
    body = r.json()
    assert body["success"] == ["urn:ngsi-ld:AirQualityObserved:busan-0009"]
    assert {e["error"]["type"] for e in body["errors"]} == {ERR + "AlreadyExists", ERR + "BadRequestData"}
    r = c.post(f"{NGSI}/entityOperations/upsert", json=[air(0, pm25=99), air(10)], headers=h)
    assert r.status_code == 201 and r.json() == [air(10)["id"]]  # only the new one is "created"
    r = c.post(f"{NGSI}/entityOperations/upsert", json=[air(0, pm25=99)], headers=h)
    assert r.status_code == 204
    assert c.get(f"{NGSI}/entities/{air(0)['id']}").json()["pm25"]["value"] == 99
    r = c.post(f"{NGSI}/entityOperations/upsert?options=update",
               json=[{"id": air(0)["id"], "type": "AirQualityObserved", "so2": {"type": "Property", "value": 1}}],
               headers=h)
    assert r.status_code == 204
    got = c.get(f"{NGSI}/entities/{air(0)['id']}").json()
    assert got["so2"]["value"] == 1 and got["pm25"]["value"] == 99
    r = c.post(f"{NGSI}/entityOperations/update", json=[{"id": "urn:ngsi-ld:X:missing", "a": 1}], headers=h)
    assert r.status_code == 207 and r.json()["errors"][0]["error"]["type"] == ERR + "ResourceNotFound"
    r = c.post(f"{NGSI}/entityOperations/delete", json=[air(0)["id"], "urn:ngsi-ld:X:missing"], headers=h)
    assert r.status_code == 207
    assert r.json()["success"] == [air(0)["id"]]
    r = c.get(f"{NGSI}/entities", params={"type": "AirQualityObserved", "count": "true", "limit": 2})
    assert r.headers["NGSILD-Results-Count"] == "6" and len(r.json()) == 2


def test_types_and_attributes(client, writer):
    c, h = client, writer.headers
    c.post(f"{NGSI}/entityOperations/upsert", json=[air(1), air(2)], headers=h)
    assert c.get(f"{NGSI}/types").json()["typeList"] == ["AirQualityObserved"]
    assert "pm25" in c.get(f"{NGSI}/attributes/").json()["attributeList"]


def test_core_context_is_served_locally(client):
    r = client.get(f"{NGSI}/jsonldContexts/ngsi-ld-core-context.jsonld")
    assert r.status_code == 200
    assert r.json()["@context"]["ngsi-ld"] == "https://uri.etsi.org/ngsi-ld/"
