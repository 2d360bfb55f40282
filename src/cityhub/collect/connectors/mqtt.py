"""MQTT topics (QoS 1, persistent session): nothing published while the platform was down is lost.

The session is persistent (fixed client id, clean_session False) so the broker keeps QoS 1 messages
while we are away. Messages are acknowledged by hand, and only after the batch holding them has been
landed, upserted and committed: a kill -9 before the commit means the broker delivers them again, and
the keyed upsert makes that redelivery harmless.
"""

from __future__ import annotations

import base64
import queue
import threading
import time
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

        self.cfg = cfg
        self.inbox: queue.Queue = queue.Queue()
        self.connected = threading.Event()
        self.refused: str | None = None
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cfg.client_id, clean_session=False)
        self.client.manual_ack_set(True)
        self.client.max_inflight_messages_set(1000)
        if cfg.username:
            self.client.username_pw_set(cfg.username, cfg.password)
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda _c, _u, msg: self.inbox.put(msg)
        self.client.reconnect_delay_set(min_delay=0.1, max_delay=2)

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


def _record(msg) -> dict[str, Any]:  # noqa: ANN001
    try:
        value = orjson.loads(msg.payload)
    except orjson.JSONDecodeError:
        try:
            value = msg.payload.decode("utf-8")
        except UnicodeDecodeError:
            value = None
    return {"topic": msg.topic, "payload": value}


def _frame(messages: list) -> bytes:
    """A batch as NDJSON: each message's topic and exact payload bytes (text when UTF-8, else base64)."""
    lines = []
    for msg in messages:
        entry: dict[str, Any] = {"topic": msg.topic, "qos": msg.qos}
        try:
            entry["payload"] = msg.payload.decode("utf-8")
        except UnicodeDecodeError:
            entry["payload_b64"] = base64.b64encode(msg.payload).decode()
        lines.append(orjson.dumps(entry))
    return b"\n".join(lines) + b"\n"


class MqttConnector(Connector):
    name = "mqtt"
    title = "MQTT topics"
    title_ko = "MQTT 토픽"
    Config = MqttConfig
    config: MqttConfig

    def secrets(self) -> tuple[str, ...]:
        return (self.config.password,) if self.config.password else ()

    def parse(self, payload: Payload) -> list[dict[str, Any]]:
        records = []
        for line in payload.body.splitlines():
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
                    body = _frame(batch)
                    payload = Payload(body=body, request={"method": "SUBSCRIBE", "url": self._where(),
                                                          "messages": len(batch)})
                    # Same records as parse(payload) would give, without decoding the frame again.
                    yield Page(payload=payload, records=[_record(m) for m in batch])
                    session.ack(batch)  # only now: the batch is committed
                if (now - started >= cfg.max_seconds or now - last_message >= cfg.idle_seconds
                        or (cfg.max_messages and received >= cfg.max_messages) or fc.should_stop()):
                    return
        finally:
            session.close()

    def _collect(self, session: _Session, cfg: MqttConfig, deadline: float) -> list:
        batch: list = []
        while len(batch) < cfg.batch_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.append(session.inbox.get(timeout=min(remaining, 0.01 if batch else 0.05)))
            except queue.Empty:
                # The stream paused: the broker may be waiting for acks (its in-flight window, 20 by
                # default in Mosquitto), and acks only go out after a commit. Commit what we have.
                if batch:
                    break
        return batch

    def _where(self) -> str:
        return f"mqtt://{self.config.host}:{self.config.port}/{'|'.join(self.config.topics)}"
