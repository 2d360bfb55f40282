"""MQTT topics (QoS 1, persistent session): nothing published while the platform was down is lost.

The session is persistent (fixed client id, clean_session False) so the broker keeps QoS 1 messages
while we are away. Messages are acknowledged by hand, and only after the batch holding them has been
landed, upserted and committed: a kill -9 before the commit means the broker delivers them again, and
the keyed upsert makes that redelivery harmless.

The subscriber runs in a process of its own (mqtt_worker) and hands over chunks of raw frame; this
process only parses, maps and stores them, so the two do not compete for one GIL.
"""

from __future__ import annotations

import base64
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from itertools import accumulate, pairwise
from typing import Any

import orjson
from pydantic import Field

from cityhub.collect.connectors.base import Connector, ConnectorConfig, ConnectorError, FetchContext, Page, Payload
from cityhub.collect.connectors.mqtt_losses import Losses


class MqttConfig(ConnectorConfig):
    host: str = "127.0.0.1"
    port: int = 1883
    topics: list[str] = Field(description="topic filters, e.g. city/sensors/+/air")
    qos: int = Field(default=1, ge=0, le=1)
    client_id: str = Field(description="fixed client id: the broker keeps this session's messages")
    username: str | None = None
    password: str | None = None
    batch_size: int = Field(default=1000, ge=1, le=100_000, description="messages per committed batch")
    # Under pressure (more waiting than a batch) a batch takes what waits, up to this: the per-batch
    # costs (landing, screening, the commit) then spread over more messages and the run catches up.
    max_batch_size: int = Field(default=20_000, ge=1, le=200_000,
                                description="messages per batch when more than batch_size are waiting")
    # Each commit also lands, screens and scores its batch: fewer, larger batches cost less per message.
    batch_seconds: float = Field(default=1.0, gt=0, description="commit at least this often")
    max_seconds: float = Field(default=30.0, gt=0, description="a run listens at most this long")
    idle_seconds: float = Field(default=2.0, gt=0, description="end the run after this long without messages")
    max_messages: int | None = Field(default=None, ge=1)
    sequence_path: str | None = Field(default=None, description="path of a per-topic sequence number in the "
                                      "payload, e.g. seq: gaps are recorded as missing messages")
    broker_drops: bool = Field(default=True, description="read the broker's dropped-message counter "
                               "($SYS/broker/publish/messages/dropped) and record it on the run")


POLL = 0.03
REAPER = "mqtt-reap-"  # thread name prefix of the reapers (a bench waits for them to count CPU)
QOS0_PAUSE = 0.1  # seconds without a new message that end a QoS 0 batch early


class _Session:
    """The run's subscriber in its own process (mqtt_worker); its chunks arrive on a deque, acks go back."""

    def __init__(self, cfg: MqttConfig) -> None:
        self.cfg = cfg
        self.chunks: deque = deque()  # (seq, count, frame bytes), appended by the reader thread
        self.connected = threading.Event()
        self.refused: str | None = None
        # The broker's $SYS dropped-message counter as last published (value, published while we listened).
        self.dropped: tuple[int, bool] | None = None
        self.drops_watched = False  # the broker accepted our subscription to that counter
        self.proc: subprocess.Popen | None = None
        self.reader: threading.Thread | None = None

    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            line = out.readline()
            if not line:
                self.refused = self.refused or "the MQTT subscriber process ended"
                self.connected.set()
                return
            header = orjson.loads(line)
            event = header.get("event")
            if event is None:
                self.chunks.append((header["seq"], header["count"], out.read(header["size"])))  # buffered: exact
            elif event == "connected":
                self.connected.set()
            elif event == "dropped":
                self.dropped = (header.get("count"), bool(header.get("live")))
            elif event == "drops_watched":
                self.drops_watched = True
            else:
                self.refused = f"{event}: {header.get('reason')}"
                self.connected.set()

    def open(self, timeout: float) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "cityhub.collect.connectors.mqtt_worker"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._say(orjson.dumps(self.cfg.model_dump(mode="json")).decode())
        self.reader = threading.Thread(target=self._read, daemon=True, name=f"mqtt-{self.cfg.client_id}")
        self.reader.start()
        # The subscriber process needs a moment to start before it can connect.
        if not self.connected.wait(timeout + 30) or self.refused:
            refused = self.refused or "timeout"
            self.close()
            if refused.startswith("unreachable"):
                raise ConnectorError(f"MQTT broker {self.cfg.host}:{self.cfg.port} unreachable: "
                                     f"{refused.partition(': ')[2]}", code="unreachable")
            raise ConnectorError(f"MQTT broker refused or did not answer: {refused}", code="refused")

    def waiting(self) -> int:
        return sum(c[1] for c in list(self.chunks))

    def ack(self, seq: int) -> None:
        self._say(f"ack {seq}")

    def _say(self, command: str) -> None:
        try:
            self.proc.stdin.write(command.encode() + b"\n")
            self.proc.stdin.flush()
        except (OSError, ValueError):
            pass  # the subscriber is gone: unacknowledged messages stay with the broker

    def close(self) -> None:
        if self.proc is None:
            return
        self._say("close")
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        # The subscriber disconnects at once (acks already sent) but takes up to half a second to stop
        # paho's thread and exit: reap it in the background so the run's end does not wait for that.
        threading.Thread(target=self._reap, daemon=True, name=f"{REAPER}{self.cfg.client_id}").start()

    def _reap(self) -> None:
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.reader is not None:
            self.reader.join(timeout=5)


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


def _values(slices: list[bytes]) -> list[Any]:
    """All payloads of a group decoded in one pass (orjson over the list, no Python loop per message);
    only a group holding a payload that is not JSON is decoded one by one, keeping text as text."""
    try:
        return list(map(orjson.loads, slices))
    except orjson.JSONDecodeError:
        return [_value(s) for s in slices]


def _parse_frame(body: bytes) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    at = len(FRAME)
    while at < len(body):
        end = body.index(b"\n", at)
        header = orjson.loads(body[at:end])
        at = end + 1
        ends = list(accumulate(header["sizes"], initial=at))
        topic = header["topic"]
        records += [{"topic": topic, "payload": v} for v in _values([body[a:b] for a, b in pairwise(ends)])]
        at = ends[-1] + 1  # past the newline closing the group
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
        losses = Losses(sequence_path=cfg.sequence_path, state=fc.state)
        try:
            while True:
                wanted = cfg.max_messages - received if cfg.max_messages else None
                chunks = self._collect(session, cfg, deadline=min(started + cfg.max_seconds,
                                                                  time.monotonic() + cfg.batch_seconds),
                                       wanted=wanted)
                now = time.monotonic()
                losses.saw_counter(session.dropped, watched=session.drops_watched)
                if chunks:
                    last_message = now
                    count = sum(c[1] for c in chunks)
                    received += count
                    yield self._page(chunks, count, losses)
                    session.ack(chunks[-1][0])  # only now: the batch is committed
                elif losses.changed:  # the broker's counter moved while no message came
                    yield Page(payload=None, records=[], counters=losses.counters(), state=losses.state())
                if session.proc.poll() is not None and not session.chunks:
                    raise ConnectorError("the MQTT subscriber process ended unexpectedly", code="subscriber_ended")
                if (now - started >= cfg.max_seconds or now - last_message >= cfg.idle_seconds
                        or (cfg.max_messages and received >= cfg.max_messages) or fc.should_stop()):
                    return
        finally:
            session.close()

    def _page(self, chunks: list, count: int, losses: Losses) -> Page:
        body = FRAME + b"".join(c[2] for c in chunks)
        payload = Payload(body=body, request={"method": "SUBSCRIBE", "url": self._where(), "messages": count})
        records = _parse_frame(body)
        losses.check(records)
        return Page(payload=payload, records=records, counters=losses.counters(), state=losses.state() or None)

    def _collect(self, session: _Session, cfg: MqttConfig, deadline: float, wanted: int | None = None) -> list:
        """Wait until a batch is full, its time is up or the stream pauses, then take its chunks."""
        full = min(cfg.batch_size, wanted) if wanted else cfg.batch_size
        # QoS 1: nothing new for one look means the broker waits for our acks (its in-flight window, 20
        # by default in Mosquitto), which only go out after a commit: commit what we have. QoS 0 needs no
        # acks: a short silence on a busy machine is not the end of a burst, so it waits longer.
        pause = POLL if cfg.qos else QOS0_PAUSE
        seen, quiet_since = -1, time.monotonic()
        while True:
            now = time.monotonic()
            waiting = session.waiting()
            if waiting >= full or now >= deadline or session.proc.poll() is not None:
                break
            if waiting != seen:
                seen, quiet_since = waiting, now
            elif waiting and now - quiet_since >= pause:
                break
            time.sleep(max(0.0, min(POLL, deadline - now)))
        limit = max(cfg.batch_size, min(cfg.max_batch_size, wanted or cfg.max_batch_size))
        chunks, count = [], 0
        while session.chunks and count < limit:
            chunk = session.chunks[0]
            if chunks and count + chunk[1] > limit:
                break
            chunks.append(session.chunks.popleft())
            count += chunk[1]
        return chunks

    def _where(self) -> str:
        return f"mqtt://{self.config.host}:{self.config.port}/{'|'.join(self.config.topics)}"
