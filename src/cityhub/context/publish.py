"""Where simulated (or replayed) entities go: in process, HTTP batch upsert, or MQTT."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from cityhub.context.simulator import SimulatedCity, chunks
from cityhub.settings import Settings

Publisher = Callable[[list[dict[str, Any]]], int]


def in_process(settings: Settings, *, batch: int = 1000, session_factory: Any = None, bus: Any = None,
               on_errors: Callable[[list[dict[str, Any]]], None] | None = None) -> Publisher:
    """Upsert through the context service directly (what `cityhub demo` uses). Inside a served app pass its
    session factory and bus: events go to a fresh bus of their own otherwise, which nobody listens to.
    `on_errors` hears each chunk's refused entities (id and ProblemDetails)."""
    from cityhub.bus import make_bus
    from cityhub.cli import SYSTEM
    from cityhub.context import entities
    from cityhub.ctx import RequestContext
    from cityhub.db import make_engine, make_session_factory

    factory = session_factory or make_session_factory(make_engine(settings))
    bus = bus or make_bus(settings.bus_url)

    def send(items: list[dict[str, Any]]) -> int:
        sent = 0
        for chunk in chunks(items, batch):
            with factory() as db:
                ctx = RequestContext(actor=SYSTEM, db=db, settings=settings, bus=bus)
                result = entities.batch(ctx, op="upsert", bodies=chunk)
                db.commit()
                sent += len(result.success)
                if result.errors and on_errors is not None:
                    on_errors(result.errors)
        return sent

    return send


def over_http(base_url: str, token: str | None, *, batch: int = 1000, timeout: float = 30.0) -> Publisher:
    """POST /ngsi-ld/v1/entityOperations/upsert in batches."""
    import httpx

    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    client = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)

    def send(items: list[dict[str, Any]]) -> int:
        sent = 0
        for chunk in chunks(items, batch):
            r = client.post("/ngsi-ld/v1/entityOperations/upsert", content=orjson.dumps(chunk))
            if r.status_code not in (201, 204, 207):
                raise RuntimeError(f"upsert refused: HTTP {r.status_code} {r.text[:300]}")
            sent += len(chunk) - (len(r.json().get("errors", [])) if r.status_code == 207 else 0)
        return sent

    return send


def over_mqtt(host: str, port: int, topic: str, *, batch: int = 500) -> Publisher:
    """Publish NGSI-LD entity arrays on an MQTT topic (the Collection MQTT connector ingests them)."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.connect(host, port, keepalive=30)
    client.loop_start()

    def send(items: list[dict[str, Any]]) -> int:
        for chunk in chunks(items, batch):
            client.publish(topic, orjson.dumps(chunk), qos=1).wait_for_publish(timeout=10)
        return len(items)

    return send


def run(city: SimulatedCity, publish: Publisher, *, ticks: int, step: timedelta, interval: float,
        start: datetime | None = None, on_tick: Callable[[int, datetime, int], None] | None = None) -> int:
    """Publish `ticks` moments `step` apart (0 = forever), sleeping `interval` wall seconds between."""
    at = (start or city.start).astimezone(UTC)
    total, n = 0, 0
    while ticks == 0 or n < ticks:
        began = time.monotonic()
        sent = publish(city.tick(at))
        total += sent
        n += 1
        if on_tick:
            on_tick(n, at, sent)
        at += step
        if interval and (ticks == 0 or n < ticks):
            time.sleep(max(0.0, interval - (time.monotonic() - began)))
    return total
