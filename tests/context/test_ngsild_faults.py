"""Bad input gets a clear 4xx naming the problem, nothing half-written stays, and the server keeps serving."""

from __future__ import annotations

from tests.context.conftest import CORE, LD, NGSI, air

ERR = "https://uri.etsi.org/ngsi-ld/errors/"


def test_malformed_json_ld(client, writer):
    c, h = client, writer.headers
    r = c.post(f"{NGSI}/entities", content=b'{"id": "urn:x:1", "type": "A",', headers={**h, "Content-Type": LD})
    assert r.status_code == 400 and r.json()["type"] == ERR + "InvalidRequest"
    assert "line 1" in r.json()["detail"]
    # ld+json without @context
    r = c.post(f"{NGSI}/entities", json=air(1), headers={**h, "Content-Type": LD})
    assert r.status_code == 400 and "@context" in r.json()["detail"]
    # @context of the wrong shape
    r = c.post(f"{NGSI}/entities", content=_dumps({**air(1), "@context": 42}), headers={**h, "Content-Type": LD})
    assert r.status_code == 400 and r.json()["type"] == ERR + "BadRequestData"
    # @context in an application/json body
    r = c.post(f"{NGSI}/entities", json={**air(1), "@context": CORE}, headers=h)
    assert r.status_code == 400
    # the right way works, body and Link header alike
    r = c.post(f"{NGSI}/entities", content=_dumps({**air(1), "@context": [CORE]}), headers={**h, "Content-Type": LD})
    assert r.status_code == 201, r.text
    link = f'<{CORE}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
    r = c.post(f"{NGSI}/entities", json=air(2), headers={**h, "Link": link})
    assert r.status_code == 201, r.text


def test_unknown_context_url_fails_fast_without_network(client, writer):
    c, h = client, writer.headers
    body = {**air(1), "@context": "https://contexts.example.invalid/unknown.jsonld"}
    r = c.post(f"{NGSI}/entities", content=_dumps(body), headers={**h, "Content-Type": LD})
    assert r.status_code == 503 and r.json()["type"] == ERR + "LdContextNotAvailable"
    link = '<https://contexts.example.invalid/x.jsonld>; rel="http://www.w3.org/ns/json-ld#context"'
    r = c.get(f"{NGSI}/entities", params={"type": "A"}, headers={"Link": link})
    assert r.status_code == 503 and r.json()["type"] == ERR + "LdContextNotAvailable"
    assert c.get(f"{NGSI}/entities/{air(1)['id']}").status_code == 404


def test_a_context_url_is_never_fetched(client, writer):
    """A context URL on a host that accepts connections and never answers: refused at once, and the host
    never even sees a connection (nothing is fetched, so nothing can hang)."""
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        silent.setblocking(False)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/context.jsonld"
        r = client.post(f"{NGSI}/entities", content=_dumps({**air(1), "@context": [url, CORE]}),
                        headers={**writer.headers, "Content-Type": LD})
        assert r.status_code == 503 and r.json()["type"] == ERR + "LdContextNotAvailable"
        assert url in r.json()["detail"]
        link = f'<{url}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
        r = client.get(f"{NGSI}/entities", params={"type": "AirQualityObserved"}, headers={"Link": link})
        assert r.status_code == 503 and r.json()["type"] == ERR + "LdContextNotAvailable"
        try:
            silent.accept()[0].close()
            contacted = True
        except BlockingIOError:
            contacted = False
        assert not contacted


def test_cached_context_is_accepted(client, writer):
    from cityhub.context.jsonld import cache_path

    url = "https://smartdatamodels.org/context.jsonld"
    path = cache_path(client.app.state.settings, url)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"@context": {}}')
    r = client.post(f"{NGSI}/entities", content=_dumps({**air(1), "@context": [url, CORE]}),
                           headers={**writer.headers, "Content-Type": LD})
    assert r.status_code == 201, r.text


def test_invalid_geojson(client, writer):
    c, h = client, writer.headers
    for coords in ([229.0, 35.0], [129.0], ["a", "b"], [[1, 2], [3, 4]]):
        bad = air(1)
        bad["location"]["value"]["coordinates"] = coords
        r = c.post(f"{NGSI}/entities", json=bad, headers=h)
        assert r.status_code == 400, coords
        assert "location.value" in r.json()["detail"]
    open_ring = air(1)
    open_ring["location"]["value"] = {"type": "Polygon", "coordinates": [[[129, 35], [129.1, 35], [129.1, 35.1]]]}
    assert c.post(f"{NGSI}/entities", json=open_ring, headers=h).status_code == 400
    coll = air(1)
    coll["location"]["value"] = {"type": "GeometryCollection", "geometries": []}
    assert c.post(f"{NGSI}/entities", json=coll, headers=h).status_code == 400
    assert c.get(f"{NGSI}/entities", params={"type": "AirQualityObserved", "count": "true"}).headers[
        "NGSILD-Results-Count"] == "0"


def test_observed_at_far_future_or_garbage(client, writer):
    c, h = client, writer.headers
    for when in ("9999-01-01T00:00:00Z", "yesterday", "2026-13-45T00:00:00Z"):
        bad = air(1)
        bad["pm25"]["observedAt"] = when
        r = c.post(f"{NGSI}/entities", json=bad, headers=h)
        assert r.status_code == 400, when
        assert "pm25.observedAt" in r.json()["detail"]
    # inside a batch: that entity is refused, the others written
    bad = air(2)
    bad["pm25"]["observedAt"] = "9999-01-01T00:00:00Z"
    r = c.post(f"{NGSI}/entityOperations/upsert", json=[air(1), bad], headers=h)
    assert r.status_code == 207
    assert r.json()["success"] == [air(1)["id"]]
    assert r.json()["errors"][0]["entityId"] == air(2)["id"]
    assert c.get(f"{NGSI}/entities/{air(2)['id']}").status_code == 404


def test_batch_over_the_limit_is_refused(client, writer):
    c, h = client, writer.headers
    c.app.state.settings.context_max_batch = 100
    r = c.post(f"{NGSI}/entityOperations/upsert", json=[air(i) for i in range(101)], headers=h)
    assert r.status_code == 413
    assert "at most 100" in r.json()["detail"]
    assert c.get(f"{NGSI}/entities", params={"type": "AirQualityObserved", "count": "true"}).headers[
        "NGSILD-Results-Count"] == "0"
    r = c.post(f"{NGSI}/entityOperations/upsert", json=[air(i) for i in range(100)], headers=h)
    assert r.status_code == 201 and len(r.json()) == 100  # at the limit: accepted whole
    r = c.post(f"{NGSI}/entityOperations/upsert", json={"not": "an array"}, headers=h)
    assert r.status_code == 400


def _dumps(body: object) -> bytes:
    import orjson

    return orjson.dumps(body)
