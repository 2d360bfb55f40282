"""Simulated 112/119 rooms: calls by hour and district, incidents advanced along their lifecycles with no
refused transition, and the timelines to show for it."""

from __future__ import annotations

from datetime import UTC, datetime

from cityhub.ops.simulator import AgencySimulator, ServiceRooms, hourly_factor

API = "/api/v1/ops"


def test_call_volumes_follow_the_hour():
    assert hourly_factor("police", "crime", 23.5) > 2 * hourly_factor("police", "crime", 10)
    assert hourly_factor("police", "traffic_accident", 8.3) > hourly_factor("police", "traffic_accident", 3)
    sim = AgencySimulator(seed=1, rate_scale=20, start=datetime(2026, 7, 1, 14, 0, tzinfo=UTC))  # 23:00 KST
    night = sum(len(sim.calls_at(datetime(2026, 7, 1, 14, m, tzinfo=UTC))) for m in range(60))
    assert night > 0


def test_simulated_rooms_report_and_advance_incidents(sqlite_world):
    from cityhub.auth.models import User
    from cityhub.auth.service import actor_for_user

    w = sqlite_world
    app = w.client.app
    with app.state.session_factory() as db:
        actors = {room: actor_for_user(db, db.query(User).filter_by(email=f"{code}@agencies.cityhub.local").one())
                  for room, code in (("police", "police-112"), ("fire", "fire-119"))}
    rooms = ServiceRooms(app.state.session_factory, app.state.settings, app.state.bus, actors)
    sim = AgencySimulator(seed=3, rate_scale=4, start=datetime(2026, 7, 1, 0, 0, tzinfo=UTC))
    for _ in sim.run(rooms, minutes=180):
        pass
    assert rooms.reported > 20 and rooms.transitions > rooms.reported and rooms.refused == 0
    board = w.client.get(f"{API}/incidents", params={"limit": 500}, headers=w.operator.headers).json()
    assert board["total"] >= 20
    states = {i["state"] for i in board["items"]}
    assert "closed" in states and len({i["district"] for i in board["items"]}) > 5
    fires = [i for i in board["items"] if i["type"] == "fire" and i["state"] == "closed"]
    for f in fires[:1]:
        tl = w.client.get(f"{API}/incidents/{f['id']}/timeline", headers=w.operator.headers).json()
        assert [e["to_state"] for e in tl if e["kind"] == "state"][-1] == "closed"


def test_rooms_over_http_with_agency_tokens(live_server, app):  # noqa: ANN001
    from types import SimpleNamespace

    from cityhub.ops.simulator import HttpRooms
    from tests.ops.conftest import make_world
    from tests.ops.receivers import Webhook

    with Webhook() as hook:
        world = make_world(SimpleNamespace(app=app), {"police-112": hook})
        rooms = HttpRooms(live_server.url, {"police": world.agencies["police-112"]["token"],
                                            "fire": world.agencies["fire-119"]["token"]})
        sim = AgencySimulator(seed=11, rate_scale=6, start=datetime(2026, 7, 1, 9, 0, tzinfo=UTC))
        for _ in sim.run(rooms, minutes=60):
            pass
        assert rooms.reported > 5 and rooms.transitions > 0 and rooms.refused == 0
        assert hook.wait_for(1)  # 112 heard about the 119 room's incidents
