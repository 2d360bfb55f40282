"""The notification dispatcher: delivers outbox rows to subscribers' endpoints, with retries.

A background thread claims due rows (a lease in `claimed_until`, so several workers can share the
outbox), and hands each subscription's rows to a worker pool: a hanging or failing endpoint ties
up one worker for at most the timeout and never delays other subscribers. Failures back off
exponentially; after `context_notify_max_attempts` a row is marked failed. Each subscription
records last success, last failure and its failure count.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any
from urllib.parse import urlparse

import httpx
import orjson
from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from cityhub.context.jsonld import ETSI_CORE, LINK_REL
from cityhub.context.models import NotificationOutbox, Subscription
from cityhub.db import utcnow
from cityhub.settings import Settings

log = logging.getLogger("cityhub.context.notifier")
OUTBOX = NotificationOutbox.__table__
S = Subscription.__table__
LEASE = timedelta(seconds=30)
BATCH = 200


class DeliveryError(Exception):
    pass


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


class Dispatcher:
    """One per process; started and stopped by the app's lifespan (see runtime.py)."""

    def __init__(self, session_factory: sessionmaker[Session], settings: Settings) -> None:
        self.factory = session_factory
        self.settings = settings
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="notify")
        timeout = httpx.Timeout(settings.context_notify_timeout_seconds, connect=1.0)
        self.http = httpx.Client(timeout=timeout, limits=httpx.Limits(max_connections=64))
        self.busy: set[str] = set()  # subscriptions with a delivery in flight (this process)
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.run, name="ctx-dispatcher", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        self.thread.join(timeout=5)
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.http.close()

    def notify(self, *_: Any) -> None:
        self.wake.set()

    def run(self) -> None:
        while not self.stopping.is_set():
            self.wake.wait(timeout=0.5)
            self.wake.clear()
            try:
                while self.dispatch_once() and not self.stopping.is_set():
                    pass
            except Exception:  # the dispatcher must outlive a bad row or a database hiccup
                log.exception("notification dispatch failed")

    def dispatch_once(self) -> int:
        """Claim due rows and hand them to the pool, grouped per subscription. Returns rows claimed."""
        now = utcnow()
        with self.lock:
            busy = set(self.busy)
        with self.factory() as db:
            due = [OUTBOX.c.status == "pending", OUTBOX.c.next_attempt_at <= now,
                   or_(OUTBOX.c.claimed_until.is_(None), OUTBOX.c.claimed_until < now)]
            if busy:
                due.append(OUTBOX.c.subscription_id.not_in(busy))
            ids = [r[0] for r in db.execute(select(OUTBOX.c.id).where(*due).order_by(OUTBOX.c.id).limit(BATCH))]
            if not ids:
                return 0
            token = now + LEASE + timedelta(microseconds=random.randint(1, 999_999))
            db.execute(update(OUTBOX).where(OUTBOX.c.id.in_(ids), *due[:3]).values(claimed_until=token))
            db.commit()
            rows = db.execute(select(OUTBOX).where(OUTBOX.c.id.in_(ids), OUTBOX.c.claimed_until == token)
                              .order_by(OUTBOX.c.id)).all()
        groups: dict[str, list[Any]] = defaultdict(list)
        for row in rows:
            groups[row.subscription_id].append(row)
        for sid, group in groups.items():
            with self.lock:
                self.busy.add(sid)
            self.pool.submit(self.deliver, sid, group)
        return len(rows)

    def deliver(self, sid: str, rows: list[Any]) -> None:
        try:
            for i, row in enumerate(rows):
                try:
                    if row.endpoint.startswith(("mqtt://", "mqtts://")):
                        send_mqtt(row, self.settings.context_notify_timeout_seconds)
                    else:
                        send_http(self.http, row)
                except Exception as exc:  # any failure is the endpoint's: record it and back off
                    self.record_failure(sid, rows[i:], str(exc) or type(exc).__name__)
                    return
                self.record_success(sid, row)
        finally:
            with self.lock:
                self.busy.discard(sid)
            self.wake.set()

    def record_success(self, sid: str, row: Any) -> None:
        now = utcnow()
        with self.factory() as db:
            db.execute(update(OUTBOX).where(OUTBOX.c.id == row.id).values(
                status="done", delivered_at=now, attempts=row.attempts + 1, claimed_until=None))
            db.execute(update(S).where(S.c.id == sid).values(
                last_success=now, times_sent=S.c.times_sent + 1))
            db.commit()

    def record_failure(self, sid: str, rows: list[Any], error: str) -> None:
        """The first row failed; it and the rows behind it wait with exponential backoff."""
        now = utcnow()
        attempts = rows[0].attempts + 1
        delay = min(60.0, 0.5 * 2 ** (attempts - 1))
        final = attempts >= self.settings.context_notify_max_attempts
        with self.factory() as db:
            db.execute(update(OUTBOX).where(OUTBOX.c.id == rows[0].id).values(
                attempts=attempts, last_error=error[:500], claimed_until=None,
                status="failed" if final else "pending", next_attempt_at=now + timedelta(seconds=delay)))
            rest = [r.id for r in rows[1:]]
            if rest:
                db.execute(update(OUTBOX).where(OUTBOX.c.id.in_(rest)).values(
                    claimed_until=None, next_attempt_at=now + timedelta(seconds=delay)))
            db.execute(update(S).where(S.c.id == sid).values(
                last_failure=now, failure_count=S.c.failure_count + 1, last_error=error[:500]))
            db.commit()
        log.info("notification failed", extra={"subscription": sid, "attempt": attempts, "error": error[:200]})

    def purge_done(self, older_than: timedelta = timedelta(days=1)) -> None:
        with self.factory() as db:
            db.execute(delete(OUTBOX).where(and_(OUTBOX.c.status == "done",
                                                 OUTBOX.c.delivered_at < utcnow() - older_than)))
            db.commit()
