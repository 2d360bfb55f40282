"""The notification dispatcher: delivers outbox rows to subscribers' endpoints, with retries.

The claiming, leasing, per-subscription ordering, worker pool and exponential backoff are the shared
outbox engine (`cityhub.outbox.OutboxDispatcher`, also used by the ops agency webhooks); this module
only knows how a notification travels (HTTP with the NGSI-LD context, or MQTT) and keeps each
subscription's delivery status (last success, last failure, failure count). After
`context_notify_max_attempts` a row is marked failed.
"""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlparse

import httpx
import orjson
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from cityhub.context.jsonld import ETSI_CORE, LINK_REL
from cityhub.context.models import NotificationOutbox, Subscription
from cityhub.outbox import DeliveryError, OutboxDispatcher
from cityhub.settings import Settings

OUTBOX = NotificationOutbox.__table__
S = Subscription.__table__

__all__ = ["DeliveryError", "Dispatcher", "running_for", "send_http", "send_mqtt"]

def send_http(client: httpx.Client, row: Any) -> None:
    ld = "ld+json" in (row.accept or "")
    payload = dict(row.payload)
    headers = {"Content-Type": "application/ld+json" if ld else "application/json"}
    if ld:
        payload["@context"] = ETSI_CORE
    else:
        headers["Link"] = f'<{ETSI_CORE}>; rel="{LINK_REL}"; type="application/ld+json"'
    try:
        r = client.post(row.endpoint, content=orjson.dumps(payload), headers=headers)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from None
    if r.status_code >= 300:
        raise DeliveryError(f"HTTP {r.status_code}")


def send_mqtt(row: Any, timeout: float) -> None:
    import paho.mqtt.client as mqtt

    url = urlparse(row.endpoint)
    topic = url.path.lstrip("/") or "notifications"
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.connect_timeout = timeout
    if url.username:
        client.username_pw_set(url.username, url.password)
    try:
        client.connect(url.hostname or "127.0.0.1", url.port or 1883, keepalive=10)
        client.loop_start()
        info = client.publish(topic, orjson.dumps(row.payload), qos=1)
        info.wait_for_publish(timeout=timeout)
        if not info.is_published():
            raise DeliveryError("MQTT broker did not acknowledge the publish")
    except OSError as exc:
        raise DeliveryError(f"MQTT: {exc}") from None
    finally:
        client.loop_stop()
        client.disconnect()


class Dispatcher(OutboxDispatcher):
    """One per process; started and stopped by the app's lifespan (see runtime.py)."""

    table = OUTBOX
    group_column = "subscription_id"
    failed_status = "failed"
    name = "ctx-notify"

    def __init__(self, session_factory: sessionmaker[Session], settings: Settings) -> None:
        super().__init__(session_factory, max_attempts=settings.context_notify_max_attempts, workers=16)
        self.settings = settings
        timeout = httpx.Timeout(settings.context_notify_timeout_seconds, connect=1.0)
        # One pool of keep-alive connections per endpoint (httpx keys its pool by origin).
        self.http = httpx.Client(timeout=timeout, limits=httpx.Limits(max_connections=64,
                                                                      max_keepalive_connections=64))

    def notify(self, _topic: str | None = None, payload: dict[str, Any] | None = None, *_: Any) -> None:
        """Woken after a commit that queued notifications. Rows leased to this dispatcher in that transaction
        are sent at once, without a claim (a write that would queue behind the history writer's lock)."""
        handed = (payload or {}).get("handover")
        if handed and handed.get("holder") == self.holder:
            rows = [SimpleNamespace(**r) for r in handed["rows"]]
            if self.take(rows, datetime.fromisoformat(handed["lease"])):
                return
        self.wake.set()

    def close(self) -> None:
        self.http.close()

    def send(self, row: Any) -> None:
        if row.endpoint.startswith(("mqtt://", "mqtts://")):
            send_mqtt(row, self.settings.context_notify_timeout_seconds)
        else:
            send_http(self.http, row)

    def on_success(self, db: Session, group: str, row: Any, now: datetime) -> None:
        db.execute(update(S).where(S.c.id == group).values(last_success=now, times_sent=S.c.times_sent + 1))

    def on_failure(self, db: Session, group: str, row: Any, error: str, now: datetime) -> None:
        db.execute(update(S).where(S.c.id == group).values(
            last_failure=now, failure_count=S.c.failure_count + 1, last_error=error[:500]))


running_for = Dispatcher.running_for  # writers' door to the hand-over (see OutboxDispatcher)
