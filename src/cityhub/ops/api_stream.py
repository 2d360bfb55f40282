"""HTTP door for live incident updates: GET /api/v1/ops/stream (server-sent events) for agency units."""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse

from cityhub import stopping
from cityhub.auth import policy
from cityhub.ctx import RequestContext
from cityhub.http import Ctx, dumps
from cityhub.ops import stream as live
from cityhub.ops.service_agencies import actor_agency
from cityhub.ops.service_incidents import OPERATOR_ROLES, _load, _ref

router = APIRouter(prefix="/api/v1/ops", tags=["ops: live updates"])


def _scope(ctx: RequestContext, incident_id: str | None) -> live.Scope:
    agency = actor_agency(ctx)
    staff = ctx.actor.role in OPERATOR_ROLES
    if incident_id:
        policy.require(ctx, "incident.read", _ref(ctx, _load(ctx, incident_id)))
    else:
        policy.require(ctx, "incident.list")  # a department member who is no agency's follows nothing
    return live.Scope(incident_id or None, agency.id if agency else None, staff)


def _frame(messages: list[dict]) -> bytes:
    return b"".join(b"id: %d\nevent: incident\ndata: " % m["id"] + dumps(m) + b"\n\n" for m in messages)


@router.get("/stream")
async def incident_stream(request: Request, ctx: Ctx, incident_id: str | None = None, after: int | None = None,
                          last_event_id: str | None = Header(default=None)) -> StreamingResponse:
    """Server-sent events (`event: incident`), one per timeline entry of the caller's incidents — or of
    `incident_id` — as they happen: location, address, state and the change; a new incident's first
    message carries the nearest cameras. Resume with Last-Event-ID or `after`; without either, one
    incident's stream starts from its first entry and an agency-wide stream from now."""
    scope = await asyncio.to_thread(_scope, ctx, incident_id)
    start = after
    if last_event_id and last_event_id.strip().isdigit():
        start = int(last_event_id.strip())
    if start is None:
        start = 0 if incident_id else await asyncio.to_thread(live.latest_id, ctx)
    actor, settings, bus = ctx.actor, ctx.settings, ctx.bus
    factory = request.app.state.session_factory
    feed: live.Feed = request.app.state.ops_feed
    ctx.db.close()

    def read(after: int) -> list[dict]:
        with factory() as db:
            return live.read_since(RequestContext(actor=actor, db=db, settings=settings, bus=bus), scope, after)

    async def events():  # noqa: ANN202
        sent = start
        entry = feed.join()
        loop = asyncio.get_running_loop()
        ends = loop.time() + live.MAX_STREAM_SECONDS
        quiet = 0.0
        try:
            yield b"retry: 1000\n: connected\n\n"
            while loop.time() < ends:
                entry[1].clear()
                messages = await asyncio.to_thread(read, sent)
                if messages:
                    sent = messages[-1]["id"]
                    quiet = 0.0
                    yield _frame(messages)
                    if len(messages) == live.PAGE:
                        continue  # more waiting: read on at once
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(entry[1].wait(), timeout=live.POLL_SECONDS)
                quiet += live.POLL_SECONDS
                if quiet >= live.KEEPALIVE_SECONDS:
                    if await request.is_disconnected():
                        return
                    quiet = 0.0
                    yield b": keep-alive\n\n"
        finally:
            feed.leave(entry)

    return stopping.event_stream(request, events())
