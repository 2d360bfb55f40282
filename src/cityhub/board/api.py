"""HTTP door of the city board under /api/v1/board: snapshot, layers, drill-downs, directives, live events."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, FastAPI, Header, Request
from fastapi.responses import StreamingResponse

from cityhub import stopping
from cityhub.auth import policy
from cityhub.board import live, service, sources
from cityhub.http import Ctx, ORJSONResponse, dumps

router = APIRouter(prefix="/api/v1/board", tags=["board"])
KEEPALIVE_SECONDS = 15.0
# A stream ends itself after a while (the browser resumes by id at once), so no shutdown waits on it forever.
MAX_STREAM_SECONDS = 300.0


def install(app: FastAPI) -> None:
    live.install(app)


@router.get("/snapshot", response_class=ORJSONResponse)
def snapshot(ctx: Ctx, view: str = "ops") -> Any:
    """Everything a board draws at load time (`view=city` for the public board), with the live-event cursor."""
    return ORJSONResponse(service.snapshot(ctx, view=view))


@router.get("/layers", response_class=ORJSONResponse)
def layers(ctx: Ctx, view: str = "ops") -> Any:
    """The map's layers: air, traffic, water, river levels, and cameras on the staff board."""
    return ORJSONResponse(service.layers(ctx, view=view))


@router.get("/incidents/{incident_id}", response_class=ORJSONResponse)
def incident(ctx: Ctx, incident_id: str) -> Any:
    """The incident drawer: timeline, nearby cameras, directives."""
    return ORJSONResponse(service.incident_detail(ctx, incident_id=incident_id))


@router.get("/sensors/{entity_id:path}", response_class=ORJSONResponse)
def sensor(ctx: Ctx, entity_id: str, view: str = "ops") -> Any:
    """A sensor's state and its 24-hour hourly series."""
    return ORJSONResponse(service.sensor_detail(ctx, entity_id=entity_id, view=view))


@router.post("/directives", response_class=ORJSONResponse, status_code=201)
def issue_directive(ctx: Ctx, data: dict[str, Any]) -> Any:
    """Issue a directive from a drawer (passed to the operations service, whose rules decide)."""
    from cityhub.ops.schemas import DirectiveCreate

    return ORJSONResponse(sources.issue_directive(ctx, DirectiveCreate.model_validate(data)), status_code=201)


def _frame(rows: list[dict[str, Any]], protected: bool) -> bytes:
    """One SSE message; its id is the newest row's even when the viewer may not see that row (so a resume starts
    after it). Incidents about a protected person only for viewers who may read incidents themselves."""
    body = [{"id": r["id"], "topic": r["topic"], "at": r["at"], "payload": r["payload"]} for r in rows
            if protected or not (r["topic"].startswith("incident.")
                                 and r["payload"].get("type") in service.PROTECTED_TYPES)]
    return b"id: %d\nevent: batch\ndata: " % rows[-1]["id"] + dumps(body) + b"\n\n"


@router.get("/events")
async def events(request: Request, ctx: Ctx, view: str = "ops", after: int | None = None,
                 last_event_id: str | None = Header(default=None)) -> StreamingResponse:
    """Server-sent events: batches of board events (at most a few a second). Resume with Last-Event-ID (the
    browser sends it on reconnect) or `after=<cursor from the snapshot>`; a board too far behind is told
    to reload (`event: resync`)."""
    public = not await asyncio.to_thread(service.staff_view, ctx, view)
    protected = not public and policy.can(ctx, "incident.read", None)
    hub: live.Hub = request.app.state.board_hub
    listener = hub.listen(public)
    start = after
    if last_event_id and last_event_id.strip().isdigit():
        start = int(last_event_id.strip())
    if start is None:
        start = hub.last_id
    replay = await asyncio.to_thread(live.read_since, ctx.db, start, public=public)
    floor = await asyncio.to_thread(live.oldest_id, ctx.db)
    gap = start > 0 and floor > start + 1
    ctx.db.close()

    async def stream():  # noqa: ANN202
        sent = start
        ends = asyncio.get_running_loop().time() + MAX_STREAM_SECONDS
        try:
            yield b"retry: 1000\n: connected\n\n"
            if gap:
                yield b"event: resync\ndata: {}\n\n"
            if replay:
                sent = replay[-1]["id"]
                yield _frame(replay, protected)
            while asyncio.get_running_loop().time() < ends:
                try:
                    batch = await asyncio.wait_for(listener.queue.get(), timeout=KEEPALIVE_SECONDS)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield b": keep-alive\n\n"
                    continue
                fresh = [r for r in batch if r["id"] > sent]
                if fresh:
                    sent = fresh[-1]["id"]
                    yield _frame(fresh, protected)
        finally:
            hub.leave(listener)

    return stopping.event_stream(request, stream())
