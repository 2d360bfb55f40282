"""The demo's operations: the four agencies with staff sign-ins and API credentials, synthetic wearables
(idempotent seeding), and the simulated 112/119 rooms playing against a real server over HTTP."""

from __future__ import annotations

import threading
import time

import httpx
from sqlalchemy import func, select

from tests.conftest import People

API = "/api/v1/ops"


def test_demo_seeds_agencies_staff_and_wearables_once_and_the_rooms_play_over_http(live_server, app):  # noqa: ANN001
    from cityhub.ops.demo import DEMO_PASSWORD, seed_operations, start_rooms
    from cityhub.ops.models import Agency, Incident, ProtectedPerson

    people = People(app)
    with people._ctx() as ctx:
        first = seed_operations(ctx)
    with people._ctx() as ctx:
        again = seed_operations(ctx)  # re-running adds nothing (fresh tokens only)
        assert ctx.db.scalar(select(func.count()).select_from(Agency)) == 4
        assert ctx.db.scalar(select(func.count()).select_from(ProtectedPerson)) == 3
    assert set(first.tokens) == {"police-112", "fire-119", "disaster-room", "protection"}
    assert first.backfill and again.backfill and again.staff == first.staff
    with httpx.Client(base_url=live_server.url, timeout=30) as c:
        # a 112 room operator signs in with the demo password and acts for the agency
        r = c.post("/api/v1/auth/login", json={"email": first.staff["police-112"], "password": DEMO_PASSWORD})
        assert r.status_code == 200, r.text
        assert c.get(f"{API}/incidents").status_code == 200
        for code, token in again.tokens.items():
            assert c.get(f"{API}/incidents", headers={"Authorization": f"Bearer {token}"}).status_code == 200, code
        # the rooms: two simulated hours at once, then live (stopped here)
        stop = threading.Event()
        thread = start_rooms(live_server.url, again, stop=stop)
        deadline = time.time() + 120
        closed = 0
        while time.time() < deadline and closed == 0:
            time.sleep(0.5)
            with people._ctx() as ctx:
                closed = ctx.db.scalar(select(func.count()).select_from(Incident).where(
                    Incident.closed_at.is_not(None))) or 0
        stop.set()
        thread.join(timeout=60)
        with people._ctx() as ctx:
            incidents = ctx.db.scalars(select(Incident)).all()
        assert closed > 0 and len({i.district for i in incidents}) > 3
        assert {i.source for i in incidents} == {"agency"}
