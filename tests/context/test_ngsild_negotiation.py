"""Content negotiation on every /ngsi-ld door (ETSI GS CIM 009 6.3.4): an Accept that admits neither JSON nor
JSON-LD is 406 NotAcceptable, a body in another media type 415, both as ProblemDetails; the usual headers of
clients, browsers and tools keep working."""

from __future__ import annotations

import json

from tests.context.conftest import LD, NGSI, air

ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
EID = "urn:ngsi-ld:AirQualityObserved:busan-0001"


def _problem(r, status: int, kind: str) -> None:  # noqa: ANN001
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["type"] == ERRORS + kind and body["title"] == kind and body["status"] == status and body["detail"]


def test_accept_without_json_is_406_on_every_door(client, writer):
    h = writer.headers
    assert client.post(f"{NGSI}/entities", json=air(1), headers=h).status_code == 201
    doors = [("GET", f"{NGSI}/entities?type=AirQualityObserved"), ("GET", f"{NGSI}/entities/{EID}"),
             ("GET", f"{NGSI}/types"), ("GET", f"{NGSI}/attributes"), ("GET", f"{NGSI}/subscriptions/"),
             ("GET", f"{NGSI}/temporal/entities/{EID}"), ("DELETE", f"{NGSI}/entities/{EID}")]
    for accept in ("text/html", "application/xml", "text/csv, text/plain;q=0.5", "application/json;q=0",
                   "application/geo+json"):  # GeoJSON is not a representation this door produces
        for method, url in doors:
            _problem(client.request(method, url, headers={**h, "Accept": accept}), 406, "NotAcceptable")
    body = json.dumps([air(2)])
    r = client.post(f"{NGSI}/entityOperations/upsert", content=body,
                    headers={**h, "Accept": "text/html", "Content-Type": "application/json"})
    _problem(r, 406, "NotAcceptable")
    # refused before any work: neither the entity deleted nor the batch written
    assert client.get(f"{NGSI}/entities/{EID}").status_code == 200
    assert client.get(f"{NGSI}/entities/{air(2)['id']}").status_code == 404


def test_accept_values_that_admit_json_are_served(client, writer):
    assert client.post(f"{NGSI}/entities", json=air(1), headers=writer.headers).status_code == 201
    for accept in ("application/json", LD, "*/*", "application/*", "text/html, */*;q=0.1",
                   "application/geo+json, application/json;q=0.5", "APPLICATION/JSON; charset=utf-8", ""):
        r = client.get(f"{NGSI}/entities/{EID}", headers={"Accept": accept})
        assert r.status_code == 200, (accept, r.text)
    r = client.get(f"{NGSI}/entities/{EID}", headers={"Accept": LD})
    assert r.headers["content-type"].startswith(LD) and "@context" in r.json()
    r = client.get(f"{NGSI}/entities", params={"type": "None", "limit": 0, "count": "true"},
                   headers={"Accept": "application/json"})  # the client's connectivity probe
    assert r.status_code == 200 and r.headers["NGSILD-Results-Count"] == "0"
    # a browser's Accept admits */*
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"
    assert client.get(f"{NGSI}/entities/{EID}", headers={"Accept": browser}).status_code == 200


def test_body_in_another_media_type_is_415(client, writer):
    h = writer.headers
    assert client.post(f"{NGSI}/entities", json=air(1), headers=h).status_code == 201
    sub = {"type": "Subscription", "entities": [{"type": "AirQualityObserved"}],
           "notification": {"endpoint": {"uri": "http://127.0.0.1:9/n"}}}
    writes = [("POST", f"{NGSI}/entities", air(2)), ("POST", f"{NGSI}/entityOperations/upsert", [air(2)]),
              ("PATCH", f"{NGSI}/entities/{EID}/attrs", {"pm25": {"type": "Property", "value": 1}}),
              ("PUT", f"{NGSI}/entities/{EID}", air(1)), ("POST", f"{NGSI}/subscriptions/", sub),
              ("POST", f"{NGSI}/temporal/entities", air(2))]
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
        for method, url, body in writes:
            r = client.request(method, url, content=json.dumps(body), headers={**h, "Content-Type": content_type})
            _problem(r, 415, "UnsupportedMediaType")
    assert client.get(f"{NGSI}/entities/{air(2)['id']}").status_code == 404  # nothing written
    assert client.get(f"{NGSI}/entities/{EID}").json()["pm25"]["value"] == 20.0
    # JSON, JSON-LD (with its @context) and parameters on the type are fine; a GET's Content-Type is not read
    r = client.post(f"{NGSI}/entities", content=json.dumps(air(2)),
                    headers={**h, "Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 201, r.text
    ld = {**air(3), "@context": "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"}
    r = client.post(f"{NGSI}/entities", content=json.dumps(ld), headers={**h, "Content-Type": LD})
    assert r.status_code == 201, r.text
    r = client.get(f"{NGSI}/entities/{EID}", headers={**h, "Content-Type": "text/plain"})
    assert r.status_code == 200
