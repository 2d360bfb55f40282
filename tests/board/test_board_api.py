"""The board's data door: who sees which board, what the public board leaves out, and the SSE feed's
replay log (an event id resumes exactly where a board left off)."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.board.conftest import fire, seed_city


@pytest.fixture
def crew(people):  # noqa: ANN001, ANN201
    people.org("mayors-office", "시장실")
    people.org("safety-office", "안전총괄실")
    return {
        "operator": people.user("op@city.test", role="operator", org="safety-office"),
        "mayor": people.user("mayor@city.test", role="analyst", org="mayors-office", capacity="admin"),
        "citizen": people.user("citizen@city.test"),
        "clerk": people.user("clerk@city.test", role="analyst", org="safety-office"),
    }


def test_staff_board_is_for_operators_mayor_and_department_heads(client, crew) -> None:  # noqa: ANN001
    assert client.get("/api/v1/board/snapshot").status_code == 401
    for who in ("citizen", "clerk"):
        assert client.get("/api/v1/board/snapshot", headers=crew[who].headers).status_code == 403, who
    for who in ("operator", "mayor"):
        r = client.get("/api/v1/board/snapshot", headers=crew[who].headers)
        assert r.status_code == 200, (who, r.text)
        assert r.json()["view"] == "ops" and r.json()["incidents"] == []
    assert client.get("/ops", headers={"Accept": "text/html"}, follow_redirects=False).status_code == 303


def test_public_board_shows_public_parts_only(client, crew) -> None:  # noqa: ANN001
    seed_city(client.app.state.settings, sensors={"air": 10, "traffic": 10, "water": 3, "cameras": 20})
    r = client.post("/api/v1/ops/incidents", json=fire(), headers=crew["operator"].headers)
    assert r.status_code == 201, r.text
    staff = client.get("/api/v1/board/snapshot", headers=crew["operator"].headers).json()
    assert [i["id"] for i in staff["incidents"]] == [r.json()["id"]]
    assert client.get("/api/v1/board/layers", headers=crew["operator"].headers).json()["cameras"]
    public = client.get("/api/v1/board/snapshot?view=city").json()
    assert public["view"] == "city" and public["incidents"] is None and public["directives"] is None
    assert len(public["projects"]) == 26 and len(public["live"]) == 16
    assert public["can"] == {"directive": False, "video": False}
    layers = client.get("/api/v1/board/layers?view=city").json()
    assert layers["cameras"] is None and len(layers["air"]) == 10
    text = json.dumps(public) + json.dumps(layers)
    assert r.json()["id"] not in text and "Camera" not in text and "우동" not in text
    camera = next(iter(client.get("/api/v1/board/layers", headers=crew["operator"].headers)
                                      .json()["cameras"]))[0]
    assert client.get(f"/api/v1/board/sensors/{camera}?view=city").status_code == 404
    assert client.get(f"/api/v1/board/sensors/{camera}", headers=crew["operator"].headers).status_code == 200
    assert client.get(f"/api/v1/board/incidents/{r.json()['id']}").status_code == 401


def test_mayors_office_issues_directives_from_the_board(client, crew) -> None:  # noqa: ANN001
    body = {"title": "부산진구 교통 정체 대책 보고", "project_ref": "busan-north-port", "department": "safety-office",
            "due_at": "2030-01-01T09:00:00+09:00"}
    snap = client.get("/api/v1/board/snapshot", headers=crew["mayor"].headers).json()
    assert snap["can"]["directive"] is True
    r = client.post("/api/v1/board/directives", json=body, headers=crew["mayor"].headers)
    assert r.status_code == 201, r.text
    assert r.json()["department"] == "safety-office"
    # a member of another department (or a citizen) may not direct anyone
    assert client.post("/api/v1/board/directives", json=body, headers=crew["clerk"].headers).status_code == 403
    assert client.post("/api/v1/board/directives", json=body, headers=crew["citizen"].headers).status_code == 403
    listed = client.get("/api/v1/board/snapshot", headers=crew["operator"].headers).json()["directives"]
    assert [d["title"] for d in listed] == [body["title"]]


def test_mayor_sees_the_incidents_the_feed_shows_and_directs_from_the_drawer(client, crew) -> None:  # noqa: ANN001
    op, mayor = crew["operator"].headers, crew["mayor"].headers
    inc = client.post("/api/v1/ops/incidents", json=fire(), headers=op).json()
    person = client.post("/api/v1/ops/incidents", headers=op, json={
        "type": "vulnerable_person", "severity": "high", "location": {"lon": 129.06, "lat": 35.16}}).json()
    listed = client.get("/api/v1/board/snapshot", headers=mayor).json()["incidents"]
    assert [i["id"] for i in listed] == [inc["id"]]  # no protected person's incident
    drawer = client.get(f"/api/v1/board/incidents/{inc['id']}", headers=mayor).json()
    assert drawer["address"] == fire()["address"] and drawer["timeline"] and drawer["cameras"] == []
    assert client.get(f"/api/v1/board/incidents/{person['id']}", headers=mayor).status_code == 403
    # nor in the live feed's replay (the operator's has it)
    from cityhub.board.live import read_since

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the flusher logs events within a fraction of a second
        with client.app.state.session_factory() as db:
            if len([e for e in read_since(db, 0) if e["topic"] == "incident.created"]) == 2:
                break
        time.sleep(0.1)
    for who, seen in ((op, {inc["id"], person["id"]}), (mayor, {inc["id"]})):
        with client.stream("GET", "/api/v1/board/events?view=ops&after=0", headers=who) as feed:
            lines = feed.iter_lines()
            data = next(line for line in lines if line.startswith("data: ["))
        assert {e["payload"]["id"] for e in json.loads(data[6:]) if e["topic"] == "incident.created"} == seen
    assert client.get(f"/api/v1/board/incidents/{inc['id']}", headers=crew["clerk"].headers).status_code == 403
    r = client.post("/api/v1/board/directives", headers=mayor, json={
        "title": "주변 대피 안내", "incident_id": inc["id"], "department": "safety-office",
        "due_at": "2030-01-01T09:00:00+09:00"})
    assert r.status_code == 201, r.text
    for who in (op, mayor):
        again = client.get(f"/api/v1/board/incidents/{inc['id']}", headers=who).json()
        assert [d["title"] for d in again["directives"]] == ["주변 대피 안내"]
        panel = client.get("/api/v1/board/snapshot", headers=who).json()["directives"]
        assert [d["title"] for d in panel] == ["주변 대피 안내"]


def test_incident_drawer_has_timeline_and_nearby_cameras(client, crew) -> None:  # noqa: ANN001
    seed_city(client.app.state.settings, sensors={"air": 5, "traffic": 5, "water": 2, "cameras": 400})
    op = crew["operator"].headers
    inc = client.post("/api/v1/ops/incidents", json=fire(), headers=op).json()
    client.post(f"/api/v1/ops/incidents/{inc['id']}/transitions", json={"to": "arrived"}, headers=op)
    d = client.get(f"/api/v1/board/incidents/{inc['id']}", headers=op).json()
    assert [t["to_state"] for t in d["timeline"] if t["kind"] in ("created", "state")][:2] == ["dispatched", "arrived"]
    assert isinstance(d["cameras"], list)
    air = client.get("/api/v1/board/layers", headers=op).json()["air"][0][0]
    s = client.get(f"/api/v1/board/sensors/{air}", headers=op).json()
    assert s["attr"] == "pm25" and len(s["series"]) >= 1


def _read_frames(url: str, headers: dict, *, want: int, timeout: float = 10.0) -> list[tuple[str, str, list]]:
    """Read SSE frames (id, event, data) until `want` batch frames arrived."""
    frames: list[tuple[str, str, list]] = []
    with httpx.Client(timeout=timeout) as http, http.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200, response.read()
        fields: dict[str, str] = {}
        deadline = time.monotonic() + timeout
        for line in response.iter_lines():
            if line == "":
                if fields.get("event") == "batch":
                    frames.append((fields.get("id", ""), "batch", json.loads(fields["data"])))
                fields = {}
                if len(frames) >= want or time.monotonic() > deadline:
                    break
                continue
            if line.startswith(":"):
                continue
            key, _, value = line.partition(":")
            fields[key] = value.lstrip()
    return frames


@pytest.mark.parametrize("backend", ["sqlite"])
def test_sse_batches_and_resumes_from_last_event_id(live_server, live_people) -> None:  # noqa: ANN001
    live_people.org("safety-office", "안전총괄실")
    op = live_people.user("op@city.test", role="operator", org="safety-office")
    url = f"{live_server.url}/api/v1/board/events?view=ops&after=0"
    created = []
    for lon in (129.10, 129.16, 129.03):
        r = httpx.post(f"{live_server.url}/api/v1/ops/incidents", json=fire(lon=lon), headers=op.headers)
        assert r.status_code == 201, r.text
        created.append(r.json()["id"])
    time.sleep(0.8)  # the flusher writes the log within a quarter second
    frames = _read_frames(url, op.headers, want=1)
    events = [e for f in frames for e in f[2]]
    assert [e["payload"]["id"] for e in events if e["topic"] == "incident.created"] == created
    first_id = int(frames[0][0])
    assert first_id == events[-1]["id"]
    # a board that saw the first event resumes with the other two (Last-Event-ID beats ?after=)
    first_event_id = next(e["id"] for e in events if e["topic"] == "incident.created")
    resumed = _read_frames(url, {**op.headers, "Last-Event-ID": str(first_event_id)}, want=1)
    again = [e["payload"]["id"] for f in resumed for e in f[2] if e["topic"] == "incident.created"]
    assert again == created[1:]
    # live: a new incident reaches a connected board in one batch
    import threading

    got: list = []
    reader = threading.Thread(target=lambda: got.extend(_read_frames(
        f"{live_server.url}/api/v1/board/events?view=ops", op.headers, want=1)))
    reader.start()
    time.sleep(0.5)
    r = httpx.post(f"{live_server.url}/api/v1/ops/incidents", json=fire(lon=129.2, lat=35.25), headers=op.headers)
    reader.join(timeout=10)
    assert [e["payload"]["id"] for f in got for e in f[2]] == [r.json()["id"]]
    # the public feed never carries incidents
    citizen_frames = httpx.get(f"{live_server.url}/api/v1/board/snapshot?view=city").json()
    assert citizen_frames["incidents"] is None
    with live_server.app.state.session_factory() as db:
        from cityhub.board.live import read_since

        assert read_since(db, 0, public=True) == []


def test_two_workers_share_one_live_feed(app, live_server, live_people) -> None:  # noqa: ANN001
    """Two processes' worth of app (each its own in-process bus and hub) on one database, as under
    `uvicorn --workers 2`: a board on either worker gets the incidents reported through the other, in one
    order, and resumes by id on the other worker after its connection moved."""
    from cityhub.app import create_app
    from tests.conftest import LiveServer

    live_people.org("safety-office", "안전총괄실")
    op = live_people.user("op@city.test", role="operator", org="safety-office")
    with LiveServer(create_app(app.state.settings)) as other:
        import threading

        got: list = []
        reader = threading.Thread(target=lambda: got.extend(_read_frames(
            f"{other.url}/api/v1/board/events?view=ops", op.headers, want=1, timeout=20)))
        reader.start()
        time.sleep(0.5)
        r = httpx.post(f"{live_server.url}/api/v1/ops/incidents", json=fire(), headers=op.headers)
        assert r.status_code == 201, r.text
        reader.join(timeout=30)
        first = [e for f in got for e in f[2] if e["topic"] == "incident.created"]
        assert [e["payload"]["id"] for e in first] == [r.json()["id"]]
        # the next one goes through the second worker; a board that saw the first resumes on the first worker
        r2 = httpx.post(f"{other.url}/api/v1/ops/incidents", json=fire(lon=129.05, lat=35.15), headers=op.headers)
        assert r2.status_code == 201, r2.text
        deadline = time.monotonic() + 20
        resumed: list = []
        while time.monotonic() < deadline and not resumed:
            frames = _read_frames(f"{live_server.url}/api/v1/board/events?view=ops",
                                  {**op.headers, "Last-Event-ID": str(first[-1]["id"])}, want=1, timeout=5)
            resumed = [e["payload"]["id"] for f in frames for e in f[2] if e["topic"] == "incident.created"]
        assert resumed == [r2.json()["id"]]
    with app.state.session_factory() as db:
        from cityhub.board.live import read_since

        logged = [e["payload"]["id"] for e in read_since(db, 0) if e["topic"] == "incident.created"]
    assert logged == [r.json()["id"], r2.json()["id"]]  # each event logged once, whichever worker heard it


def test_water_panel_counts_complaints_from_the_catalog_dataset(client, crew) -> None:  # noqa: ANN001
    from datetime import UTC, datetime, timedelta

    from cityhub.board import water
    from cityhub.cli import system_ctx

    assert client.get("/api/v1/board/snapshot?view=city").json()["water_complaints"] is None  # not connected
    def today(at: datetime) -> int:  # the synthetic complaints received today (KST) up to `at`
        return sum(1 for r in water.demo_rows(at, days=1) if r["received_at"] >= water._kst_midnight(at))

    before = datetime.now(UTC)
    seed_city(client.app.state.settings, sensors={"air": 5, "traffic": 5, "water": 2, "cameras": 5})
    for view, headers in (("ops", crew["operator"].headers), ("city", {})):
        panel = client.get(f"/api/v1/board/snapshot?view={view}", headers=headers).json()["water_complaints"]
        now = datetime.now(UTC)
        if water._kst_midnight(now) != water._kst_midnight(before):
            pytest.skip("the day changed (KST) while the test ran")
        assert today(before) <= panel["today"]["total"] <= today(now), view
        assert sum(panel["today"]["districts"].values()) == panel["today"]["total"]
        assert len(panel["daily"]) == 7 and panel["daily"][-1] == panel["today"]["total"]
    # the same rows are an ordinary public dataset (CKAN datastore door included)
    ds = client.get(f"/api/3/action/package_show?id={water.DATASET}").json()["result"]
    assert ds["organization"]["name"] == "waterworks-hq" and ds["num_resources"] == 1
    # live: a later moment adds only the complaints received since, and running twice adds nothing
    later = now + timedelta(hours=3)
    with system_ctx(client.app.state.settings) as ctx:
        added = water.sync_demo(ctx, now=later)
        ctx.db.commit()
        assert water.sync_demo(ctx, now=later) == 0
    due = [r for r in water.demo_rows(later, days=2) if now < r["received_at"] <= later]
    assert added == len(due)
