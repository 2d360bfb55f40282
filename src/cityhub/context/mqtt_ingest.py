"""NGSI-LD entities arriving over MQTT are upserted into the live layer, inside the served app.

`cityhub simulate --mode mqtt` (and field gateways) publish JSON arrays of normalized entities (or one entity)
on a topic; with `context_mqtt_ingest_url = mqtt://host:port/topic` set, each server process subscribes and
writes every message through the context service as a batch upsert, with the app's own session factory and
bus (so subscriptions, alerts, history and the live feed see them as they see HTTP writes).

QoS 1, acknowledged by hand once the message's batch is committed (or found unusable). The subscription is
shared (`$share/cityhub-context/<topic>`): several workers split the messages instead of each writing all
of them. The session is not persistent: messages published while no server listens are not kept, which
suits live readings (a feed that must lose nothing goes through a Collection MQTT source instead). A message
that is not JSON or not entities is logged and dropped; entities refused one by one are logged with their
reasons; a batch whose write fails is logged with the error and not retried.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any
from urllib.parse import urlparse

import orjson
from fastapi import FastAPI

log = logging.getLogger("cityhub.context.mqtt_ingest")
SHARE_GROUP = "cityhub-context"


class MqttIngest:
    def __init__(self, app: FastAPI, url: str) -> None:
        import paho.mqtt.client as mqtt

        from cityhub.context import publish

        u = urlparse(url)
        if u.scheme != "mqtt" or not u.path.strip("/"):
            raise ValueError(f"context_mqtt_ingest_url must be mqtt://host:port/topic, got {url!r}")
        self.host, self.port, self.topic = u.hostname or "127.0.0.1", u.port or 1883, u.path.lstrip("/")
        self.send = publish.in_process(app.state.settings, session_factory=app.state.session_factory,
                                       bus=app.state.bus, on_errors=self._refused)
        self.ready = threading.Event()
        self.written = 0  # entities written since start (tests and logs read it)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"cityhub-context-{os.getpid()}",
                                  manual_ack=True)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_: self.ready.set()
        self.client.on_message = self._on_message

    def start(self) -> None:
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()  # reconnects by itself; on_connect subscribes again

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: Any, _userdata: Any, _flags: Any, reason: Any, _props: Any = None) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("MQTT ingest could not connect", extra={"reason": str(reason)})
            return
        client.subscribe(f"$share/{SHARE_GROUP}/{self.topic}", qos=1)

    def _on_message(self, client: Any, _userdata: Any, msg: Any) -> None:
        try:
            body = orjson.loads(msg.payload)
            items = body if isinstance(body, list) else [body]
            if not all(isinstance(i, dict) for i in items):
                raise ValueError("not NGSI-LD entities")
        except (orjson.JSONDecodeError, ValueError) as exc:
            log.warning("MQTT ingest dropped a message", extra={"topic": msg.topic, "error": str(exc)})
            client.ack(msg.mid, msg.qos)
            return
        try:
            self.written += self.send(items)
        except Exception:  # noqa: BLE001 — the ingest keeps listening; the failure is in the log
            log.exception("MQTT ingest batch failed", extra={"topic": msg.topic})
        client.ack(msg.mid, msg.qos)

    def _refused(self, errors: list[dict[str, Any]]) -> None:
        log.warning("MQTT ingest refused entities", extra={"refused": len(errors), "first": errors[0]})


def install(app: FastAPI) -> None:
    """Start the ingest on the app's lifespan when `context_mqtt_ingest_url` is set."""

    def start(app: FastAPI) -> None:
        url = app.state.settings.context_mqtt_ingest_url
        if url:
            ingest = MqttIngest(app, url)
            ingest.start()
            app.state.context_mqtt_ingest = ingest

    def stop(app: FastAPI) -> None:
        ingest = getattr(app.state, "context_mqtt_ingest", None)
        if ingest is not None:
            ingest.stop()
            app.state.context_mqtt_ingest = None

    app.state.startup_hooks.append(start)
    app.state.shutdown_hooks.append(stop)
