"""The MQTT subscriber of a run, in a process of its own (`python -m cityhub.collect.connectors.mqtt_worker`).

paho's network thread and the thread that maps and stores batches would share one GIL: on a busy topic
they spend more CPU trading it at every system call than on the messages. Here paho runs alone; every
POLL seconds it hands what arrived to the run as one chunk: a JSON header line {"seq", "count", "size"}
then `size` bytes of frame (per run of messages on one topic, a JSON line {"topic", "qos", "sizes"},
the payloads' exact bytes back to back, a newline). Events are header lines with an "event" key;
{"event": "dropped", "count": n, "live": bool} passes on the broker's dropped-message counter whenever it
changes (live: published while we listened, not the retained value a subscription starts with), and
{"event": "drops_watched"} says the broker accepted that subscription.

The run answers on stdin: `ack <seq>` once chunks up to <seq> are committed (QoS 1 messages are
acknowledged to the broker only then), `close` at the end. When the run's process dies, stdin ends,
this process disconnects without acknowledging, and the broker delivers the rest again later.
"""

from __future__ import annotations

import os
import select
import sys
from collections import deque
from itertools import groupby
from operator import itemgetter
from typing import Any

import orjson

POLL = 0.02
# Mosquitto's count of messages it dropped (queue or in-flight limits), published every sys_interval.
DROPPED = "$SYS/broker/publish/messages/dropped"


def frame(messages: list[tuple[bytes, int, int, bytes]]) -> bytes:
    """Messages (topic, qos, mid, payload) as frame groups: a header line per run of one topic and QoS,
    then the exact payloads back to back."""
    parts: list[bytes] = []
    for (topic, qos), group in groupby(messages, key=_TOPIC_QOS):
        payloads = [m[3] for m in group]
        header = {"topic": topic.decode("utf-8", "replace"), "qos": qos, "sizes": list(map(len, payloads))}
        parts += [orjson.dumps(header) + b"\n", *payloads, b"\n"]
    return b"".join(parts)


_TOPIC_QOS = itemgetter(0, 1)


class _Worker:
    def __init__(self, cfg: dict[str, Any]) -> None:
        import paho.mqtt.client as mqtt

        from cityhub.collect.connectors.mqtt_reader import client_class

        self.cfg = cfg
        self.out = sys.stdout.buffer
        self.inbox: deque = deque()  # (topic, qos, mid, payload): paho's thread appends, the main loop pops
        self.pending: dict[int, list[tuple[int, int]]] = {}  # chunk seq -> QoS 1 message ids to ack
        self.seq = 0
        self.client = client_class()(mqtt.CallbackAPIVersion.VERSION2, client_id=cfg["client_id"],
                                     clean_session=False)
        self.client.manual_ack_set(True)
        self.client.max_inflight_messages_set(1000)
        if cfg.get("username"):
            self.client.username_pw_set(cfg["username"], cfg.get("password"))
        self.client.on_connect = self._on_connect
        # Plain PUBLISH packets come straight from the reader (no MQTTMessage, no topic matching); the rest
        # (a packet split across reads, a client without the reader) through paho's on_message.
        keep = self.inbox.append
        self.client.on_message = lambda _c, _u, msg: keep((msg._topic, msg.qos, msg.mid, msg.payload))
        self.client.on_raw_publish = lambda *message: keep(message)
        # The broker's counter as last published (value, live), and as last passed on.
        self.dropped: tuple[int, bool] | None = None
        self.dropped_sent: tuple[int, bool] | None = None
        self.client.message_callback_add(DROPPED, self._on_dropped)
        self.client.on_subscribe = self._on_subscribe
        self.watch_mid: int | None = None
        self.client.reconnect_delay_set(min_delay=0.1, max_delay=2)

    def emit(self, header: dict[str, Any], body: bytes = b"") -> None:
        self.out.write(orjson.dumps(header) + b"\n" + body)
        self.out.flush()

    def _on_connect(self, client, _userdata, _flags, reason, _props) -> None:  # noqa: ANN001
        if reason.is_failure:
            self.emit({"event": "refused", "reason": str(reason)})
            return
        client.subscribe([(t, self.cfg["qos"]) for t in self.cfg["topics"]])
        if self.cfg.get("broker_drops", True):  # on its own: a broker hiding $SYS refuses only this one
            self.watch_mid = client.subscribe(DROPPED, 0)[1]
        self.emit({"event": "connected"})

    def _on_dropped(self, _client, _userdata, msg) -> None:  # noqa: ANN001
        try:
            self.dropped = (int(msg.payload), not msg.retain)
        except ValueError:
            pass

    def _on_subscribe(self, _client, _userdata, mid, reasons, _props) -> None:  # noqa: ANN001
        if mid == self.watch_mid and reasons and not reasons[0].is_failure:
            self.emit({"event": "drops_watched"})

    def run(self) -> None:
        try:
            self.client.connect(self.cfg["host"], self.cfg["port"], keepalive=30)
        except OSError as exc:
            self.emit({"event": "unreachable", "reason": str(exc)})
            return
        self.client.loop_start()
        try:
            self._loop()
        finally:
            self.client.disconnect()
            self.client.loop_stop()

    def _loop(self) -> None:
        stdin = sys.stdin.fileno()
        commands = self.cfg.get("_rest", b"")
        while True:
            ready, _, _ = select.select([stdin], [], [], POLL)
            if ready:
                data = os.read(stdin, 65536)
                if not data:
                    return  # the run ended or its process died: leave unacknowledged messages to the broker
                commands += data
                *lines, commands = commands.split(b"\n")
                for line in lines:
                    if line == b"close":
                        return
                    if line.startswith(b"ack "):
                        self._ack(int(line[4:]))
            if self.inbox:
                messages = [self.inbox.popleft() for _ in range(len(self.inbox))]
                self.seq += 1
                acks = [(m[2], m[1]) for m in messages if m[1]]
                if acks:
                    self.pending[self.seq] = acks
                body = frame(messages)
                self.emit({"seq": self.seq, "count": len(messages), "size": len(body)}, body)
            if self.dropped != self.dropped_sent:
                self.dropped_sent = self.dropped
                self.emit({"event": "dropped", "count": self.dropped[0], "live": self.dropped[1]})

    def _ack(self, upto: int) -> None:
        done = sorted(s for s in self.pending if s <= upto)
        acks = [ack for seq in done for ack in self.pending.pop(seq)]
        if hasattr(self.client, "ack_many"):  # the buffered reader: all PUBACKs in one write
            self.client.ack_many([mid for mid, qos in acks if qos == 1])
            acks = [(mid, qos) for mid, qos in acks if qos != 1]
        for mid, qos in acks:
            self.client.ack(mid, qos)


def main() -> None:
    data = b""
    while b"\n" not in data:  # the config line; unbuffered, so later commands stay on the descriptor
        chunk = os.read(sys.stdin.fileno(), 65536)
        if not chunk:
            return
        data += chunk
    line, rest = data.split(b"\n", 1)
    cfg = orjson.loads(line)
    cfg["_rest"] = rest
    _Worker(cfg).run()


if __name__ == "__main__":
    main()
