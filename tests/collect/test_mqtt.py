"""MQTT on a real Mosquitto: QoS 1, persistent session (nothing published while down is lost), restarts."""

from __future__ import annotations

import threading
import time
import uuid

import orjson
import paho.mqtt.client as mqtt

from tests.fakes.mosquitto import Mosquitto

FIELDS = [{"name": "sensor", "path": "payload.sensor"}, {"name": "seq", "path": "payload.seq", "type": "integer"},
          {"name": "pm10", "path": "payload.pm10", "type": "number"}, {"name": "topic"}]
KEY = ["sensor", "seq"]


def _publish(port: int, topic: str, start: int, count: int, client_id: str | None = None) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or f"pub-{uuid.uuid4().hex[:8]}",
                         clean_session=client_id is None)
    client.max_inflight_messages_set(500)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = [client.publish(topic, orjson.dumps({"sensor": "s1", "seq": i, "pm10": 20 + i % 50}), qos=1)
             for i in range(start, start + count)]
    for info in infos:
        info.wait_for_publish(timeout=30)
    client.disconnect()
    client.loop_stop()


def _cfg(port: int, topic: str, client_id: str, **extra) -> dict:
    return {"host": "127.0.0.1", "port": port, "topics": [topic], "client_id": client_id, "idle_seconds": 0.7,
            "max_seconds": 20, **extra}


def test_messages_published_while_down_are_not_lost(sqlite_collect) -> None:
    """The system broker (1883): a persistent session keeps QoS 1 messages between runs."""
    topic = f"cityhub-test/{uuid.uuid4().hex[:8]}/air"
    client_id = f"cityhub-test-{uuid.uuid4().hex[:8]}"
    src = sqlite_collect.source("sensors", "mqtt", _cfg(1883, topic, client_id), FIELDS, KEY)
    first = sqlite_collect.run("sensors")  # registers the session and its subscription
    assert first["status"] == "succeeded" and first["rows_received"] == 0
    _publish(1883, topic, 0, 300)  # the platform is not listening now
    run = sqlite_collect.run("sensors")
    assert run["status"] == "succeeded", run
    assert run["rows_inserted"] == 300
    rows = sqlite_collect.rows(src)
    assert sorted(r["seq"] for r in rows) == list(range(300)) and rows[0]["topic"] == topic
    again = sqlite_collect.run("sensors")  # all acked: nothing comes twice
    assert again["rows_received"] == 0


def test_broker_restart_mid_stream(sqlite_collect, tmp_path) -> None:
    topic = "city/restart/air"
    with Mosquitto(tmp_path / "broker") as broker:
        src = sqlite_collect.source("restart", "mqtt", _cfg(broker.port, topic, "cityhub-restart", idle_seconds=3),
                                    FIELDS, KEY)
        sqlite_collect.run("restart")  # session known to the broker
        _publish(broker.port, topic, 0, 500)
        result: dict = {}
        runner = threading.Thread(target=lambda: result.update(sqlite_collect.run("restart")))
        runner.start()
        time.sleep(0.3)
        broker.stop()  # mid-stream
        time.sleep(0.5)
        broker.start()  # same port, persisted sessions and queued messages
        _publish(broker.port, topic, 500, 500)
        runner.join(timeout=60)
        if len({r["seq"] for r in sqlite_collect.rows(src)}) < 1000:
            sqlite_collect.run("restart")  # whatever was left queued for the session comes now
        seqs = sorted({r["seq"] for r in sqlite_collect.rows(src)})
        assert seqs == list(range(1000))
        assert len(sqlite_collect.rows(src)) == 1000  # redeliveries did not duplicate rows


def test_unreachable_broker_is_a_clear_error(sqlite_collect) -> None:
    sqlite_collect.source("nobroker", "mqtt", _cfg(9, "x", "cityhub-none"), FIELDS, KEY)
    run = sqlite_collect.run("nobroker")
    assert run["status"] == "failed" and "MQTT broker 127.0.0.1:9 unreachable" in run["error"]


def test_raw_frame_keeps_exact_bytes_and_parses_to_the_same_records() -> None:
    """A batch's raw frame holds each payload's exact bytes; parse (replay) gives the records the run stored."""
    from cityhub.collect.connectors.base import Payload
    from cityhub.collect.connectors.mqtt import FRAME, MqttConfig, MqttConnector
    from cityhub.collect.connectors.mqtt_worker import frame

    def message(topic: str, payload: bytes, qos: int = 1) -> mqtt.MQTTMessage:
        msg = mqtt.MQTTMessage(mid=1, topic=topic.encode())
        msg.payload, msg.qos = payload, qos
        return msg

    batch = [message("a/1", b'{"v": 1}'), message("a/1", b"\n\n{}\n"), message("b/2", b"\xff\xfe binary"),
             message("b/2", "기온 -".encode()), message("a/1", b"", qos=0)]
    body = FRAME + frame(batch)
    for msg in batch:
        assert msg.payload in body
    connector = MqttConnector(MqttConfig(topics=["#"], client_id="x"))
    records = connector.parse(Payload(body=body))
    assert [r["topic"] for r in records] == ["a/1", "a/1", "b/2", "b/2", "a/1"]
    assert [r["payload"] for r in records] == [{"v": 1}, {}, None, "기온 -", ""]
    # frames written before this format (one JSON line per message) still replay
    old = b'{"topic":"a/1","qos":1,"payload":"{\\"v\\": 1}"}\n{"topic":"b","qos":1,"payload_b64":"/w=="}\n'
    assert connector.parse(Payload(body=old)) == [{"topic": "a/1", "payload": {"v": 1}},
                                                  {"topic": "b", "payload": None}]


def test_broker_drops_and_sequence_gaps_are_recorded_on_the_run(sqlite_collect, tmp_path) -> None:
    """A broker keeping at most 50 messages per session drops the rest while the platform is away: the
    next run reports the broker's own count of dropped messages ($SYS), and the jump in the payloads'
    sequence numbers shows up as missing messages once a later message arrives."""
    topic = "city/drops/air"
    with Mosquitto(tmp_path / "broker", max_queued=50, sys_interval=1) as broker:
        cfg = _cfg(broker.port, topic, "cityhub-drops", idle_seconds=2.5, sequence_path="seq")
        src = sqlite_collect.source("drops", "mqtt", cfg, FIELDS, KEY)
        first = sqlite_collect.run("drops")  # the session, and the broker's counter as it stands
        assert first["status"] == "succeeded" and first["broker_dropped"] == 0, first
        _publish(broker.port, topic, 0, 300)  # nobody listening: the broker keeps 50 of them
        run = sqlite_collect.run("drops")
        assert run["status"] == "succeeded" and run["rows_inserted"] == 50, run
        assert run["broker_dropped"] == 250 and run["messages_missing"] == 0, run
        kept = sorted(r["seq"] for r in sqlite_collect.rows(src))
        _publish(broker.port, topic, 300, 10)  # within the limit: nothing dropped, but the gap shows now
        later = sqlite_collect.run("drops")
        assert later["rows_inserted"] == 10 and later["broker_dropped"] == 0, later
        assert later["messages_missing"] == 300 - (kept[-1] + 1), later
        page = sqlite_collect.client.get(f"/collect/runs/{run['id']}", headers=sqlite_collect.headers)
        assert page.status_code == 200 and "250" in page.text
        assert "Messages the broker dropped" in page.text or "브로커가 버린 메시지" in page.text


def test_losses_follow_the_broker_counter_and_sequence_numbers() -> None:
    """The rules of mqtt_losses without a broker: baselines, a quiet broker, a restart, redeliveries."""
    from cityhub.collect.connectors.mqtt_losses import Losses

    quiet = Losses(sequence_path=None, state={"broker_dropped_counter": 7})
    quiet.saw_counter(None, watched=True)  # Mosquitto's retained $SYS value expired: no change lately
    assert quiet.counters() == {"broker_dropped": 0, "messages_missing": None}
    unseen = Losses(sequence_path=None, state={})
    unseen.saw_counter(None)
    assert unseen.counters()["broker_dropped"] is None  # $SYS refused: not observed
    unseen.saw_counter((40, True), watched=True)  # moved while we listened, from a value never seen
    assert unseen.counters()["broker_dropped"] == 40  # all of it: an upper bound
    known = Losses(sequence_path="meta.seq", state={"broker_dropped_counter": 10, "mqtt_seq": {"a": 4}})
    known.saw_counter((15, False), watched=True)
    known.saw_counter((3, True))  # the broker restarted and counts from zero again
    assert known.counters()["broker_dropped"] == 5 + 3
    known.check([{"topic": "a", "payload": {"meta": {"seq": s}}} for s in (5, 8, 8, 6, 9)]
                + [{"topic": "b", "payload": {"meta": {"seq": 1}}}, {"topic": "b", "payload": "text"}])
    assert known.counters()["messages_missing"] == 2  # 6, 7 skipped (a late 6 stays counted)
    assert known.state() == {"broker_dropped_counter": 3, "mqtt_seq": {"a": 9, "b": 1}}
