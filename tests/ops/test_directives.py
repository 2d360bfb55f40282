"""Directives (업무지시): issued to a department with a due time, acknowledged, progressed, completed;
overdue ones flagged; departments see their own; events on the bus."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.ops.conftest import SEOMYEON

API = "/api/v1/ops"


def test_directive_lifecycle_overdue_and_events(world):
    c, op = world.client, world.operator
    seen: list[str] = []
    c.app.state.bus.subscribe("directive.*", lambda t, _p: seen.append(t))
    roads = world.people.org("roads-dept", "도로과")
    parks = world.people.org("parks-dept", "공원녹지과")
    clerk = world.people.user("clerk@roads.test", role="analyst", org=roads)
    other = world.people.user("clerk@parks.test", role="analyst", org=parks)
    inc = c.post(f"{API}/incidents", json={"type": "traffic_accident", "location": SEOMYEON}, headers=op.headers).json()
    soon = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    d = c.post(f"{API}/directives", json={"title": "사고 지점 도로 보수", "incident_id": inc["id"],
                                          "department": "roads-dept", "due_at": soon}, headers=op.headers)
    assert d.status_code == 201, d.text
    late = c.post(f"{API}/directives", json={"title": "공원 CCTV 점검", "project_ref": "PRJ-2026-017",
                                             "department": "roads-dept", "due_at": past}, headers=op.headers).json()
    assert late["overdue"] is True and d.json()["overdue"] is False
    bad = c.post(f"{API}/directives", json={"title": "x", "department": "nowhere", "due_at": soon,
                                            "project_ref": "p"}, headers=op.headers)
    assert bad.status_code == 422 and "department" in bad.json()["errors"]
    unlinked = c.post(f"{API}/directives", json={"title": "x", "department": "roads-dept", "due_at": soon},
                      headers=op.headers)
    assert unlinked.status_code == 422
    did = d.json()["id"]
    assert c.post(f"{API}/directives/{did}/complete", json={}, headers=clerk.headers).status_code == 409
    assert c.post(f"{API}/directives/{did}/acknowledge", headers=other.headers).status_code == 403
    assert c.post(f"{API}/directives/{did}/acknowledge", headers=clerk.headers).json()["state"] == "acknowledged"
    p = c.post(f"{API}/directives/{did}/progress", json={"text": "자재 발주", "progress": 40}, headers=clerk.headers)
    assert p.json()["state"] == "in_progress" and p.json()["progress"] == 40
    done = c.post(f"{API}/directives/{did}/complete", json={"text": "보수 완료"}, headers=clerk.headers).json()
    assert done["state"] == "completed" and done["progress"] == 100
    full = c.get(f"{API}/directives/{did}", headers=clerk.headers).json()
    assert [n["kind"] for n in full["notes"]] == ["acknowledged", "progress", "completed"]
    overdue = c.get(f"{API}/directives", params={"overdue": "true"}, headers=op.headers).json()
    assert [x["id"] for x in overdue["items"]] == [late["id"]]
    assert c.get(f"{API}/directives", headers=clerk.headers).json()["total"] == 2
    assert c.get(f"{API}/directives", headers=other.headers).json()["total"] == 0
    assert c.get(f"{API}/directives/{did}", headers=other.headers).status_code == 403
    assert seen == ["directive.issued", "directive.issued", "directive.acknowledged", "directive.progress",
                    "directive.completed"]
