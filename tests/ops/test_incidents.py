"""Incidents through the real API on both backends: agency reports, districts, lifecycles, timelines,
duplicates, idempotent replays, bad coordinates, who may see what, and events on the bus."""

from __future__ import annotations

from tests.ops.conftest import HAEUNDAE, SEOMYEON
from tests.ops.receivers import wait_until

API = "/api/v1/ops"
FIRE_STEPS = ["arrived", "operating", "initially_suppressed", "fully_suppressed", "closed"]


def fire(**extra: object) -> dict:
    return {"type": "fire", "subtype": "building", "severity": "high", "location": HAEUNDAE,
            "address": "부산 해운대구 우동 1411", "description": "아파트 12층 화재", "source_ref": "119-2026-0001",
            **extra}


def test_119_fire_is_on_the_board_with_district_and_reaches_linked_agencies(world):
    c = world.client
    r = c.post(f"{API}/incidents", json=fire(), headers=world.headers("fire-119"))
    assert r.status_code == 201, r.text
    inc = r.json()
    assert inc["district"] == "Haeundae-gu"
    assert inc["state"] == "dispatched" and inc["state_label"][0] == "출동지령"
    assert inc["allowed_transitions"] == ["arrived"]
    assert inc["source"] == "agency" and inc["lifecycle"] == "fire"
    assert set(inc["agencies"]) == {"fire-119", "police-112", "disaster-room"}
    # The reporter does not get its own report back; the linked agencies do, with an idempotency key.
    got = world.hooks["police-112"].wait_for(1)
    assert got and got[0]["event"] == "incident.created" and got[0]["incident"]["id"] == inc["id"]
    assert world.hooks["disaster-room"].wait_for(1)
    headers = world.hooks["police-112"].headers[0]
    assert headers["Idempotency-Key"].endswith(":police-112")
    assert headers["X-Cityhub-Signature"].startswith("sha256=")
    assert world.hooks["fire-119"].messages == {}
    board = c.get(f"{API}/incidents", params={"open": "true"}, headers=world.operator.headers).json()
    assert board["total"] == 1 and board["items"][0]["id"] == inc["id"]


def test_webhook_signature_is_hmac_of_the_body_with_the_agency_secret(world):
    import hashlib
    import hmac
    import json

    world.client.post(f"{API}/incidents", json=fire(), headers=world.headers("fire-119"))
    body = world.hooks["police-112"].wait_for(1)[0]
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    expected = "sha256=" + hmac.new(world.agencies["police-112"]["secret"].encode(), raw, hashlib.sha256).hexdigest()
    assert world.hooks["police-112"].headers[0]["X-Cityhub-Signature"] == expected


def test_fire_timeline_advances_and_illegal_steps_name_the_allowed_one(world):
    c = world.client
    inc = c.post(f"{API}/incidents", json=fire(), headers=world.headers("fire-119")).json()
    url = f"{API}/incidents/{inc['id']}/transitions"
    skip = c.post(url, json={"to": "operating"}, headers=world.headers("fire-119"))
    assert skip.status_code == 409
    assert skip.json()["errors"]["allowed"] == ["arrived"] and "skips" in skip.json()["detail"]
    unknown = c.post(url, json={"to": "burning"}, headers=world.headers("fire-119"))
    assert unknown.status_code == 422 and "to" in unknown.json()["errors"]
    for step in FIRE_STEPS:
        r = c.post(url, json={"to": step, "note": f"{step} 보고"}, headers=world.headers("fire-119"))
        assert r.status_code == 200, r.text
    back = c.post(url, json={"to": "operating"}, headers=world.operator.headers)
    assert back.status_code == 409 and back.json()["errors"]["allowed"] == []
    full = c.get(f"{API}/incidents/{inc['id']}", headers=world.operator.headers).json()
    assert full["state"] == "closed" and full["closed_at"]
    states = [(e["from_state"], e["to_state"]) for e in full["timeline"] if e["kind"] == "state"]
    assert states == list(zip(["dispatched", *FIRE_STEPS[:-1]], FIRE_STEPS, strict=True))
    assert all(e["actor_label"] == "fire-119" for e in full["timeline"])
    # the other agencies heard every step
    assert len(world.hooks["police-112"].wait_for(6)) == 6


def test_generic_lifecycle_reversal_is_refused(world):
    c = world.client
    inc = c.post(f"{API}/incidents", json={"type": "crime", "subtype": "assault", "location": SEOMYEON},
                 headers=world.headers("police-112")).json()
    assert inc["state"] == "reported" and inc["district"] == "Busanjin-gu"
    url = f"{API}/incidents/{inc['id']}/transitions"
    assert c.post(url, json={"to": "acknowledged"}, headers=world.operator.headers).status_code == 200
    r = c.post(url, json={"to": "reported"}, headers=world.operator.headers)
    assert r.status_code == 409 and "reverses" in r.json()["detail"]
    assert r.json()["errors"]["allowed"] == ["dispatched"]


def test_bad_coordinates_name_the_field(world):
    c = world.client
    h = world.headers("fire-119")
    outside = c.post(f"{API}/incidents", json=fire(location={"lon": 126.97, "lat": 37.56}), headers=h)  # Seoul
    assert outside.status_code == 422 and "location" in outside.json()["errors"]
    assert "outside the city" in outside.json()["detail"]
    lat = c.post(f"{API}/incidents", json=fire(location={"lon": 129.1, "lat": 135.2}), headers=h)
    assert lat.status_code == 422 and "location.lat" in lat.json()["errors"]
    text = c.post(f"{API}/incidents", json=fire(location={"lon": "east", "lat": 35.1}), headers=h)
    assert text.status_code == 422 and "location.lon" in text.json()["errors"]
    missing = c.post(f"{API}/incidents", json={"type": "fire"}, headers=h)
    assert missing.status_code == 422 and "location" in missing.json()["errors"]
    bad_type = c.post(f"{API}/incidents", json=fire(type="alien"), headers=h)
    assert bad_type.status_code == 422 and "type" in bad_type.json()["errors"]
    bad_sub = c.post(f"{API}/incidents", json=fire(subtype="flood"), headers=h)
    assert bad_sub.status_code == 422 and "subtype" in bad_sub.json()["errors"]
    assert c.get(f"{API}/incidents", headers=world.operator.headers).json()["total"] == 0


def test_second_report_nearby_is_linked_not_doubled(world):
    c = world.client
    first = c.post(f"{API}/incidents", json=fire(), headers=world.headers("fire-119")).json()
    near = {"lon": HAEUNDAE["lon"] + 0.001, "lat": HAEUNDAE["lat"]}  # ≈ 90 m east
    again = c.post(f"{API}/incidents", json=fire(location=near, source_ref="112-call-77"),
                   headers=world.headers("police-112"))
    assert again.status_code == 200 and again.json()["linked_to_existing"] is True
    assert again.json()["id"] == first["id"] and again.json()["reports"] == 2
    far = {"lon": HAEUNDAE["lon"] + 0.01, "lat": HAEUNDAE["lat"]}  # ≈ 900 m
    assert c.post(f"{API}/incidents", json=fire(location=far), headers=world.headers("fire-119")).status_code == 201
    other = c.post(f"{API}/incidents", json={**fire(), "type": "ems", "subtype": "injury"},
                   headers=world.headers("fire-119"))
    assert other.status_code == 201
    assert c.get(f"{API}/incidents", headers=world.operator.headers).json()["total"] == 3
    tl = c.get(f"{API}/incidents/{first['id']}/timeline", headers=world.operator.headers).json()
    dup = [e for e in tl if e["kind"] == "duplicate"]
    assert dup and dup[0]["actor_label"] == "police-112" and dup[0]["detail"]["source_ref"] == "112-call-77"


def test_replayed_agency_request_returns_the_first_result(world):
    c = world.client
    h = world.headers("fire-119", **{"Idempotency-Key": "119-call-0001"})
    one = c.post(f"{API}/incidents", json=fire(), headers=h)
    two = c.post(f"{API}/incidents", json=fire(), headers=h)
    assert one.status_code == two.status_code == 201
    assert one.json() == two.json() and two.headers.get("Idempotent-Replayed") == "true"
    different = c.post(f"{API}/incidents", json=fire(severity="low"), headers=h)
    assert different.status_code == 409
    assert c.get(f"{API}/incidents", headers=world.operator.headers).json()["total"] == 1
    url = f"{API}/incidents/{one.json()['id']}/transitions"
    th = world.headers("fire-119", **{"Idempotency-Key": "119-arrive-1"})
    assert c.post(url, json={"to": "arrived"}, headers=th).status_code == 200
    replay = c.post(url, json={"to": "arrived"}, headers=th)  # the network dropped the answer; the unit retries
    assert replay.status_code == 200 and replay.json()["state"] == "arrived"


def test_who_sees_what(world):
    c = world.client
    inc = c.post(f"{API}/incidents", json={"type": "crime", "subtype": "theft", "location": SEOMYEON},
                 headers=world.headers("police-112")).json()
    # protection service is not part of a theft
    assert c.get(f"{API}/incidents/{inc['id']}", headers=world.headers("protection")).status_code == 403
    assert c.post(f"{API}/incidents/{inc['id']}/transitions", json={"to": "acknowledged"},
                  headers=world.headers("protection")).status_code == 403
    assert c.get(f"{API}/incidents", headers=world.headers("protection")).json()["total"] == 0
    assert c.get(f"{API}/incidents", headers=world.headers("police-112")).json()["total"] == 1
    citizen = world.people.user("kim@citizen.test")
    assert c.get(f"{API}/incidents", headers=citizen.headers).status_code == 403
    assert c.get(f"{API}/incidents/{inc['id']}", headers=citizen.headers).status_code == 403
    assert c.post(f"{API}/incidents", json=fire(), headers=citizen.headers).status_code == 403
    receipt = c.post(f"{API}/reports", json={"type": "traffic_accident", "location": SEOMYEON,
                                             "description": "차량 2대 추돌"}, headers=citizen.headers)
    assert receipt.status_code == 201 and set(receipt.json()) == {"receipt", "received_at", "district"}
    assert c.post(f"{API}/reports", json={"type": "fire", "location": SEOMYEON}).status_code == 401
    board = c.get(f"{API}/incidents", params={"type": "traffic_accident"}, headers=world.operator.headers).json()
    assert board["total"] == 1 and board["items"][0]["source"] == "citizen"


def test_events_on_the_bus_after_commit(world):
    c = world.client
    seen: list[tuple[str, dict]] = []
    c.app.state.bus.subscribe("incident.*", lambda t, p: seen.append((t, p)))
    inc = c.post(f"{API}/incidents", json=fire(), headers=world.headers("fire-119")).json()
    c.post(f"{API}/incidents/{inc['id']}/transitions", json={"to": "arrived"}, headers=world.headers("fire-119"))
    c.post(f"{API}/incidents", json=fire(location="nowhere"), headers=world.headers("fire-119"))  # 422: no event
    assert [t for t, _ in seen] == ["incident.created", "incident.changed"]
    assert seen[1][1]["state"] == "arrived" and "description" not in seen[0][1]


def test_sensor_alert_opens_one_flood_incident(world):
    c = world.client
    gauge = {"id": "urn:ngsi-ld:WaterLevelObserved:suyeong-1", "type": "WaterLevelObserved",
             "waterLevel": {"type": "Property", "value": 3.4},
             "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [129.1130, 35.1700]}}}
    r = c.post("/ngsi-ld/v1/entityOperations/upsert", json=[gauge], headers=world.operator.headers)
    assert r.status_code in (201, 204), r.text
    gauge["waterLevel"]["value"] = 4.8  # escalates to the alarm level: the same incident, one more report
    c.post("/ngsi-ld/v1/entityOperations/upsert", json=[gauge], headers=world.operator.headers)
    assert wait_until(lambda: c.get(f"{API}/incidents", headers=world.operator.headers).json()["total"] == 1)
    inc = c.get(f"{API}/incidents", headers=world.operator.headers).json()["items"][0]
    assert (inc["type"], inc["subtype"], inc["source"]) == ("disaster", "flood", "sensor")
    assert wait_until(lambda: c.get(f"{API}/incidents/{inc['id']}", headers=world.operator.headers)
                      .json()["reports"] == 2)


def test_concurrent_twins_with_one_idempotency_key_make_one_incident(world):
    import threading

    results: list = []
    h = world.headers("fire-119", **{"Idempotency-Key": "119-twin-1"})

    def send() -> None:
        results.append(world.client.post(f"{API}/incidents", json=fire(), headers=h))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in results] == [201] * 4
    assert len({r.json()["id"] for r in results}) == 1
    assert world.client.get(f"{API}/incidents", headers=world.operator.headers).json()["total"] == 1
