"""Issue 5 part 1 gaps: query by id / idPattern / attrs, the core @context by Link header, trailing-slash
paths of every door, and a literal 100,000-entity batch refused with the default limit (both backends)."""

from __future__ import annotations

import orjson

from tests.context.conftest import CORE, LD, NGSI, air

ERR = "https://uri.etsi.org/ngsi-ld/errors/"
LINK = f'<{CORE}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'


def _ids(r) -> list[str]:  # noqa: ANN001
    assert r.status_code == 200, r.text
    return sorted(e["id"] for e in r.json())


def test_query_by_id_id_pattern_and_attrs(client, writer):
    h = writer.headers
    batch = [air(i, pm25=10.0 * i) for i in range(1, 6)]
    batch.append({"id": "urn:ngsi-ld:TrafficFlowObserved:busan-0001", "type": "TrafficFlowObserved",
                  "averageVehicleSpeed": {"type": "Property", "value": 40.0}})
    assert client.post(f"{NGSI}/entityOperations/upsert", json=batch, headers=h).status_code == 201
    one, three = batch[0]["id"], batch[2]["id"]
    # id list (with and without type)
    assert _ids(client.get(f"{NGSI}/entities", params={"id": f"{one},{three}"})) == [one, three]
    assert _ids(client.get(f"{NGSI}/entities", params={"id": one, "type": "AirQualityObserved"})) == [one]
    assert _ids(client.get(f"{NGSI}/entities", params={"id": one, "type": "TrafficFlowObserved"})) == []
    # idPattern is a regular expression over the id; across types when no type is given
    got = _ids(client.get(f"{NGSI}/entities", params={"type": "AirQualityObserved", "idPattern": ".*busan-000[12]$"}))
    assert got == [batch[0]["id"], batch[1]["id"]]
    got = _ids(client.get(f"{NGSI}/entities", params={"type": "AirQualityObserved,TrafficFlowObserved",
                                                       "idPattern": ".*busan-0001$"}))
    assert got == [one, "urn:ngsi-ld:TrafficFlowObserved:busan-0001"]
    # attrs: only the named attributes, normalized (with their sub-attributes) and keyValues
    r = client.get(f"{NGSI}/entities", params={"id": one, "attrs": "pm25"})
    assert r.json() == [{"id": one, "type": "AirQualityObserved",
                         "pm25": {"type": "Property", "value": 10.0, "unitCode": "GQ"}}]
    r = client.get(f"{NGSI}/entities/{one}", params={"attrs": "pm10,location", "options": "keyValues"})
    assert set(r.json()) == {"id", "type", "pm10", "location"} and r.json()["pm10"] == 16.0
    # the same through the POST Query door
    r = client.post(f"{NGSI}/entityOperations/query", json={
        "type": "Query", "entities": [{"type": "AirQualityObserved", "idPattern": ".*000[45]$"}], "attrs": ["pm25"]})
    assert _ids(r) == [batch[3]["id"], batch[4]["id"]] and all(set(e) == {"id", "type", "pm25"} for e in r.json())
    # a bad idPattern is a 400 with an ETSI type, not a 500
    r = client.get(f"{NGSI}/entities", params={"type": "AirQualityObserved", "idPattern": "("})
    assert r.status_code == 400 and r.json()["type"] in (ERR + "BadRequestData", ERR + "InvalidRequest")


def test_core_context_by_link_header_and_accept_ld(client, writer):
    h = {**writer.headers, "Link": LINK}
    assert client.post(f"{NGSI}/entities", json=air(1), headers=h).status_code == 201
    r = client.get(f"{NGSI}/entities", params={"type": "AirQualityObserved"}, headers={"Link": LINK})
    assert _ids(r) == [air(1)["id"]]
    assert CORE in r.headers["Link"]
    r = client.get(f"{NGSI}/entities", params={"type": "AirQualityObserved"}, headers={"Accept": LD})
    assert r.headers["content-type"].startswith(LD) and all(e["@context"] == CORE for e in r.json())


def test_every_door_answers_with_a_trailing_slash(client, writer):
    h = writer.headers
    eid = air(1)["id"]
    assert client.post(f"{NGSI}/entityOperations/upsert/", json=[air(1)], headers=h).status_code == 201
    assert client.get(f"{NGSI}/entities/", params={"type": "AirQualityObserved"}).status_code == 200
    assert client.get(f"{NGSI}/entities/{eid}/").status_code == 200
    assert client.patch(f"{NGSI}/entities/{eid}/attrs/", json={"pm25": {"type": "Property", "value": 3}},
                        headers=h).status_code == 204
    assert client.post(f"{NGSI}/entityOperations/query/", json={"type": "Query", "entities": [
        {"type": "AirQualityObserved"}]}).status_code == 200
    assert client.get(f"{NGSI}/types/").status_code == 200
    assert client.get(f"{NGSI}/temporal/entities/{eid}/").status_code == 200
    assert client.get(f"{NGSI}/temporal/entities/", params={"type": "AirQualityObserved"}).status_code == 200
    assert client.get(f"{NGSI}/subscriptions/", headers=h).status_code == 200
    assert client.post(f"{NGSI}/entityOperations/delete/", json=[eid], headers=h).status_code == 204


def test_a_batch_of_100000_entities_is_refused_with_a_clear_limit(client, writer):
    """The literal figure of the issue, against the default limit: refused whole, nothing written, the
    server answers the next request."""
    limit = client.app.state.settings.context_max_batch
    assert limit < 100_000
    body = orjson.dumps([air(i) for i in range(100_000)])
    r = client.post(f"{NGSI}/entityOperations/upsert", content=body,
                    headers={**writer.headers, "Content-Type": "application/json"})
    assert r.status_code == 413, r.text[:300]
    problem = r.json()
    assert problem["type"] == ERR + "BadRequestData"
    assert f"at most {limit}" in problem["detail"] and "100000" in problem["detail"]
    r = client.get(f"{NGSI}/entities", params={"type": "AirQualityObserved", "count": "true", "limit": 0})
    assert r.headers["NGSILD-Results-Count"] == "0"
    r = client.post(f"{NGSI}/entityOperations/upsert", json=[air(i) for i in range(limit)], headers=writer.headers)
    assert r.status_code == 201 and len(r.json()) == limit


def test_routing_errors_are_problem_details_too(client):
    """An unknown path or a method a path lacks answers in ETSI ProblemDetails under /ngsi-ld (clients map
    errors by type URI); elsewhere the app's own error shapes stay."""
    r = client.get(f"{NGSI}/nothing-here")
    assert r.status_code == 404 and r.json()["type"] == ERR + "ResourceNotFound"
    assert r.json()["status"] == 404 and "/nothing-here" in r.json()["detail"]
    r = client.put(f"{NGSI}/entities", json={})
    assert r.status_code == 405 and r.json()["type"] == ERR + "OperationNotSupported"
    assert r.headers.get("allow")  # the routing layer's Allow header is kept
    r = client.get(f"{NGSI}/nothing-here", headers={"Accept": "text/html"})
    assert r.json()["type"] == ERR + "ResourceNotFound"
    assert client.get("/api/v1/nothing-here").json() == {"detail": "Not Found"}
    page = client.get("/nothing-here", headers={"Accept": "text/html"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
