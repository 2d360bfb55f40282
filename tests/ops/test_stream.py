"""112 patrol units follow their incidents live (server-sent events over a real server): a new incident
arrives with its location and nearest cameras, then each state change as it happens; a reconnect resumes by
Last-Event-ID; an agency sees only its own incidents; citizens are refused."""

from __future__ import annotations

import json
import threading
import time
from types import SimpleNamespace

import httpx

from tests.ops.conftest import NGSI, SEOMYEON, camera, make_world

API = "/api/v1/ops"


class Listener:
    """Reads an SSE stream in a thread, keeping each `event: incident` message."""

    def __init__(self, url: str, headers: dict[str, str], params: dict | None = None) -> None:
        self.messages: list[dict] = []
        self.status: int | None = None
        self.ready = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(url, headers, params or {}), daemon=True)
        self.thread.start()
        assert self.ready.wait(30)

    def _run(self, url: str, headers: dict[str, str], params: dict) -> None:
        with httpx.Client(timeout=httpx.Timeout(60, read=60)) as c, \
                c.stream("GET", url, headers=headers, params=params) as r:
            self.status = r.status_code
            self.ready.set()
            if r.status_code != 200:
                return
            kind = None
            for line in r.iter_lines():
                if self.stop.is_set():
                    return
                if line.startswith("event:"):
                    kind = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and kind == "incident":
                    self.messages.append(json.loads(line[5:]))

    def wait_for(self, n: int, timeout: float = 30) -> list[dict]:
        deadline = time.time() + timeout
        while len(self.messages) < n and time.time() < deadline:
            time.sleep(0.05)
        return list(self.messages)


def test_patrol_units_receive_their_incidents_as_they_happen(live_server, app):  # noqa: ANN001
    world = make_world(SimpleNamespace(app=app), {})
    url = f"{live_server.url}{API}/stream"
    with httpx.Client(base_url=live_server.url, timeout=30) as c:
        r = c.post(f"{NGSI}/entityOperations/upsert", json=[camera(1, SEOMYEON["lon"] + 0.001, SEOMYEON["lat"])],
                   headers=world.operator.headers)
        assert r.status_code in (201, 204)
        patrol = Listener(url, world.headers("police-112"))
        fire = Listener(url, world.headers("fire-119"))
        assert patrol.status == 200 and fire.status == 200
        inc = c.post(f"{API}/incidents", json={"type": "crime", "location": SEOMYEON, "address": "부산진구 중앙대로",
                                               "description": "편의점 강도"}, headers=world.operator.headers).json()
        created = patrol.wait_for(1)[0]
        assert created["incident"]["id"] == inc["id"] and created["change"]["kind"] == "created"
        assert created["incident"]["location"] == {"lon": SEOMYEON["lon"], "lat": SEOMYEON["lat"]}
        assert created["incident"]["address"] == "부산진구 중앙대로"
        assert [cam["id"] for cam in created["cameras"]] == ["urn:ngsi-ld:Camera:test-0001"]
        for step in ("acknowledged", "dispatched"):
            assert c.post(f"{API}/incidents/{inc['id']}/transitions", json={"to": step},
                          headers=world.operator.headers).status_code == 200
        def steps() -> list[dict]:  # beside other entries (the video shared with 112 on arrival)
            return [m for m in patrol.messages if m["change"]["kind"] == "state"]

        deadline = time.time() + 30
        while len(steps()) < 2 and time.time() < deadline:
            time.sleep(0.05)
        got = steps()
        assert [m["change"]["to"] for m in got] == ["acknowledged", "dispatched"]
        assert got[1]["incident"]["state"] == "dispatched" and got[1]["incident"]["state_label"][0] == "출동"
        # 119 is not linked to a crime: its stream stays quiet (a fire it is linked to does arrive)
        c.post(f"{API}/incidents", json={"type": "fire", "location": {"lon": 129.1, "lat": 35.2}},
               headers=world.operator.headers)
        assert fire.wait_for(1)[0]["incident"]["type"] == "fire"
        assert all(m["incident"]["id"] != inc["id"] for m in fire.messages)
        patrol.stop.set()
        fire.stop.set()
        # a unit that lost its connection resumes after the last message it saw
        resumed = Listener(url, {**world.headers("police-112"), "Last-Event-ID": str(got[0]["id"])},
                           params={"incident_id": inc["id"]})
        again = resumed.wait_for(1)
        assert again[0]["id"] == got[1]["id"]
        resumed.stop.set()
        citizen = world.people.user("park@citizen.test")
        assert c.get(f"{API}/stream", headers=citizen.headers).status_code == 403
        assert c.get(f"{API}/stream", params={"incident_id": inc["id"]},
                     headers=world.headers("fire-119")).status_code == 403
