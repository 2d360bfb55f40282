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

    def message(topic: str, payload: bytes, qos: int = 1) -> tuple[bytes, int, int, bytes]:
        return (topic.encode(), qos, 1, payload)  # as the subscriber keeps them: topic, qos, mid, payload

    batch = [message("a/1", b'{"v": 1}'), message("a/1", b"\n\n{}\n"), message("b/2", b"\xff\xfe binary"),
             message("b/2", "기온 -".encode()), message("a/1", b"", qos=0)]
    body = FRAME + frame(batch)
    for msg in batch:
        assert msg[3] in body
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


def _publish_packet(topic: bytes, payload: bytes, qos: int = 0, mid: int = 0) -> bytes:
    body = len(topic).to_bytes(2, "big") + topic + (mid.to_bytes(2, "big") if qos else b"") + payload
    length, size = b"", len(body)
    while True:  # MQTT remaining length: seven bits a byte
        size, digit = divmod(size, 128)
        length += bytes([digit | (128 if size else 0)])
        if not size:
            return bytes([0x30 | qos << 1]) + length + body


def test_reader_hands_over_publishes_from_the_buffer_and_leaves_the_rest_to_paho() -> None:
    """The subscriber's reader on a real socket pair: plain PUBLISH packets come out as (topic, qos, mid,
    payload) with their exact bytes, also ones split across reads and ones longer than 127 bytes; $SYS
    messages still reach their paho callback, and other packets (PINGRESP) are paho's."""
    import socket

    from cityhub.collect.connectors.mqtt_reader import BufferedClient

    client = BufferedClient(mqtt.CallbackAPIVersion.VERSION2, client_id="reader-test")
    client.manual_ack_set(True)  # as the subscriber does; without it QoS 1 stays with paho, which acks
    ours, broker = socket.socketpair()
    ours.setblocking(False)
    client._sock = ours
    raw: list[tuple] = []
    sys_seen: list[bytes] = []
    fast: list[bytes] = []
    client.on_raw_publish = lambda *m: (raw.append(m), fast.append(m[0]))
    client.on_message = lambda _c, _u, msg: raw.append((msg._topic, msg.qos, msg.mid, msg.payload))
    client.message_callback_add("$SYS/broker/publish/messages/dropped",
                                lambda _c, _u, msg: sys_seen.append(msg.payload))
    big = b'{"v": "' + b"x" * 300 + b'"}'
    stream = (_publish_packet(b"a/1", b'{"v": 1}') + _publish_packet(b"a/1", big, qos=1, mid=7)
              + _publish_packet(b"$SYS/broker/publish/messages/dropped", b"3") + b"\xd0\x00"
              + _publish_packet("기온/2".encode(), b"", qos=1, mid=65535) + _publish_packet(b"b", b"\n\xff"))
    cut = len(stream) - 5  # the last packet arrives in two reads
    broker.sendall(stream[:cut])
    client.loop_read()
    broker.sendall(stream[cut:])
    client.loop_read()
    assert raw == [(b"a/1", 0, 0, b'{"v": 1}'), (b"a/1", 1, 7, big), ("기온/2".encode(), 1, 65535, b""),
                   (b"b", 0, 0, b"\n\xff")]
    assert sys_seen == [b"3"]
    assert fast == [b"a/1", "기온/2".encode()]  # the first packet of a read, and a split one, go through paho
    ours.close()
    broker.close()
