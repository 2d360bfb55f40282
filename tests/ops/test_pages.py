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
