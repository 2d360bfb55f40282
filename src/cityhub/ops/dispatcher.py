"""Delivers the ops outbox to agency webhooks: signed JSON POSTs with an Idempotency-Key header.

Each agency is one group, so its messages arrive in order and a dead or slow agency never holds
up the others. After `ops_delivery_max_attempts` a row becomes a dead letter (`status=dead`),
listed at /api/v1/ops/deliveries?status=dead and retryable by an operator.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import httpcore
import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cityhub.ops.models import Agency, Delivery
from cityhub.outbox import DeliveryError, OutboxDispatcher
from cityhub.settings import Settings


def signature(secret: str, body: bytes) -> str:
    """The X-Cityhub-Signature header: HMAC-SHA256 of the exact body with the agency's webhook secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class AgencyDispatcher(OutboxDispatcher):
    table = Delivery.__table__
    group_column = "target"
    failed_status = "dead"
    name = "ops-deliveries"
    retry_waiting_on_start = True  # an agency's messages left by a crash go out as soon as we are back
    # Two webhooks an incident: marking every 50 ms was a write transaction per incident or two at 50/s (~0.5 ms
    # CPU each). Sent rows stay leased (renewed) until marked, so a crash meanwhile re-sends them, same key.
    mark_seconds = 0.2

    def __init__(self, session_factory: sessionmaker[Session], settings: Settings) -> None:
        super().__init__(session_factory, max_attempts=settings.ops_delivery_max_attempts, workers=16)
        self.settings = settings
        wait = settings.ops_webhook_timeout_seconds
        self.timeouts = {"connect": 1.0, "read": wait, "write": wait, "pool": wait}
        # httpx's own transport, without the client's cookies, redirects and auth (a webhook needs none): one
        # pool of keep-alive HTTP/1.1 connections, ~0.25 ms CPU a POST instead of ~0.45 through httpx.Client.
        self.http = httpcore.ConnectionPool(max_connections=64)
        self.secrets: dict[str, tuple[str, float]] = {}

    def close(self) -> None:
        self.http.close()

    def notify(self, _topic: str | None = None, payload: dict[str, Any] | None = None, *_: Any) -> None:
        """Woken after a commit that queued deliveries; rows it leased to this dispatcher go out directly."""
        handed = (payload or {}).get("handover")
        if handed and handed.get("holder") == self.holder:
            rows = [SimpleNamespace(**r) for r in handed["rows"]]
            if self.take(rows, datetime.fromisoformat(handed["lease"])):
                return
        self.wake.set()

    def _secret(self, agency_id: str | None) -> str:
        if agency_id is None:
            return self.settings.resolved_secret()
        cached = self.secrets.get(agency_id)
        if cached and time.monotonic() - cached[1] < 60:
            return cached[0]
        with self.factory() as db:
            secret = db.scalar(select(Agency.webhook_secret).where(Agency.id == agency_id)) or ""
        self.secrets[agency_id] = (secret, time.monotonic())
        return secret

    def send(self, row: Any) -> None:
        body = orjson.dumps(row.payload)
        headers = [(b"Content-Type", b"application/json"), (b"Idempotency-Key", row.idempotency_key.encode()),
                   (b"X-Cityhub-Event", row.event.encode()),
                   (b"X-Cityhub-Signature", signature(self._secret(row.agency_id), body).encode())]
        try:
            r = self.http.request("POST", row.endpoint, headers=headers, content=body,
                                  extensions={"timeout": self.timeouts})
        except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError,
                httpcore.UnsupportedProtocol) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from None
        if r.status >= 300:
            raise DeliveryError(f"HTTP {r.status}")


running_for = AgencyDispatcher.running_for  # writers' door to the hand-over (see OutboxDispatcher)
