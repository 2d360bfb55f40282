"""Operations pages in Korean and English: the board, an incident with its timeline and cameras, the
delivery log and directives; citizens get the friendly 403 page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.ops.conftest import HAEUNDAE, cameras_around

API = "/api/v1/ops"


def test_operator_pages_in_both_languages_and_citizens_refused(sqlite_world):
    w = sqlite_world
    c = w.client
    cameras_around(w, HAEUNDAE["lon"], HAEUNDAE["lat"], n=2)
    inc = c.post(f"{API}/incidents", json={"type": "fire", "location": HAEUNDAE, "description": "주택 화재"},
                 headers=w.headers("fire-119")).json()
    c.post(f"{API}/incidents/{inc['id']}/transitions", json={"to": "arrived"}, headers=w.headers("fire-119"))
    c.post(f"{API}/directives", json={"title": "화재 현장 주변 교통 통제", "incident_id": inc["id"],
                                      "department": "busan-ctrl",
                                      "due_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat()},
           headers=w.operator.headers)
    ko = {**w.operator.headers, "Accept-Language": "ko"}
    en = {**w.operator.headers, "Accept-Language": "en"}
    board = c.get("/ops/incidents", headers=ko)
    assert board.status_code == 200 and "통합관제 상황판" in board.text and "현장도착" in board.text
    assert "Operations board" in c.get("/ops/incidents", headers=en).text
    page = c.get(f"/ops/incidents/{inc['id']}", headers=en)
    assert page.status_code == 200 and "Arrived on scene" in page.text and "Dispatch order" in page.text
    assert "CCTV 0" in page.text and "fire-119" in page.text
    assert "police-112" in c.get("/ops/deliveries", headers=ko).text
    directives = c.get("/ops/directives", headers=ko)
    assert "기한 초과" in directives.text
    citizen = w.people.user("choi@citizen.test")
    refused = c.get("/ops/incidents", headers={**citizen.headers, "Accept-Language": "ko"})
    assert refused.status_code == 403 and "text/html" in refused.headers["content-type"]
    assert "주택 화재" not in refused.text


def test_operator_advances_an_incident_and_shares_video_from_the_page(sqlite_world):
    w = sqlite_world
    c = w.client
    cameras_around(w, HAEUNDAE["lon"], HAEUNDAE["lat"], n=3)
    inc = c.post(f"{API}/incidents", json={"type": "fire", "location": HAEUNDAE},
                 headers=w.headers("fire-119")).json()
    page = c.get(f"/ops/incidents/{inc['id']}", headers={**w.operator.headers, "Accept-Language": "ko"})
    assert "상태 변경" in page.text and 'value="arrived"' in page.text and "영상 제공" in page.text
    en = c.get(f"/ops/incidents/{inc['id']}", headers={**w.operator.headers, "Accept-Language": "en"})
    assert "Advance the incident" in en.text and "Share video" in en.text
    # a step from the page: redirected back, the timeline shows who did it
    r = c.post(f"/ops/incidents/{inc['id']}/transition", data={"to": "arrived", "note": "선착대 도착"},
               headers=w.operator.headers, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("#timeline")
    detail = c.get(f"{API}/incidents/{inc['id']}", headers=w.operator.headers).json()
    assert detail["state"] == "arrived" and detail["timeline"][-1]["note"] == "선착대 도착"
    assert detail["timeline"][-1]["actor_label"] == "operator@city.test"
    # a skipped step is refused naming the allowed one; nothing changes
    skip = c.post(f"/ops/incidents/{inc['id']}/transition", data={"to": "closed"}, headers=w.operator.headers,
                  follow_redirects=False)
    assert skip.status_code == 409 and "operating" in skip.text
    assert c.get(f"{API}/incidents/{inc['id']}", headers=w.operator.headers).json()["state"] == "arrived"
    # a note, then video for 112: the two nearest cameras, 15 minutes, audited on the timeline
    assert c.post(f"/ops/incidents/{inc['id']}/notes", data={"note": "진입로 확보"}, headers=w.operator.headers,
                  follow_redirects=False).status_code == 303
    assert c.post(f"/ops/incidents/{inc['id']}/notes", data={"note": " "}, headers=w.operator.headers,
                  follow_redirects=False).status_code == 422
    ids = ["urn:ngsi-ld:Camera:test-0000", "urn:ngsi-ld:Camera:test-0001"]
    r = c.post(f"/ops/incidents/{inc['id']}/grants", headers=w.operator.headers, follow_redirects=False,
               data={"agency": "police-112", "reason": "용의자 도주 경로 확인", "minutes": "15", "camera_ids": ids})
    assert r.status_code == 303, r.text
    granted = [g for g in c.get(f"{API}/incidents/{inc['id']}/video-grants", headers=w.operator.headers).json()["items"]
               if g["reason"] == "용의자 도주 경로 확인"]  # beside the grants made when the incident arrived
    assert len(granted) == 1 and granted[0]["agency"] == "police-112" and sorted(granted[0]["camera_ids"]) == ids
    bad = c.post(f"/ops/incidents/{inc['id']}/grants", headers=w.operator.headers, follow_redirects=False,
                 data={"agency": "police-112", "reason": "x"})
    assert bad.status_code == 422 and "reason" in bad.text
    page = c.get(f"/ops/incidents/{inc['id']}", headers={**w.operator.headers, "Accept-Language": "ko"})
    assert "용의자 도주 경로 확인" in page.text and "제공 철회" in page.text
    r = c.post(f"/ops/grants/{granted[0]['id']}/revoke", headers=w.operator.headers, follow_redirects=False)
    assert r.status_code == 303
    assert c.get(f"{API}/grants/{granted[0]['id']}", headers=w.operator.headers).json()["revoked_at"]
    # the 119 room acts from the page too, but cannot share video; a citizen can do neither
    fire = c.post(f"/ops/incidents/{inc['id']}/transition", data={"to": "operating"},
                  headers=w.headers("fire-119"), follow_redirects=False)
    assert fire.status_code == 303
    assert c.post(f"/ops/incidents/{inc['id']}/grants", data={"agency": "fire-119", "reason": "현장 확인"},
                  headers=w.headers("police-112"), follow_redirects=False).status_code == 403
    citizen = w.people.user("kim@citizen.test")
    assert c.post(f"/ops/incidents/{inc['id']}/transition", data={"to": "initially_suppressed"},
                  headers=citizen.headers, follow_redirects=False).status_code == 403
