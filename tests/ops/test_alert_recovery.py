"""Alerts acknowledged but still queued when the app stops become incidents after the next start, exactly once:
the start-up sweep finds them, a second sweep finds nothing, and twin workers opening one raise make one
incident (both backends)."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient

from cityhub.app import create_app
from cityhub.ops import sensors
from tests.conftest import People
from tests.ops.conftest import NGSI, fast, make_world
from tests.ops.receivers import wait_until

API = "/api/v1/ops"


def gauge(n: int, level: float) -> dict:
    # ≈ 2 km apart: separate incidents, not duplicates of one another
    return {"id": f"urn:ngsi-ld:WaterLevelObserved:recovery-{n}", "type": "WaterLevelObserved",
            "waterLevel": {"type": "Property", "value": level},
            "location": {"type": "GeoProperty", "value": {"type": "Point",
                                                          "coordinates": [129.07 + n * 0.02, 35.17]}}}


def _operator(client: TestClient, org: str):  # noqa: ANN202
    people = People(client.app)
    return people.user(f"op-{org}@city.test", role="operator", org=people.org(org, org))


def _incidents(client: TestClient, headers: dict) -> list[dict]:
    return client.get(f"{API}/incidents", params={"limit": 100}, headers=headers).json()["items"]


def test_queued_alerts_become_one_incident_each_after_restart(settings, monkeypatch):
    stalled: list[dict] = []
    # The worker stalls: what it takes from the queue is never opened, as when the process dies first.
    monkeypatch.setattr(sensors, "open_report", lambda *a: stalled.append(a[3]) or False)
    with TestClient(create_app(fast(settings))) as c:
        world = make_world(c, {})
        r = c.post(f"{NGSI}/entityOperations/upsert", json=[gauge(n, 3.4) for n in range(3)],
                   headers=world.operator.headers)
        assert r.status_code in (201, 204), r.text
        assert wait_until(lambda: len(stalled) == 3)
        assert _incidents(c, world.operator.headers) == []
    monkeypatch.undo()

    with TestClient(create_app(fast(settings))) as c:
        headers = _operator(c, "restart-ctrl").headers
        assert wait_until(lambda: len(_incidents(c, headers)) == 3)
        items = _incidents(c, headers)
        refs = sorted(i["source_ref"] for i in items)
        assert refs == sorted(r["_alert"] for r in stalled) and len(set(refs)) == 3
        assert {(i["type"], i["subtype"], i["source"]) for i in items} == {("disaster", "flood", "sensor")}
        app = c.app
        queued: list[dict] = []
        for _ in range(2):  # the sweep again (the timer): nothing left to recover
            assert sensors.sweep(app.state.session_factory, app.state.settings, app.state.bus, queued.append) == 0
        assert queued == []
        # A new alert on the live path while sweeps run: still one incident.
        c.post(f"{NGSI}/entityOperations/upsert", json=[gauge(7, 3.4)], headers=headers)
        assert wait_until(lambda: len(_incidents(c, headers)) == 4)
        sensors.sweep(app.state.session_factory, app.state.settings, app.state.bus, queued.append)
        assert queued == []
        assert len(_incidents(c, headers)) == 4


def test_twin_workers_opening_one_raise_make_one_incident(settings, monkeypatch):
    from cityhub.ops.alert_recovery import claim_key

    stalled: list[dict] = []
    monkeypatch.setattr(sensors, "open_report", lambda *a: stalled.append(a[3]) or False)  # left to the twins
    with TestClient(create_app(fast(settings))) as c:
        world = make_world(c, {})
        c.post(f"{NGSI}/entityOperations/upsert", json=[gauge(1, 3.4)], headers=world.operator.headers)
        assert wait_until(lambda: len(stalled) == 1)
        monkeypatch.undo()
        app = c.app
        found: list[dict] = []
        assert sensors.sweep(app.state.session_factory, app.state.settings, app.state.bus, found.append) == 1
        report = {**sensors.incident_from_alert(found[0]), "_alert": found[0]["id"],
                  "_key": claim_key(found[0]["id"], found[0]["at"])}
        opened: list[bool] = []
        twins = [threading.Thread(target=lambda: opened.append(sensors.open_report(
            app.state.session_factory, app.state.settings, app.state.bus, dict(report)))) for _ in range(2)]
        for t in twins:
            t.start()
        for t in twins:
            t.join()
        assert sorted(opened) == [False, True]
        items = _incidents(c, world.operator.headers)
        assert [i["source_ref"] for i in items] == [found[0]["id"]]
        assert c.get(f"{API}/incidents/{items[0]['id']}", headers=world.operator.headers).json()["reports"] == 1
