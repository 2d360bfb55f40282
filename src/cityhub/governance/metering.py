"""Usage metering: requests, rows and bytes each consumer draws from each dataset, per day.

One hook counts every data path without touching their code: a plain ASGI middleware watches the
datastore API (search and downloads), the SQL API, the CKAN datastore actions (search and SQL; tables
found with sqlglot) and uploaded-file downloads, counts the
bytes it sends (and rows: CSV lines, JSON records), and upserts a daily counter once the response is done.
Counters live in the database, so several workers add to the same figures.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qs

import anyio
from pydantic import BaseModel
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from cityhub.auth import policy
from cityhub.catalog import service as catalog
from cityhub.ctx import RequestContext
from cityhub.governance.models_market import UsageMeter

log = logging.getLogger("cityhub.governance")
JSON_ROWS_CAP = 8 * 1024 * 1024  # bodies up to this size are parsed to count records
_NATIVE = re.compile(r"^/api/v1/datastore/([0-9a-fA-F-]{36})(?:/download\.\w+)?$")
_FILE = re.compile(r"^/dataset/[^/]+/resource/([0-9a-fA-F-]{36})/download$")
_CKAN = re.compile(r"^/api/(?:3/)?action/(datastore_search|datastore_search_sql)$")
_SQL_PATHS = ("/api/v1/sql",)
_TABLE_ID = re.compile(r"^[0-9a-fA-F-]{36}$")


class UsageRow(BaseModel):
    dataset: str
    consumer: str | None = None
    requests: int
    rows: int
    bytes: int
    first_day: date
    last_day: date


def record(ctx: RequestContext, *, user_id: str, dataset_id: str, rows: int, nbytes: int,
           day: date | None = None) -> None:
    """Add one request's rows and bytes to the consumer's daily counter for the dataset."""
    day = day or datetime.now(UTC).date()
    where = (UsageMeter.user_id == user_id, UsageMeter.dataset_id == dataset_id, UsageMeter.day == day)
    bump = dict(requests=UsageMeter.requests + 1, rows=UsageMeter.rows + rows, bytes=UsageMeter.bytes + nbytes)
    if ctx.db.execute(update(UsageMeter).where(*where).values(**bump)).rowcount:
        return
    try:
        with ctx.db.begin_nested():
            ctx.db.add(UsageMeter(user_id=user_id, dataset_id=dataset_id, day=day, requests=1, rows=rows,
                                  bytes=nbytes))
    except IntegrityError:  # another worker created today's row first
        ctx.db.execute(update(UsageMeter).where(*where).values(**bump))


def _summary(ctx: RequestContext, cond: Any, by_consumer: bool) -> list[UsageRow]:
    from cityhub.auth.models import User

    cols = [UsageMeter.dataset_id, UsageMeter.user_id] if by_consumer else [UsageMeter.dataset_id]
    stmt = (select(*cols, func.sum(UsageMeter.requests), func.sum(UsageMeter.rows), func.sum(UsageMeter.bytes),
                   func.min(UsageMeter.day), func.max(UsageMeter.day)).where(cond).group_by(*cols))
    out = []
    for row in ctx.db.execute(stmt):
        dataset_id = row[0]
        rest = row[2:] if by_consumer else row[1:]
        name = catalog.get_dataset_ref(_system(ctx), id_or_name=dataset_id).name
        consumer = ctx.db.scalar(select(User.email).where(User.id == row[1])) if by_consumer else None
        out.append(UsageRow(dataset=name, consumer=consumer, requests=int(rest[0]), rows=int(rest[1]),
                            bytes=int(rest[2]), first_day=rest[3], last_day=rest[4]))
    return out


def _system(ctx: RequestContext) -> RequestContext:
    from cityhub.cli import SYSTEM

    return ctx.with_actor(SYSTEM)


def my_usage(ctx: RequestContext) -> list[UsageRow]:
    """What the signed-in consumer drew, per dataset."""
    policy.require(ctx, "access.request")
    return _summary(ctx, UsageMeter.user_id == ctx.actor.user_id, by_consumer=False)


def dataset_usage(ctx: RequestContext, *, dataset: str) -> list[UsageRow]:
    """Who drew what from a dataset (its publisher's stewards)."""
    ref = catalog.get_dataset_ref(ctx, id_or_name=dataset)
    policy.require(ctx, "access.decide", ref)
    return _summary(ctx, UsageMeter.dataset_id == ref.id, by_consumer=True)


# --- the hook -----------------------------------------------------------------------------------------


class _Tally:
    def __init__(self) -> None:
        self.status = 0
        self.content_type = ""
        self.nbytes = 0
        self.newlines = 0
        self.body: list[bytes] | None = []

    def add(self, chunk: bytes) -> None:
        self.nbytes += len(chunk)
        if self.content_type.startswith("text/csv") or self.content_type.startswith("text/tab"):
            self.newlines += chunk.count(b"\n")
        elif self.body is not None:
            self.body = self.body + [chunk] if self.nbytes <= JSON_ROWS_CAP else None

    def rows(self) -> int:
        if self.content_type.startswith(("text/csv", "text/tab")):
            return max(self.newlines - 1, 0)  # the header line
        if not self.body or "json" not in self.content_type:
            return 0
        try:
            doc = json.loads(b"".join(self.body))
        except ValueError:
            return 0
        if isinstance(doc, dict) and isinstance(doc.get("result"), dict):
            doc = doc["result"]  # CKAN envelope
        if isinstance(doc, dict):
            doc = doc.get("records", doc.get("features", []))
        return len(doc) if isinstance(doc, list) else 0


async def _buffered(receive: Callable[[], Awaitable[dict]]) -> tuple[bytes, Any]:
    """Read the (small) request body, and a receive that replays it to the app."""
    messages, body = [], b""
    while True:
        message = await receive()
        messages.append(message)
        body += message.get("body", b"")
        if not message.get("more_body"):
            break

    async def replay() -> dict:
        return messages.pop(0) if messages else await receive()

    return body, replay


async def _target_of(scope: dict, receive: Callable[[], Awaitable[dict]]) -> tuple[str | None, str | None, Any]:
    """(resource id, SQL) the request reads, and the receive to hand on."""
    path = scope.get("path", "")
    match = _NATIVE.match(path) or _FILE.match(path)
    if match:
        return match.group(1), None, receive
    ckan = _CKAN.match(path)
    if not ckan and path not in _SQL_PATHS:
        return None, None, receive
    key = "sql" if path in _SQL_PATHS or ckan.group(1) == "datastore_search_sql" else "resource_id"
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    names = ("sql",) if key == "sql" else ("resource_id", "id")
    value = next((query[n][0] for n in names if query.get(n)), None)
    if value or scope.get("method") != "POST":
        return (None, value, receive) if key == "sql" else (value, None, receive)
    body, receive = await _buffered(receive)
    try:
        value = json.loads(body or b"{}").get(key)
    except (ValueError, AttributeError):
        value = None
    value = value if isinstance(value, str) else None
    return (None, value, receive) if key == "sql" else (value, None, receive)


class UsageMeterMiddleware:
    """Meters authenticated reads of datastore rows and files (see the module docstring)."""

    def __init__(self, app: Any, owner: Any) -> None:
        self.app = app
        self.owner = owner

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") not in ("GET", "POST"):
            await self.app(scope, receive, send)
            return
        resource_id, sql, receive = await _target_of(scope, receive)
        if not resource_id and not sql:
            await self.app(scope, receive, send)
            return
        tally = _Tally()

        async def counting_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                tally.status = message["status"]
                headers = dict(message.get("headers") or [])
                tally.content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
            elif message["type"] == "http.response.body":
                tally.add(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, counting_send)
        actor = (scope.get("state") or {}).get("actor")
        if tally.status == 200 and actor is not None and actor.is_authenticated and actor.user_id != "system":
            await anyio.to_thread.run_sync(self._save, actor.user_id, resource_id, sql, tally.rows(), tally.nbytes)

    def _save(self, user_id: str, resource_id: str | None, sql: str | None, rows: int, nbytes: int) -> None:
        from cityhub.cli import SYSTEM
        from cityhub.governance.lineage import tables_in_sql

        state = self.owner.state
        db = state.session_factory()
        try:
            ctx = RequestContext(actor=SYSTEM, db=db, settings=state.settings, bus=state.bus)
            tables = {resource_id} if resource_id else {
                t for t in tables_in_sql(sql or "", "sqlite" if state.settings.is_sqlite else "postgres")
                if _TABLE_ID.match(t)}
            # a query over several datasets counts in full for each of them
            datasets = {catalog.authorize_resource(ctx, resource_id=t, action="resource.read").dataset_id
                        for t in sorted(tables)}
            for dataset_id in sorted(datasets):
                record(ctx, user_id=user_id, dataset_id=dataset_id, rows=rows, nbytes=nbytes)
            db.commit()
        except Exception:
            db.rollback()
            log.exception("could not meter usage", extra={"resource": resource_id})
        finally:
            db.close()
