"""MQTT topics (QoS 1, persistent session): nothing published while the platform was down is lost.

The session is persistent (fixed client id, clean_session False) so the broker keeps QoS 1 messages
while we are away. Messages are acknowledged by hand, and only after the batch holding them has been
landed, upserted and committed: a kill -9 before the commit means the broker delivers them again, and
the keyed upsert makes that redelivery harmless.
"""

from __future__ import annotations

import base64
import threading
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

import orjson
from pydantic import Field

from cityhub.collect.connectors.base import Connector, ConnectorConfig, ConnectorError, FetchContext, Page, Payload


class MqttConfig(ConnectorConfig):
    host: str = "127.0.0.1"
    port: int = 1883
    topics: list[str] = Field(description="topic filters, e.g. city/sensors/+/air")
    qos: int = Field(default=1, ge=0, le=1)
    client_id: str = Field(description="fixed client id: the broker keeps this session's messages")
    username: str | None = None
    password: str | None = None
    batch_size: int = Field(default=1000, ge=1, le=100_000, description="messages per committed batch")
    batch_seconds: float = Field(default=0.5, gt=0, description="commit at least this often")
    max_seconds: float = Field(default=30.0, gt=0, description="a run listens at most this long")
    idle_seconds: float = Field(default=2.0, gt=0, description="end the run after this long without messages")
    max_messages: int | None = Field(default=None, ge=1)


class _Session:
    """A paho client in its own network thread; messages arrive on a queue, acks are sent by us."""

    def __init__(self, cfg: MqttConfig) -> None:
        import paho.mqtt.client as mqtt

        from cityhub.collect.connectors.mqtt_reader import client_class

        self.cfg = cfg
        # paho's network thread appends, the run's thread pops: deque ends are thread-safe without a lock.
        self.inbox: deque = deque()
        self.connected = threading.Event()
        self.refused: str | None = None
        self.client = client_class()(mqtt.CallbackAPIVersion.VERSION2, client_id=cfg.client_id, clean_session=False)
        self.client.manual_ack_set(True)
        self.client.max_inflight_messages_set(1000)
        if cfg.username:
            self.client.username_pw_set(cfg.username, cfg.password)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._arrived
        self.client.reconnect_delay_set(min_delay=0.1, max_delay=2)

    def _arrived(self, _client, _userdata, msg) -> None:  # noqa: ANN001
        self.inbox.append(msg)

    def _on_connect(self, client, _userdata, _flags, reason, _props) -> None:  # noqa: ANN001
        if reason.is_failure:
            self.refused = str(reason)
            return
        client.subscribe([(t, self.cfg.qos) for t in self.cfg.topics])
        self.connected.set()

    def open(self, timeout: float) -> None:
        try:
            self.client.connect(self.cfg.host, self.cfg.port, keepalive=30)
        except OSError as exc:
            raise ConnectorError(f"MQTT broker {self.cfg.host}:{self.cfg.port} unreachable: {exc}",
                                 code="unreachable") from None
        self.client.loop_start()
        if not self.connected.wait(timeout) or self.refused:
            self.close()
            raise ConnectorError(f"MQTT broker refused or did not answer: {self.refused or 'timeout'}",
                                 code="refused")

    def ack(self, messages: list) -> None:
        for msg in messages:
            if msg.qos > 0:
                self.client.ack(msg.mid, msg.qos)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


POLL = 0.02
# Raw frame of one batch: this line, then per run of messages on one topic a JSON header line
# {"topic", "qos", "sizes"} followed by the payloads' exact bytes back to back and a newline.
FRAME = b"cityhub-mqtt-batch/2\n"


def _value(payload: bytes) -> Any:
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        try:
            return payload.decode("utf-8")
        except UnicodeDecodeError:
            return None


def _batch(messages: list) -> tuple[bytes, list[dict[str, Any]]]:
    """One pass over a batch: its raw frame (exact payload bytes, grouped by topic) and its records."""
    parts: list[bytes] = [FRAME]
    records: list[dict[str, Any]] = []
    group: tuple[str, int] | None = None
    payloads: list[bytes] = []
    sizes: list[int] = []

    def close_group() -> None:
        if group is not None:
            parts.append(orjson.dumps({"topic": group[0], "qos": group[1], "sizes": sizes}) + b"\n")
            parts.extend(payloads)
            parts.append(b"\n")

    loads, decode_error = orjson.loads, orjson.JSONDecodeError
    for msg in messages:
        topic, payload = msg.topic, msg.payload
        if group is None or topic != group[0] or msg.qos != group[1]:
            close_group()
            group, payloads, sizes = (topic, msg.qos), [], []
        payloads.append(payload)
        sizes.append(len(payload))
        try:
            value = loads(payload)
        except decode_error:
            value = _value(payload)
        records.append({"topic": topic, "payload": value})
    close_group()
    return b"".join(parts), records


def _parse_frame(body: bytes) -> list[dict[str, Any]]:
    records = []
    at = len(FRAME)
    while at < len(body):
        end = body.index(b"\n", at)
        header = orjson.loads(body[at:end])
        at = end + 1
        for size in header["sizes"]:
            records.append({"topic": header["topic"], "payload": _value(body[at:at + size])})
            at += size
        at += 1  # the newline closing the group
    return records


def _parse_ndjson(body: bytes) -> list[dict[str, Any]]:
    """Frames written before cityhub-mqtt-batch/2: one JSON line per message (payload as text or base64)."""
    records = []
    for line in body.splitlines():
        if not line.strip():
            continue
        entry = orjson.loads(line)
        data = entry.get("payload")
        if data is None:
            data = base64.b64decode(entry.get("payload_b64", ""))
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            value = data if isinstance(data, str) else None
        records.append({"topic": entry["topic"], "payload": value})
    return records


class MqttConnector(Connector):
    name = "mqtt"
    title = "MQTT topics"
    title_ko = "MQTT 토픽"
    Config = MqttConfig
    config: MqttConfig

    def secrets(self) -> tuple[str, ...]:
        return (self.config.password,) if self.config.password else ()

    def parse(self, payload: Payload) -> list[dict[str, Any]]:
        if payload.body.startswith(FRAME):
            return _parse_frame(payload.body)
        return _parse_ndjson(payload.body)

    def fetch(self, fc: FetchContext) -> Iterator[Page]:
        cfg = self.config
        session = _Session(cfg)
        fc.on_request()
        session.open(timeout=fc.timeout)
        started = last_message = time.monotonic()
        received = 0
        try:
            while True:
                batch = self._collect(session, cfg, deadline=min(started + cfg.max_seconds,
                                                                 time.monotonic() + cfg.batch_seconds))
                now = time.monotonic()
                if batch:
                    last_message = now
                    received += len(batch)
                    body, records = _batch(batch)  # records: what parse(body) gives, without reading it back
                    payload = Payload(body=body, request={"method": "SUBSCRIBE", "url": self._where(),
                                                          "messages": len(batch)})
                    yield Page(payload=payload, records=records)
                    session.ack(batch)  # only now: the batch is committed
                if (now - started >= cfg.max_seconds or now - last_message >= cfg.idle_seconds
                        or (cfg.max_messages and received >= cfg.max_messages) or fc.should_stop()):
                    return
        finally:
            session.close()

    def _collect(self, session: _Session, cfg: MqttConfig, deadline: float) -> list:
        """Wait until a batch is full, its time is up or the stream pauses, then take it whole.

        The run's thread looks only every POLL seconds: while it sleeps, paho's network thread has the
        GIL to itself and drains the socket in large reads (the convoy of two busy threads trading the
        GIL at every system call cost more CPU than the batch itself).
        """
        inbox = session.inbox
        seen = -1
        while True:
            now = time.monotonic()
            waiting = len(inbox)
            if waiting >= cfg.batch_size or now >= deadline:
                break
            # Nothing new since the last look: the broker may be waiting for acks (its in-flight window,
            # 20 by default in Mosquitto), and acks only go out after a commit. Commit what we have.
            if waiting and waiting == seen:
                break
            seen = waiting
            time.sleep(max(0.0, min(POLL, deadline - now)))
        take = min(len(inbox), cfg.batch_size)
        return [inbox.popleft() for _ in range(take)]

    def _where(self) -> str:
        return f"mqtt://{self.config.host}:{self.config.port}/{'|'.join(self.config.topics)}"
