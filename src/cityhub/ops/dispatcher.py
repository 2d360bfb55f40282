"""Delivers the ops outbox to agency webhooks: signed JSON POSTs with an Idempotency-Key header.

Each agency is one group, so its messages arrive in order and a dead or slow agency never holds
up the others. After `ops_delivery_max_attempts` a row becomes a dead letter (`status=dead`),
listed at /api/v1/ops/deliveries?status=dead and retryable by an operator.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import httpx
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

    def __init__(self, session_factory: sessionmaker[Session], settings: Settings) -> None:
        super().__init__(session_factory, max_attempts=settings.ops_delivery_max_attempts, workers=16)
        self.settings = settings
        timeout = httpx.Timeout(settings.ops_webhook_timeout_seconds, connect=1.0)
        self.http = httpx.Client(timeout=timeout, limits=httpx.Limits(max_connections=64))
        self.secrets: dict[str, tuple[str, float]] = {}

    def close(self) -> None:
        self.http.close()

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
        headers = {"Content-Type": "application/json", "Idempotency-Key": row.idempotency_key,
                   "X-Cityhub-Event": row.event, "X-Cityhub-Signature": signature(self._secret(row.agency_id), body)}
        try:
            r = self.http.post(row.endpoint, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from None
        if r.status_code >= 300:
            raise DeliveryError(f"HTTP {r.status_code}")
