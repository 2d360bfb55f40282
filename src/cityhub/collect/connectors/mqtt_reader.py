"""A paho client that reads the socket in large chunks instead of three system calls per message.

paho reads every packet with separate `recv` calls for its command byte, each byte of its length and
its body, and returns to `select` after each packet. On a busy topic that is most of paho's CPU per
message, and every call releases the GIL, handing it back and forth with the thread that stores the
batches. This client fills a buffer with one `recv` and serves paho's small reads from it; packets
left in the buffer are read before going back to `select` (which cannot see them).

It overrides paho internals (`_sock_recv`, `_packet_read`, `_loop_rc_handle`), so it is used only when
they exist; the MQTT tests run through it against a real broker.
"""

from __future__ import annotations

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

CHUNK = 16 * 1024
SUPPORTED = all(hasattr(mqtt.Client, name) for name in ("_sock_recv", "_packet_read", "_loop_rc_handle"))


class BufferedClient(mqtt.Client):
    _buffer: bytes = b""
    _at: int = 0

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
        rc = super().loop_read(max_packets)
        while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and self._at < len(self._buffer) and self._sock is not None:
            rc = self._packet_read()
            if rc > 0:
                return self._loop_rc_handle(rc)
            if rc == MQTTErrorCode.MQTT_ERR_AGAIN:
                return MQTTErrorCode.MQTT_ERR_SUCCESS
        return rc

    def reconnect(self) -> MQTTErrorCode:
        self._buffer, self._at = b"", 0  # bytes of the old connection mean nothing on the new one
        return super().reconnect()


def client_class() -> type[mqtt.Client]:
    return BufferedClient if SUPPORTED else mqtt.Client
