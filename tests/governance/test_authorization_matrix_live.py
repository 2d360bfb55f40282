"""The authorization matrix for the live doors: NGSI-LD (entities, types, temporal) and the event streams
(the context SSE feed and the board's /ops and city streams) × every role × public/internal/restricted
live types. An entity type's access is its live-<type> dataset's; nothing of a type leaks to a role that
may not read that dataset."""

from __future__ import annotations

import json
import queue
import threading
import time

import httpx

from tests.governance.test_authorization_matrix import LEVELS, READERS, ROLES, matrix_people

NGSI = "/ngsi-ld/v1"
TYPES = {"public": "LivePub", "internal": "LiveInt", "restricted": "LiveRes"}


def _world(client, people):  # noqa: ANN001, ANN202
    who = matrix_people(people)
    owner = who["steward_owner"].headers
    for level, etype in TYPES.items():
        body = {"name": f"live-{etype.lower()}", "title": f"LIVE-{level}", "owner_org": "welfare",
                "access_level": level}
        assert client.post("/api/v1/datasets", json=body, headers=owner).status_code == 201
    r = client.post(f"/api/v1/datasets/live-{TYPES['restricted'].lower()}/grants",
                    json={"user": "grantee@company.test"}, headers=owner)
    assert r.status_code == 201, r.text
    return who


def _entity(level: str, n: int = 1) -> dict:
    etype = TYPES[level]
    return {"id": f"urn:ngsi-ld:{etype}:MARK-{level}-{n}", "type": etype,
            "reading": {"type": "Property", "value": n, "observedAt": "2026-01-01T00:00:00Z"}}


def _ngsi_doors(client, headers, level):  # noqa: ANN001, ANN202
    etype, eid = TYPES[level], _entity(level)["id"]
    calls = [
        ("ngsi.query", f"{NGSI}/entities", {"type": etype}),
        ("ngsi.query_broad", f"{NGSI}/entities", {"idPattern": ".*", "limit": 100}),
        ("ngsi.query_attrs", f"{NGSI}/entities", {"attrs": "reading", "limit": 100}),
        ("ngsi.entity", f"{NGSI}/entities/{eid}", None),
        ("ngsi.types", f"{NGSI}/types", None),
        ("ngsi.temporal", f"{NGSI}/temporal/entities", {"type": etype}),
        ("ngsi.temporal_entity", f"{NGSI}/temporal/entities/{eid}", None),
    ]
    for door, url, params in calls:
        r = client.get(url, params=params, headers=headers)
        yield door, r.text, r.status_code


def test_ngsi_ld_door_shows_a_live_type_only_to_readers_of_its_dataset(client, people) -> None:  # noqa: ANN001
    who = _world(client, people)
    writer = who["steward_owner"].headers
    r = client.post(f"{NGSI}/entityOperations/upsert", json=[_entity(lv) for lv in LEVELS], headers=writer)
    assert r.status_code in (201, 204), r.text
    for role in ROLES:
        headers = who[role].headers if who[role] else {}
        for level in LEVELS:
            allowed = role in READERS[level]
            mark, etype = f"MARK-{level}", TYPES[level]
            for door, text, status in _ngsi_doors(client, headers, level):
                shows = mark in text or (door == "ngsi.types" and etype in text)
                if door in ("ngsi.entity", "ngsi.temporal_entity"):  # the asked id is echoed in a 404
                    shows = status == 200 and mark in text
                assert shows == allowed, (role, level, door, status, text[:300])
                if not allowed:
                    assert status in (200, 404), (role, level, door, status)


def _sse(url: str, headers: dict, lines: queue.Queue, stop: threading.Event) -> None:
    try:
        with httpx.stream("GET", url, headers=headers, timeout=httpx.Timeout(5, read=60)) as r:
            lines.put(("status", r.status_code))
            for line in r.iter_lines():
                lines.put(("line", line))
                if stop.is_set():
                    return
    except httpx.HTTPError as exc:
        lines.put(("error", repr(exc)))


def _read_until(lines: queue.Queue, marker: str, deadline: float) -> list[str]:
    """Lines until one holding `marker` (the last event sent), or the generous deadline."""
    seen: list[str] = []
    while time.monotonic() < deadline:
        try:
            kind, value = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        seen.append(str(value))
        if kind == "error" or marker in str(value):
            break
    return seen


def _open(url: str, headers: dict) -> tuple[queue.Queue, threading.Event]:
    lines: queue.Queue = queue.Queue()
    stop = threading.Event()
    threading.Thread(target=_sse, args=(url, headers, lines, stop), daemon=True).start()
    return lines, stop


def test_event_streams_never_carry_restricted_data(live_server, live_people) -> None:  # noqa: ANN001
    base = live_server.url
    with httpx.Client(base_url=base) as client:
        who = _world(client, live_people)
        operator = live_people.user("operator@city.test", role="operator")
        # Connect every role's streams first: the context feed (open to all, so trimmed to public types)
        # and the board (the staff /ops stream where the role may see it, else the citizens' board).
        streams = {}
        for role in (*ROLES, "operator"):
            person = operator if role == "operator" else who[role]
            headers = person.headers if person else {}
            feed = _open(f"{base}/api/v1/context/events", headers)
            staff = client.get("/api/v1/board/snapshot", params={"view": "ops"}, headers=headers).status_code == 200
            board = _open(f"{base}/api/v1/board/events?view={'ops' if staff else 'city'}", headers)
            streams[role] = (feed, board, staff)
        for feed, board, _ in streams.values():
            for lines, _stop in (feed, board):
                first = lines.get(timeout=30)
                assert first == ("status", 200), first
        time.sleep(0.5)  # listeners registered once the first bytes came; give the board's flusher a beat

        # restricted and internal first, then a public entity: a stream that shows the public one has
        # already been handed everything sent before it
        writer = who["steward_owner"].headers
        for level in ("restricted", "internal", "public"):
            r = client.post(f"{NGSI}/entityOperations/upsert", json=[_entity(level, 2)], headers=writer)
            assert r.status_code in (201, 204), r.text
        bus = live_server.app.state.bus
        bus.publish("incident.created", {"id": "INC-SECRET", "title": "STAFF-ONLY-INCIDENT"})
        bus.publish("project.changed", {"id": "p1", "slug": "RESTRICTED-PROJECT", "access_level": "restricted"})
        bus.publish("project.changed", {"id": "p2", "slug": "PUBLIC-PROJECT", "access_level": "public"})

        deadline = time.monotonic() + 60
        for role, (feed, board, staff) in streams.items():
            feed_text = "\n".join(_read_until(feed[0], "MARK-public-2", deadline))
            board_text = "\n".join(_read_until(board[0], "PUBLIC-PROJECT", deadline))
            feed[1].set()
            board[1].set()
            assert "MARK-public-2" in feed_text, (role, feed_text[-500:])
            assert "MARK-restricted" not in feed_text and "MARK-internal" not in feed_text, role
            assert TYPES["restricted"] not in feed_text and TYPES["internal"] not in feed_text, role
            assert "PUBLIC-PROJECT" in board_text, (role, board_text[-500:])
            if staff:
                assert "STAFF-ONLY-INCIDENT" in board_text, role
            else:
                assert "STAFF-ONLY-INCIDENT" not in board_text and "RESTRICTED-PROJECT" not in board_text, role
            for line in board_text.splitlines():
                if line.startswith("data: ") and not staff:
                    assert all(e["topic"] in ("sensors", "alert.raised", "alert.cleared", "project.changed")
                               for e in json.loads(line[6:])), (role, line)


def test_ngsi_ld_reads_of_non_public_live_types_are_audited(client, people) -> None:  # noqa: ANN001
    who = _world(client, people)
    writer = who["steward_owner"].headers
    r = client.post(f"{NGSI}/entityOperations/upsert", json=[_entity(lv) for lv in LEVELS], headers=writer)
    assert r.status_code in (201, 204), r.text
    admin = who["admin"].headers
    grantee = who["grantee"]
    ids = {lv: client.get(f"/api/v1/datasets/live-{TYPES[lv].lower()}", headers=admin).json()["id"]
           for lv in LEVELS}
    for _door, _text, status in _ngsi_doors(client, grantee.headers, "restricted"):
        assert status == 200
    entries = client.get("/api/v1/audit", params={"resource": ids["restricted"], "limit": 1000},
                         headers=admin).json()["items"]
    reads = [e for e in entries if e["action"] == "dataset.read" and (e.get("detail") or {}).get("door") == "ngsi-ld"]
    # query, broad query, attrs query, one entity, temporal query, temporal entity (types lists no entity)
    assert len(reads) >= 6 and {e["actor_email"] for e in reads} == {grantee.email}, reads[:2]
    public = client.get("/api/v1/audit", params={"resource": ids["public"], "limit": 1000}, headers=admin).json()
    assert not [e for e in public["items"] if (e.get("detail") or {}).get("door") == "ngsi-ld"]


def test_alerts_are_read_under_their_source_types_access(client, people) -> None:  # noqa: ANN001
    """An Alert raised about a restricted type's entity tells nothing to those who may not read that type."""
    people.org("welfare", "복지국")
    owner = people.user("owner@city.test", role="steward", org="welfare")
    citizen = people.user("citizen@city.test")
    body = {"name": "live-airqualityobserved", "title": "restricted air", "owner_org": "welfare",
            "access_level": "restricted"}
    assert client.post("/api/v1/datasets", json=body, headers=owner.headers).status_code == 201
    station = {"id": "urn:ngsi-ld:AirQualityObserved:secret-1", "type": "AirQualityObserved",
               "pm25": {"type": "Property", "value": 180.0, "observedAt": "2026-01-01T00:00:00Z"},
               "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [129.16, 35.16]}}}
    r = client.post(f"{NGSI}/entityOperations/upsert", json=[station], headers=owner.headers)
    assert r.status_code in (201, 204), r.text
    mine = client.get(f"{NGSI}/entities", params={"type": "Alert"}, headers=owner.headers).json()
    alert = next(a for a in mine if "secret-1" in a["id"])
    for headers in ({}, citizen.headers):
        listed = client.get(f"{NGSI}/entities", params={"type": "Alert"}, headers=headers)
        assert listed.status_code == 200 and "secret-1" not in listed.text
        assert client.get(f"{NGSI}/entities/{alert['id']}", headers=headers).status_code == 404
        history = client.get(f"{NGSI}/temporal/entities", params={"type": "Alert"}, headers=headers)
        assert "secret-1" not in history.text
        types = client.get(f"{NGSI}/types", headers=headers).json()  # not even counted
        assert "Alert" not in str(types) and "AirQualityObserved" not in str(types)
