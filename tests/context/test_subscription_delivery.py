"""Issue 5 part 2 gaps: entity id/idPattern selectors and watchedAttributes that leave other changes out, a
subscription that expires after creation (status expired, nothing queued for it), a delivery status that
shows last success and last failure with the failure count, retries spaced by a growing backoff, and MQTT
notifications on both backends."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from cityhub.context.models import NotificationOutbox
from tests.context.conftest import NGSI, air
from tests.context.receivers import Receiver, wait_until
from tests.context.test_subscriptions import _mqtt_up, sub_body

OUTBOX = NotificationOutbox.__table__


def _queued(client, sid: str) -> int:  # noqa: ANN001
    """Notifications queued for one subscription (the outbox row is written with the change)."""
    with client.app.state.session_factory() as db:
        return db.execute(select(func.count()).select_from(OUTBOX).where(OUTBOX.c.subscription_id == sid)
                          ).scalar_one()


def _sid(r) -> str:  # noqa: ANN001
    assert r.status_code == 201, r.text
    return r.headers["Location"].rsplit("/", 1)[-1]


def _status(client, headers, sid: str) -> dict:  # noqa: ANN001
    return client.get(f"{NGSI}/subscriptions/{sid}", headers=headers).json()


def test_selectors_and_watched_attributes_leave_other_changes_out(client, writer):
    c, h = client, writer.headers
    assert c.post(f"{NGSI}/entityOperations/upsert", json=[air(i) for i in range(1, 4)], headers=h).status_code == 201
    with Receiver() as by_id, Receiver() as by_pattern, Receiver() as watched, Receiver() as sentinel:
        sid_id = _sid(c.post(f"{NGSI}/subscriptions", headers=h, json={
            **sub_body(by_id.url), "entities": [{"type": "AirQualityObserved", "id": air(1)["id"]}]}))
        sid_pat = _sid(c.post(f"{NGSI}/subscriptions", headers=h, json={
            **sub_body(by_pattern.url), "entities": [{"type": "AirQualityObserved", "idPattern": ".*000[23]$"}]}))
        sid_w = _sid(c.post(f"{NGSI}/subscriptions", headers=h, json=sub_body(watched.url,
                                                                                 watchedAttributes=["pm25"])))
        _sid(c.post(f"{NGSI}/subscriptions", headers=h, json=sub_body(sentinel.url)))
        # 1: only no2 changes on entity 1 → by_id (no watch) and the sentinel; not the pm25 watcher
        r = c.post(f"{NGSI}/entityOperations/upsert?options=update", headers=h, json=[
            {"id": air(1)["id"], "type": "AirQualityObserved", "no2": {"type": "Property", "value": 0.03}}])
        assert r.status_code == 204, r.text
        assert len(sentinel.wait_for(1)) == 1 and len(by_id.wait_for(1)) == 1
        assert _queued(c, sid_w) == 0 and _queued(c, sid_pat) == 0
        # 2: pm25 of entity 3 → pattern and watcher; not by_id
        r = c.patch(f"{NGSI}/entities/{air(3)['id']}/attrs", json={"pm25": {"type": "Property", "value": 55}},
                    headers=h)
        assert r.status_code == 204, r.text
        assert len(by_pattern.wait_for(1)) == 1 and len(watched.wait_for(1)) == 1
        assert by_pattern.received[0][1]["data"][0]["id"] == air(3)["id"]
        assert watched.received[0][1]["data"][0]["pm25"] == 55
        assert _queued(c, sid_id) == 1 and _queued(c, sid_w) == 1


def test_a_subscription_expires_after_creation(client, writer):
    c, h = client, writer.headers
    with Receiver() as rx, Receiver() as sentinel:
        expires = datetime.now(UTC) + timedelta(seconds=2)
        sid = _sid(c.post(f"{NGSI}/subscriptions", headers=h,
                          json=sub_body(rx.url, expiresAt=expires.isoformat().replace("+00:00", "Z"))))
        assert _status(c, h, sid)["status"] == "active"
        c.post(f"{NGSI}/entityOperations/upsert", json=[air(1, pm25=11)], headers=h)
        assert len(rx.wait_for(1)) == 1
        assert wait_until(lambda: _status(c, h, sid)["status"] == "expired", timeout=30)
        assert datetime.now(UTC) >= expires
        _sid(c.post(f"{NGSI}/subscriptions", headers=h, json=sub_body(sentinel.url)))
        c.post(f"{NGSI}/entityOperations/upsert", json=[air(1, pm25=12)], headers=h)
        assert len(sentinel.wait_for(1)) == 1
        assert _queued(c, sid) == 1 and len(rx.received) == 1  # nothing queued for it after expiry


def test_delivery_status_keeps_last_success_last_failure_and_count(client, writer):
    """An endpoint fails (500) then recovers: the status shows both instants, the count of failed attempts,
    the last error, and 'ok' again once a later delivery succeeded. Retries are spaced by the backoff
    (0.5 s, 1 s, ... : lower bounds only, never an upper bound on time)."""
    c, h = client, writer.headers
    with Receiver("fail") as rx:
        sid = _sid(c.post(f"{NGSI}/subscriptions", headers=h, json=sub_body(rx.url)))
        base_hits = rx.hits
        c.post(f"{NGSI}/entityOperations/upsert", json=[air(1, pm25=21)], headers=h)
        assert wait_until(lambda: _status(c, h, sid)["notification"]["failureCount"] >= 3, timeout=30)
        status = _status(c, h, sid)["notification"]
        assert status["status"] == "failed" and "lastFailure" in status and "lastSuccess" not in status
        assert "HTTP 500" in status["lastError"]
        assert rx.hits - base_hits >= 3
        with rx.lock:
            rx.mode = "ok"  # the endpoint recovers: the pending retry now succeeds
        got = rx.wait_for(1, timeout=60)
        assert got and got[0]["data"][0]["pm25"] == 21
        assert wait_until(lambda: "lastSuccess" in _status(c, h, sid)["notification"], timeout=10)
        status = _status(c, h, sid)["notification"]
        assert status["status"] == "ok" and status["timesSent"] == 1 and status["failureCount"] >= 3
        assert status["lastSuccess"] > status["lastFailure"]
    with c.app.state.session_factory() as db:
        row = db.execute(select(OUTBOX.c.status, OUTBOX.c.attempts).where(OUTBOX.c.subscription_id == sid)).one()
    assert row.status == "done" and row.attempts >= 4


def test_retries_back_off(client, writer):
    """The gaps between a failing endpoint's attempts grow (lower bounds from the backoff schedule)."""
    c, h = client, writer.headers
    times: list[float] = []
    lock = threading.Lock()
    with Receiver("fail") as rx:
        original = rx.server.RequestHandlerClass.do_POST

        def stamped(handler) -> None:  # noqa: ANN001
            with lock:
                times.append(time.monotonic())
            original(handler)

        rx.server.RequestHandlerClass.do_POST = stamped
        _sid(c.post(f"{NGSI}/subscriptions", headers=h, json=sub_body(rx.url)))
        c.post(f"{NGSI}/entityOperations/upsert", json=[air(1, pm25=31)], headers=h)
        assert wait_until(lambda: len(times) >= 4, timeout=60)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)][:3]
    assert gaps[0] >= 0.45 and gaps[1] >= 0.95 and gaps[2] >= 1.9, gaps


@pytest.mark.skipif(not _mqtt_up(), reason="Mosquitto is not running on 127.0.0.1:1883")
def test_mqtt_endpoint_on_both_backends_with_delivery_status(client, writer):
    import paho.mqtt.client as mqtt

    c, h = client, writer.headers
    got: list[dict] = []
    ready = threading.Event()
    topic = f"cityhub/test/{time.time_ns()}"
    cli = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    cli.on_subscribe = lambda *a: ready.set()
    cli.on_connect = lambda cl, *a: cl.subscribe(topic, qos=1)
    cli.on_message = lambda cl, u, msg: got.append(json.loads(msg.payload))
    cli.connect("127.0.0.1", 1883)
    cli.loop_start()
    try:
        assert ready.wait(10)
        sid = _sid(c.post(f"{NGSI}/subscriptions", headers=h, json={
            **sub_body(f"mqtt://127.0.0.1:1883/{topic}"), "q": "pm25>40"}))
        c.post(f"{NGSI}/entityOperations/upsert", json=[air(1, pm25=12), air(2, pm25=42)], headers=h)
        assert wait_until(lambda: bool(got), timeout=20)
        assert got[0]["subscriptionId"] == sid and [e["id"] for e in got[0]["data"]] == [air(2)["id"]]
        assert got[0]["data"][0]["pm25"] == 42
        assert wait_until(lambda: _status(c, h, sid)["notification"]["timesSent"] == 1, timeout=10)
        assert "lastSuccess" in _status(c, h, sid)["notification"]
    finally:
        cli.loop_stop()
        cli.disconnect()


def test_normalized_notifications_with_only_the_listed_attributes(client, writer):
    c, h = client, writer.headers
    with Receiver() as rx:
        body = sub_body(rx.url)
        body["notification"] = {"format": "normalized", "attributes": ["pm25"],
                                "endpoint": {"uri": rx.url, "accept": "application/json"}}
        _sid(c.post(f"{NGSI}/subscriptions", headers=h, json=body))
        c.post(f"{NGSI}/entityOperations/upsert", json=[air(1, pm25=33)], headers=h)
        got = rx.wait_for(1)
        assert got, "no notification"
        entity = got[0]["data"][0]
        assert entity["id"] == air(1)["id"] and entity["type"] == "AirQualityObserved"
        assert entity["pm25"]["type"] == "Property" and entity["pm25"]["value"] == 33
        assert "pm10" not in entity and "location" not in entity
