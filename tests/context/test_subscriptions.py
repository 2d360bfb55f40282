"""Subscriptions: CRUD, matching (entities, watchedAttributes, q, geoQ), delivery from the outbox with
retries, delivery status, throttling, expiry, MQTT endpoints and the SSE feed."""

from __future__ import annotations

import threading
import time

from tests.context.conftest import NGSI, air
from tests.context.receivers import Receiver, wait_until

ERR = "https://uri.etsi.org/ngsi-ld/errors/"
BEACH = [129.1586, 35.1587]


def sub_body(uri: str, **extra: object) -> dict:
    body = {"type": "Subscription", "entities": [{"type": "AirQualityObserved"}],
            "notification": {"format": "keyValues", "endpoint": {"uri": uri, "accept": "application/json"}}}
    body.update(extra)
    return body


def test_subscription_crud(client, writer):
    c, h = client, writer.headers
    r = c.post(f"{NGSI}/subscriptions/", json=sub_body("http://127.0.0.1:9/x", id="urn:ngsi-ld:Subscription:s1"),
               headers=h)
    assert r.status_code == 201, r.text
    assert r.headers["Location"].rsplit("/", 1)[-1] == "urn:ngsi-ld:Subscription:s1"
    r = c.post(f"{NGSI}/subscriptions", json=sub_body("http://127.0.0.1:9/x", id="urn:ngsi-ld:Subscription:s1"),
               headers=h)
    assert r.status_code == 409 and r.json()["type"] == ERR + "AlreadyExists"
    assert c.post(f"{NGSI}/subscriptions", json={"type": "Subscription"}, headers=h).status_code == 400
    assert c.post(f"{NGSI}/subscriptions", json=sub_body("ftp://x"), headers=h).status_code == 400
    assert c.post(f"{NGSI}/subscriptions", json=sub_body("http://x", q="(a>1"), headers=h).status_code == 400
    got = c.get(f"{NGSI}/subscriptions/urn:ngsi-ld:Subscription:s1", headers=h).json()
    assert got["status"] == "active" and got["notification"]["timesSent"] == 0
    assert c.patch(f"{NGSI}/subscriptions/urn:ngsi-ld:Subscription:s1", json={"isActive": False},
                   headers=h).status_code == 204
    assert c.get(f"{NGSI}/subscriptions", headers=h).json()[0]["status"] == "paused"
    assert c.delete(f"{NGSI}/subscriptions/urn:ngsi-ld:Subscription:s1", headers=h).status_code == 204
    assert c.get(f"{NGSI}/subscriptions/urn:ngsi-ld:Subscription:s1", headers=h).status_code == 404


def test_pm25_near_the_beach_is_notified(client, writer):
    c, h = client, writer.headers
    with Receiver() as rx:
        body = sub_body(rx.url, q="pm25>75", watchedAttributes=["pm25"],
                        geoQ={"georel": "near;maxDistance==2000", "geometry": "Point", "coordinates": BEACH})
        assert c.post(f"{NGSI}/subscriptions", json=body, headers=h).status_code == 201
        batch = [air(1, 129.159, 35.159, pm25=80), air(2, 129.159, 35.160, pm25=20),
                 air(3, 129.0243, 35.0979, pm25=90)]
        started = time.time()
        assert c.post(f"{NGSI}/entityOperations/upsert", json=batch, headers=h).status_code in (201, 204)
        got = rx.wait_for(1)
        assert got, "no notification arrived"
        assert rx.received[0][0] - started < 5
        note = got[0]
        assert note["type"] == "Notification" and [e["id"] for e in note["data"]] == [air(1)["id"]]
        assert note["data"][0]["pm25"] == 80
        sid = note["subscriptionId"]
        assert wait_until(lambda: c.get(f"{NGSI}/subscriptions/{sid}", headers=h).json()["notification"][
            "timesSent"] == 1)
        status = c.get(f"{NGSI}/subscriptions/{sid}", headers=h).json()["notification"]
        assert status["status"] == "ok" and "lastSuccess" in status


def test_entity_deletion_is_notified(client, writer):
    c, h = client, writer.headers
    with Receiver() as rx, Receiver() as updates_only:
        body = sub_body(rx.url, q="pm25>75", watchedAttributes=["pm25"],
                        geoQ={"georel": "near;maxDistance==2000", "geometry": "Point", "coordinates": BEACH})
        assert c.post(f"{NGSI}/subscriptions", json=body, headers=h).status_code == 201
        quiet = sub_body(updates_only.url, notificationTrigger=["attributeCreated", "attributeUpdated"])
        assert c.post(f"{NGSI}/subscriptions", json=quiet, headers=h).status_code == 201
        batch = [air(1, 129.159, 35.159, pm25=80), air(2, 129.159, 35.160, pm25=20)]
        assert c.post(f"{NGSI}/entityOperations/upsert", json=batch, headers=h).status_code in (201, 204)
        assert len(rx.wait_for(1)) == 1 and len(updates_only.wait_for(1)) == 1
        assert c.delete(f"{NGSI}/entities/{air(1)['id']}", headers=h).status_code == 204
        # the entity that no longer matches (pm25 20) is not notified on deletion
        assert c.post(f"{NGSI}/entityOperations/delete", json=[air(2)["id"]], headers=h).status_code == 204
        got = rx.wait_for(2)
        assert len(got) == 2, got
        gone = got[1]["data"]
        assert [e["id"] for e in gone] == [air(1)["id"]] and "deletedAt" in gone[0] and "pm25" not in gone[0]
        time.sleep(0.5)
        assert len(rx.received) == 2 and len(updates_only.received) == 1


def test_failing_and_hanging_endpoints_do_not_delay_others(client, writer):
    c, h = client, writer.headers
    with Receiver("ok") as good, Receiver("fail") as bad, Receiver("hang") as slow:
        ids = {}
        for name, rx in (("bad", bad), ("slow", slow), ("good", good)):
            r = c.post(f"{NGSI}/subscriptions", json=sub_body(rx.url), headers=h)
            ids[name] = r.headers["Location"].rsplit("/", 1)[-1]
        for i in range(3):
            c.post(f"{NGSI}/entityOperations/upsert", json=[air(1, pm25=10 + i)], headers=h)
        assert len(good.wait_for(3, timeout=5)) == 3  # while the others fail and hang
        assert wait_until(lambda: bad.hits >= 2, timeout=10), "a 500 endpoint is retried"
        # the endpoint's second hit can come before its first failure is recorded (failures are written by the
        # dispatcher after the attempt): wait for the count, then read the status
        assert wait_until(lambda: c.get(f"{NGSI}/subscriptions/{ids['bad']}", headers=h).json()[
            "notification"]["failureCount"] >= 2, timeout=10)
        status = c.get(f"{NGSI}/subscriptions/{ids['bad']}", headers=h).json()["notification"]
        assert status["status"] == "failed" and "HTTP 500" in status["lastError"]
        assert wait_until(lambda: c.get(f"{NGSI}/subscriptions/{ids['slow']}", headers=h).json()[
            "notification"]["failureCount"] >= 1, timeout=10)


def test_a_notification_handed_over_survives_the_process_dying_before_sending(client, writer):
    """The dispatcher gets the committed rows in process (no claim); the outbox row, leased to it, is the
    durable promise: if the process dies before sending, the lease runs out and the next process sends."""
    from cityhub.context.notifier import Dispatcher

    c, h = client, writer.headers
    app = c.app
    first = app.state.context_dispatcher
    with Receiver() as rx:
        assert c.post(f"{NGSI}/subscriptions", json=sub_body(rx.url), headers=h).status_code == 201
        handed: list[int] = []
        first.take = lambda rows, lease: handed.extend(r.id for r in rows) or True  # taken, then "kill -9"
        assert c.post(f"{NGSI}/entityOperations/upsert", json=[air(7, pm25=12)], headers=h).status_code in (201, 204)
        assert handed, "the committed row was handed over, not left to a claim"
        first.stop()  # its lease is no longer renewed, as after kill -9
        time.sleep(0.5)
        assert rx.received == []
        second = Dispatcher(app.state.session_factory, app.state.settings)  # the next process
        second.start()
        try:
            got = rx.wait_for(1, timeout=20)  # once the 5 s lease has run out
            assert got and got[0]["data"][0]["id"] == air(7)["id"]
        finally:
            second.stop()
            app.state.context_dispatcher = second  # the app's shutdown stops it again (harmless)


def test_one_batch_is_one_notification_with_every_match_in_order(client, writer):
    c, h = client, writer.headers
    with Receiver() as rx:
        assert c.post(f"{NGSI}/subscriptions", json=sub_body(rx.url, watchedAttributes=["pm25"]),
                      headers=h).status_code == 201
        for k in range(5):
            batch = [air(i, pm25=10 + k) for i in range(20)]
            assert c.post(f"{NGSI}/entityOperations/upsert", json=batch, headers=h).status_code in (201, 204)
        got = rx.wait_for(5)
        assert len(got) == 5 and all(len(n["data"]) == 20 for n in got)
        assert [n["data"][0]["pm25"] for n in got] == [10, 11, 12, 13, 14]  # one subscription's order kept


def test_throttling_and_expiry(client, writer):
    c, h = client, writer.headers
    with Receiver() as throttled, Receiver() as expired:
        c.post(f"{NGSI}/subscriptions", json=sub_body(throttled.url, throttling=60), headers=h)
        c.post(f"{NGSI}/subscriptions", json=sub_body(expired.url, expiresAt="2020-01-01T00:00:00Z"), headers=h)
        for i in range(3):
            c.post(f"{NGSI}/entityOperations/upsert", json=[air(1, pm25=10 + i)], headers=h)
        assert len(throttled.wait_for(1)) == 1
        time.sleep(0.5)
        assert len(throttled.received) == 1 and expired.hits == 0


def _mqtt_up() -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", 1883), timeout=1).close()
        return True
    except OSError:
        return False


def test_sse_feed_and_district_summary(live_server):
    import httpx

    from tests.conftest import People

    people = People(live_server.app)
    org = people.org("busan-ctrl", "관제센터")
    op = people.user("ops@city.test", role="operator", org=org)
    lines: list[str] = []

    def listen() -> None:
        with httpx.stream("GET", f"{live_server.url}/api/v1/context/events", timeout=10) as r:
            for line in r.iter_lines():
                lines.append(line)
                if "event: alert.raised" in lines and lines.count("event: observation.batch") >= 2:
                    return

    t = threading.Thread(target=listen, daemon=True)
    t.start()
    assert wait_until(lambda: bool(lines), timeout=30)
    r = httpx.post(f"{live_server.url}{NGSI}/entityOperations/upsert", json=[air(1, 129.16, 35.16, pm25=50)],
                   headers=op.headers)
    assert r.status_code == 201, r.text
    t.join(timeout=10)
    assert any(line == "event: observation.batch" for line in lines)
    assert any(line == "event: alert.raised" for line in lines)
    summary = httpx.get(f"{live_server.url}/api/v1/context/districts").json()
    haeundae = next(d for d in summary if d["district"] == "Haeundae-gu")
    assert haeundae["pm25"] == 50 and haeundae["alerts"] == 1 and len(summary) == 16
