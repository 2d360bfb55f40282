"""A paho client that reads the socket in large chunks and hands PUBLISH packets over without paho's per-packet work.

paho reads every packet with separate `recv` calls for its command byte, each byte of its length and
its body, and returns to `select` after each packet. On a busy topic that is most of paho's CPU per
message, and every call releases the GIL. This client fills a buffer with one `recv` and serves paho's
small reads from it; packets left in the buffer are read before going back to `select` (which cannot
see them).

Then, per message, paho builds an MQTTMessage (with its locks), formats a debug line, matches the topic
against every filtered callback and takes two mutexes: about two thirds of the subscriber's CPU at
QoS 0. When `on_raw_publish` is set, complete PUBLISH packets at the head of the buffer (QoS 0 and 1,
MQTT 3.1/3.1.1, topics not starting with `$`) are decoded here and passed on as (topic bytes, qos, mid,
payload bytes); what paho would have done besides calling on_message is nothing for these (QoS 0 has
no answer; QoS 1 is taken only with manual acks, which the caller sends later with `ack`). Everything else (CONNACK,
SUBACK, PINGRESP, `$SYS` messages, QoS 2, MQTT 5, packets split across two reads) goes through paho.

It overrides paho internals (`_sock_recv`, `_packet_read`, `_loop_rc_handle`, `_in_packet`, `_packet_queue`),
so it is used only when they exist; the MQTT tests run through it against a real broker.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

CHUNK = 64 * 1024
SUPPORTED = all(hasattr(mqtt.Client, name) for name in ("_sock_recv", "_packet_read", "_loop_rc_handle",
                                                         "_packet_queue"))
PUBLISH = 0x30
_PUBACK = struct.Struct("!BBH")  # PUBACK: command, remaining length 2, message id
RawPublish = Callable[[bytes, int, int, bytes], None]  # topic, qos, mid, payload


class BufferedClient(mqtt.Client):
    _buffer: bytes = b""
    _at: int = 0
    on_raw_publish: RawPublish | None = None

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._at >= len(self._buffer):
            data = super()._sock_recv(CHUNK)  # BlockingIOError when nothing is waiting: paho expects it
            if not data:
                return data  # connection closed
            self._buffer, self._at = data, 0
        end = self._at + bufsize
        chunk = self._buffer[self._at:end]
        self._at = end
        return chunk

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        rc = super().loop_read(max_packets)  # one packet through paho; reads a chunk when the buffer is empty
        while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and self._sock is not None:
            self._take_publishes()
            if self._at >= len(self._buffer):
                return rc
            rc = self._packet_read()  # a packet that is not a plain PUBLISH, or one split across reads
            if rc > 0:
                return self._loop_rc_handle(rc)
            if rc == MQTTErrorCode.MQTT_ERR_AGAIN:
                return MQTTErrorCode.MQTT_ERR_SUCCESS
        return rc

    def _take_publishes(self) -> None:
        """Decode the complete QoS 0/1 PUBLISH packets at the head of the buffer and pass them on."""
        handler = self.on_raw_publish
        if handler is None or self._protocol == mqtt.MQTTv5 or self._in_packet["command"] != 0:
            return  # no taker, properties in the packet, or paho is in the middle of a packet
        buf, at, size = self._buffer, self._at, len(self._buffer)
        manual = self._manual_ack
        start = at
        while at + 4 < size:
            command = buf[at]
            if command & 0xF0 != PUBLISH or command & 0x06 > 0x02:
                break  # not a PUBLISH, or QoS 2 (answered by paho)
            length, mult, i = 0, 1, at + 1
            while True:  # the remaining length: up to four bytes, seven bits each
                byte = buf[i]
                length += (byte & 127) * mult
                mult *= 128
                i += 1
                if byte < 128 or i - at > 4 or i >= size:
                    break
            end = i + length
            if byte >= 128 or end > size or length < 2:
                break  # split across reads or malformed: paho reads (or refuses) it
            topic_end = i + 2 + (buf[i] << 8 | buf[i + 1])
            qos = (command >> 1) & 3
            if topic_end + 2 * qos > end or topic_end == i + 2 or buf[i + 2] == 0x24 or (qos and not manual):
                break  # malformed; "$": $SYS and the like go to their paho callbacks; paho acks if not manual
            mid = buf[topic_end] << 8 | buf[topic_end + 1] if qos else 0
            self._at = at = end  # first: a handler that raises must not have its packet read twice
            handler(buf[i + 2:topic_end], qos, mid, buf[topic_end + 2 * qos:end])
        if at != start:
            self._last_bytes_received = mqtt.time_func()  # keepalive: the broker is talking

    def ack_many(self, mids: list[int]) -> None:
        """PUBACKs for QoS 1 messages (manual acks) queued as one write: paho's `ack` queues a packet,
        wakes the network thread through its socket pair and sends it with a system call of its own, per
        message (about 7 µs CPU a message at QoS 1)."""
        if mids:
            self._packet_queue(mqtt.PUBACK, b"".join([_PUBACK.pack(0x40, 2, mid) for mid in mids]), 0, 0)

    def reconnect(self) -> MQTTErrorCode:
        self._buffer, self._at = b"", 0  # bytes of the old connection mean nothing on the new one
        return super().reconnect()


def client_class() -> type[mqtt.Client]:
    return BufferedClient if SUPPORTED else mqtt.Client
