"""The five linked services through the API: 112 emergency video by location, 112/119 dispatch views with
updates, access roads and hazardous facilities, the disaster room's area view and broadcast, wearable SOS."""

from __future__ import annotations

from tests.ops.conftest import HAEUNDAE, NGSI, SEOMYEON, cameras_around
from tests.ops.receivers import Webhook, wait_until

API = "/api/v1/ops"


def test_112_emergency_video_for_a_reported_location(world):
    cameras_around(world, SEOMYEON["lon"], SEOMYEON["lat"], n=6)
    r = world.client.post(f"{API}/linked/112/video", json={"location": SEOMYEON, "reason": "폭행 신고 현장 확인",
                                                           "usage": "crime_prevention"},
                          headers=world.headers("police-112"))
    assert r.status_code == 201, r.text
    grant = r.json()["grant"]
    assert grant["agency"] == "police-112" and grant["links"]
    assert all(cid.endswith(("1", "3", "5")) for cid in grant["camera_ids"])  # SURVEILLANCE ones only
    assert r.json()["incident"]["type"] == "crime"
    assert world.client.post(f"{API}/linked/112/video", json={"location": SEOMYEON, "reason": "영상 요청"},
                             headers=world.headers("fire-119")).status_code == 403


def test_dispatch_view_updates_roads_and_hazardous_facilities(world):
    c = world.client
    cameras_around(world, HAEUNDAE["lon"], HAEUNDAE["lat"], n=3)
    road = {"id": "urn:ngsi-ld:TrafficFlowObserved:haeundae-1", "type": "TrafficFlowObserved",
            "averageVehicleSpeed": {"type": "Property", "value": 12.5},
            "congested": {"type": "Property", "value": True},
            "location": {"type": "GeoProperty", "value": {"type": "LineString", "coordinates": [
                [HAEUNDAE["lon"] + 0.002, HAEUNDAE["lat"]], [HAEUNDAE["lon"] + 0.004, HAEUNDAE["lat"]]]}}}
    assert c.post(f"{NGSI}/entityOperations/upsert", json=[road], headers=world.operator.headers).status_code in (
        201, 204)
    inc = c.post(f"{API}/incidents", json={"type": "fire", "location": HAEUNDAE},
                 headers=world.headers("fire-119")).json()
    view = c.get(f"{API}/linked/dispatch/{inc['id']}", headers=world.headers("fire-119")).json()
    assert len(view["cameras"]) == 3 and view["updates"][0]["kind"] == "created"
    assert view["access"]["roads"][0]["id"] == road["id"] and view["access"]["roads"][0]["congested"] is True
    assert view["access"]["hazardous_facilities"] == []  # no such dataset in this catalog: dispatch goes on
    last = view["updates"][-1]["id"]
    c.post(f"{API}/incidents/{inc['id']}/transitions", json={"to": "arrived"}, headers=world.headers("fire-119"))
    police = c.get(f"{API}/linked/dispatch/{inc['id']}", params={"after": last},
                   headers=world.headers("police-112")).json()
    assert [u["to_state"] for u in police["updates"]] == ["arrived"] and "access" not in police
    # 119's delivery of a new fire carries access information and camera links
    assert c.get(f"{API}/linked/dispatch/{inc['id']}", headers=world.headers("protection")).status_code == 403


def test_disaster_room_sees_the_area_and_broadcasts_to_every_agency(world):
    c = world.client
    cameras_around(world, HAEUNDAE["lon"], HAEUNDAE["lat"], n=3)
    gauge = {"id": "urn:ngsi-ld:WaterLevelObserved:haeundae-1", "type": "WaterLevelObserved",
             "waterLevel": {"type": "Property", "value": 1.2},
             "location": {"type": "GeoProperty", "value": {"type": "Point",
                                                           "coordinates": [HAEUNDAE["lon"], HAEUNDAE["lat"] + 0.001]}}}
    c.post(f"{NGSI}/entityOperations/upsert", json=[gauge], headers=world.operator.headers)
    inside = c.post(f"{API}/incidents", json={"type": "disaster", "subtype": "flood", "location": HAEUNDAE},
                    headers=world.operator.headers).json()
    c.post(f"{API}/incidents", json={"type": "disaster", "subtype": "flood", "location": SEOMYEON},
           headers=world.operator.headers)
    lon, lat = HAEUNDAE["lon"], HAEUNDAE["lat"]
    area = {"type": "Polygon", "coordinates": [[[lon - 0.01, lat - 0.01], [lon + 0.01, lat - 0.01],
                                                [lon + 0.01, lat + 0.01], [lon - 0.01, lat + 0.01],
                                                [lon - 0.01, lat - 0.01]]]}
    r = c.post(f"{API}/linked/disaster/area", json={"area": area}, headers=world.headers("disaster-room"))
    assert r.status_code == 200, r.text
    view = r.json()
    assert len(view["cameras"]) == 3 and [s["id"] for s in view["sensors"]] == [gauge["id"]]
    assert [i["id"] for i in view["incidents"]] == [inside["id"]]
    bad = c.post(f"{API}/linked/disaster/area", json={"area": {"type": "Point", "coordinates": [lon, lat]}},
                 headers=world.headers("disaster-room"))
    assert bad.status_code == 422 and "area" in bad.json()["errors"]
    assert c.post(f"{API}/linked/disaster/area", json={"area": area},
                  headers=world.headers("police-112")).status_code == 403
    b = c.post(f"{API}/linked/broadcast", headers=world.headers("disaster-room"),
               json={"message": "해운대구 저지대 주민 대피 안내", "incident_id": inside["id"]})
    assert b.status_code == 202 and set(b.json()["agencies"]) == {"police-112", "fire-119", "protection"}
    for code in ("police-112", "fire-119", "protection"):
        assert wait_until(lambda code=code: any(m["event"] == "instruction.broadcast"
                                                for m in world.hooks[code].messages.values()))
    tl = c.get(f"{API}/incidents/{inside['id']}/timeline", headers=world.operator.headers).json()
    assert tl[-1]["kind"] == "instruction"


def test_wearable_sos_notifies_guardians_and_112_with_nearest_cameras(world):
    c = world.client
    cameras_around(world, SEOMYEON["lon"], SEOMYEON["lat"], n=3)
    with Webhook() as guardian_app:
        person = c.post(f"{API}/persons", json={
            "device_id": "WEAR-0042", "kind": "dementia", "name": "박순자", "birth_year": 1941,
            "description": "회색 점퍼, 지팡이",
            "guardians": [{"name": "박민수", "relation": "아들", "phone": "010-0000-0000",
                           "notify_url": guardian_app.url}]},
            headers=world.headers("protection"))
        assert person.status_code == 201, person.text
        assert c.post(f"{API}/persons", json={"device_id": "WEAR-0043", "kind": "child", "name": "x"},
                      headers=world.headers("police-112")).status_code == 403
        assert c.get(f"{API}/persons/{person.json()['id']}", headers=world.operator.headers).status_code == 403
        r = c.post(f"{API}/linked/sos", json={"device_id": "WEAR-0042", "location": SEOMYEON, "battery": 0.15},
                   headers=world.headers("protection"))
        assert r.status_code == 201, r.text
        out = r.json()
        assert out["guardians_notified"] == 1 and len(out["cameras"]) == 3
        assert out["incident"]["type"] == "vulnerable_person" and out["incident"]["subtype"] == "dementia"
        note = guardian_app.wait_for(1)[0]
        assert note["person"]["name"] == "박순자" and note["battery"] == 0.15
        police = world.hooks["police-112"].wait_for(1)[0]
        assert police["incident"]["id"] == out["incident"]["id"] and police["video_grant"]["links"]
        assert "박순자" not in str(police)  # the person's identity goes to guardians, not into incident feeds
        unknown = c.post(f"{API}/linked/sos", json={"device_id": "WEAR-9999", "location": SEOMYEON},
                         headers=world.headers("protection"))
        assert unknown.status_code == 404


def test_119_dispatch_lists_hazardous_facilities_from_the_catalog(world):
    c = world.client
    fire_dept = world.people.org("busan-fire", "부산소방재난본부", kind="public_body")
    steward = world.people.user("steward@fire.test", role="steward", org=fire_dept)
    ds = c.post("/api/v1/datasets", headers=steward.headers,
                json={"name": "hazardous-facilities", "title": "위험물 저장·취급 시설", "owner_org": "busan-fire",
                      "access_level": "internal"})
    assert ds.status_code == 201, ds.text
    lon, lat = HAEUNDAE["lon"], HAEUNDAE["lat"]
    csv = (f"name,kind,lon,lat\n주유소 A,fuel,{lon + 0.002},{lat}\n가스충전소 B,lpg,{lon},{lat + 0.003}\n"
           f"먼 창고,chemical,{lon + 0.05},{lat}\n").encode()
    up = c.post("/api/v1/datasets/hazardous-facilities/resources", headers=steward.headers,
                files={"upload": ("hazards.csv", csv, "text/csv")})
    assert up.status_code == 201, up.text
    inc = c.post(f"{API}/incidents", json={"type": "fire", "location": HAEUNDAE},
                 headers=world.headers("fire-119")).json()
    view = c.get(f"{API}/linked/dispatch/{inc['id']}", headers=world.headers("fire-119")).json()
    names = [f["name"] for f in view["access"]["hazardous_facilities"]]
    assert names == ["주유소 A", "가스충전소 B"]  # nearest first; the far warehouse is out of the 1 km

