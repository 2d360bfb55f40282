"""Issue 5 part 7 gaps: `cityhub simulate --mode http` against a served cityhub, `--mode mqtt` onto a real
Mosquitto topic, and `cityhub demo`'s simulator inside the served app, whose writes reach that app's live
feed and subscribers (it used to publish on a bus of its own that nobody listened to)."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
from typer.testing import CliRunner

from tests.conftest import LiveServer, People
from tests.context.conftest import NGSI
from tests.context.receivers import Receiver, wait_until
from tests.context.test_subscriptions import _mqtt_up, sub_body

SMALL = ["--air", "20", "--traffic", "30", "--water", "5", "--cameras", "10"]


def _counts(base: str) -> dict[str, int]:
    r = httpx.get(f"{base}{NGSI}/types", params={"details": "true"}, timeout=30)
    assert r.status_code == 200, r.text
    return {t["typeName"]: t["entityCount"] for t in r.json()}


def test_simulate_over_http(live_server):
    from cityhub.cli import app as cli

    people = People(live_server.app)
    op = people.user("sim@city.test", role="operator", org=people.org("busan-ctrl", "관제센터"))
    result = CliRunner().invoke(cli, ["simulate", "--mode", "http", "--url", live_server.url, "--token", op.token,
                                      "--ticks", "2", "--batch", "25", *SMALL])
    assert result.exit_code == 0, result.output
    counts = _counts(live_server.url)
    assert counts["AirQualityObserved"] == 20 and counts["TrafficFlowObserved"] == 30
    assert counts["WaterQualityObserved"] == 5 and counts["WaterLevelObserved"] == 5 and counts["Camera"] == 10
    eid = "urn:ngsi-ld:AirQualityObserved:busan-air-0001"
    hist = httpx.get(f"{live_server.url}{NGSI}/temporal/entities/{eid}", params={"attrs": "pm25"}).json()
    assert len(hist["pm25"]) == 2
    # without a token the server refuses and the command says so
    result = CliRunner().invoke(cli, ["simulate", "--mode", "http", "--url", live_server.url, "--token", "",
                                      "--ticks", "1", *SMALL])
    assert result.exit_code != 0 and "401" in str(result.exception)


@pytest.mark.skipif(not _mqtt_up(), reason="Mosquitto is not running on 127.0.0.1:1883")
def test_simulate_over_mqtt_publishes_ngsi_ld_arrays():
    import paho.mqtt.client as mqtt

    from cityhub.cli import app as cli

    topic = f"cityhub/test/sim/{time.time_ns()}"
    got: list[list[dict]] = []
    ready = threading.Event()
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    sub.on_connect = lambda cl, *a: cl.subscribe(topic, qos=1)
    sub.on_subscribe = lambda *a: ready.set()
    sub.on_message = lambda cl, u, msg: got.append(json.loads(msg.payload))
    sub.connect("127.0.0.1", 1883)
    sub.loop_start()
    try:
        assert ready.wait(10)
        result = CliRunner().invoke(cli, ["simulate", "--mode", "mqtt", "--mqtt-url", f"mqtt://127.0.0.1:1883/{topic}",
                                          "--ticks", "1", *SMALL])
        assert result.exit_code == 0, result.output
        assert wait_until(lambda: sum(len(m) for m in got) >= 70, timeout=20)
    finally:
        sub.loop_stop()
        sub.disconnect()
    entities = [e for m in got for e in m]
    types = {}
    for e in entities:
        types[e["type"]] = types.get(e["type"], 0) + 1
        assert e["id"].startswith(f"urn:ngsi-ld:{e['type']}:")
    assert types == {"AirQualityObserved": 20, "TrafficFlowObserved": 30, "WaterQualityObserved": 5,
                     "WaterLevelObserved": 5, "Camera": 10}


def test_demo_simulator_runs_inside_the_served_app(settings):
    """What `cityhub demo` serves: the full synthetic city (300 air, 1,000 traffic, 50 water, 1,200 cameras)
    written through the app's own bus, so its SSE feed carries the batches and subscribers are notified."""
    from cityhub.app import create_app

    app = create_app(settings.model_copy(update={"context_simulate_seconds": 2.0, "ops_sensor_incidents": False}))
    with LiveServer(app) as server, Receiver() as rx:
        people = People(app)
        op = people.user("ops@city.test", role="operator", org=people.org("busan-ctrl", "관제센터"))
        r = httpx.post(f"{server.url}{NGSI}/subscriptions", headers=op.headers, json={
            **sub_body(rx.url), "entities": [{"type": "WaterLevelObserved"}]})
        assert r.status_code == 201, r.text
        lines: list[str] = []

        def listen() -> None:
            with httpx.stream("GET", f"{server.url}/api/v1/context/events", timeout=60) as s:
                for line in s.iter_lines():
                    lines.append(line)
                    if line == "event: observation.batch":
                        return

        t = threading.Thread(target=listen, daemon=True)
        t.start()
        assert wait_until(lambda: "event: observation.batch" in lines, timeout=120), "no batch on the feed"
        assert rx.wait_for(1, timeout=120), "a subscriber heard nothing of the simulated city"
        assert all(e["type"] == "WaterLevelObserved" for e in rx.received[0][1]["data"])
        # a "gappy" sensor skips some moments: every station has reported after a few of them
        full = {"AirQualityObserved": 300, "TrafficFlowObserved": 1000, "WaterQualityObserved": 50, "Camera": 1200}
        assert wait_until(lambda: {k: _counts(server.url).get(k) for k in full} == full, timeout=180), \
            _counts(server.url)
        t.join(timeout=5)


@pytest.mark.skipif(not _mqtt_up(), reason="Mosquitto is not running on 127.0.0.1:1883")
def test_simulate_over_mqtt_reaches_the_live_layer(settings):
    """`cityhub simulate --mode mqtt` → Mosquitto → the served app's MQTT ingest → entities, history and
    subscribers; a message that is not JSON is dropped and the ingest keeps going."""
    import paho.mqtt.client as mqtt
    from fastapi.testclient import TestClient

    from cityhub.app import create_app
    from cityhub.cli import app as cli

    topic = f"cityhub/test/ingest/{time.time_ns()}"
    url = f"mqtt://127.0.0.1:1883/{topic}"
    app = create_app(settings.model_copy(update={"context_mqtt_ingest_url": url, "ops_sensor_incidents": False}))
    with TestClient(app) as c, Receiver() as rx:
        assert wait_until(lambda: app.state.context_mqtt_ingest.ready.is_set(), timeout=20)
        people = People(app)
        op = people.user("ops@city.test", role="operator", org=people.org("busan-ctrl", "관제센터"))
        r = c.post(f"{NGSI}/subscriptions", headers=op.headers, json={**sub_body(rx.url),
                                                                      "entities": [{"type": "Camera"}]})
        assert r.status_code == 201, r.text
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        pub.connect("127.0.0.1", 1883)
        pub.loop_start()
        try:
            pub.publish(topic, b"{not json", qos=1).wait_for_publish(timeout=10)
        finally:
            pub.loop_stop()
            pub.disconnect()
        result = CliRunner().invoke(cli, ["simulate", "--mode", "mqtt", "--mqtt-url", url, "--ticks", "2", *SMALL])
        assert result.exit_code == 0, result.output

        def counts() -> dict[str, int]:
            return {t["typeName"]: t["entityCount"] for t in c.get(f"{NGSI}/types", params={"details": "true"}).json()}

        want = {"AirQualityObserved": 20, "TrafficFlowObserved": 30, "WaterQualityObserved": 5,
                "WaterLevelObserved": 5, "Camera": 10}
        assert wait_until(lambda: {k: counts().get(k) for k in want} == want, timeout=60), counts()
        eid = "urn:ngsi-ld:TrafficFlowObserved:busan-traffic-0001"
        assert wait_until(lambda: len(c.get(f"{NGSI}/temporal/entities/{eid}", params={
            "attrs": "averageVehicleSpeed"}).json().get("averageVehicleSpeed", [])) == 2, timeout=60)
        got = rx.wait_for(1, timeout=60)
        assert got and all(e["type"] == "Camera" for e in got[0]["data"])
