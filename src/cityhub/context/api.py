"""Native door under /api/v1/context: district summaries for pages and the live SSE feed."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from cityhub import stopping
from cityhub.context import rules, summary, temporal
from cityhub.http import Ctx, ORJSONResponse, dumps

router = APIRouter(prefix="/api/v1/context", tags=["context"])


@router.get("/districts", response_class=ORJSONResponse)
def districts(ctx: Ctx) -> Any:
    """Each district's current air quality, traffic speed, water quality and active alerts."""
    return ORJSONResponse(summary.district_summary(ctx))


@router.get("/rules", response_class=ORJSONResponse)
def list_rules(ctx: Ctx) -> Any:
    """Threshold rules (which values raise which Alert severity), enabled or not."""
    return ORJSONResponse({"items": rules.list_rules(ctx)})


@router.put("/rules/{name}", response_class=ORJSONResponse)
def put_rule(name: str, data: rules.RuleIn, ctx: Ctx, response: Response) -> Any:
    """Create or replace a threshold rule; it applies to the next observations."""
    rule, created = rules.put_rule(ctx, name=name, data=data)
    return ORJSONResponse(rule, status_code=201 if created else 200)


@router.delete("/rules/{name}", status_code=204)
def delete_rule(name: str, ctx: Ctx) -> Response:
    """Remove a threshold rule (alerts it raised stay)."""
    rules.delete_rule(ctx, name=name)
    return Response(status_code=204)


class RetentionIn(BaseModel):
    """How long one entity type's history is kept (raw values, then the rollups aggregates read)."""

    raw_days: int = Field(ge=1, le=36_500)
    rollup_days: int = Field(ge=1, le=36_500)


@router.get("/retention", response_class=ORJSONResponse)
def list_retention(ctx: Ctx) -> Any:
    """History retention per entity type, and the defaults for the other types."""
    return ORJSONResponse(temporal.list_retention(ctx))


@router.put("/retention/{entity_type}", response_class=ORJSONResponse)
def put_retention(entity_type: str, data: RetentionIn, ctx: Ctx) -> Any:
    """Set one entity type's retention; the next retention pass applies it."""
    temporal.set_retention(ctx, entity_type=entity_type, raw_days=data.raw_days, rollup_days=data.rollup_days)
    return ORJSONResponse({"entity_type": entity_type, **data.model_dump()})


@router.get("/events")
async def events(request: Request, topics: str = "observation.batch,alert.raised,alert.cleared") -> StreamingResponse:
    """Server-sent events from the live layer (observation batches and alerts) for portal pages."""
    wanted = {t.strip() for t in topics.split(",") if t.strip()}
    feed = request.app.state.context_feed

    async def stream():  # noqa: ANN202
        entry = feed.listen()
        try:
            yield b": connected\n\n"
            while not await request.is_disconnected():
                try:
                    topic, payload = await asyncio.wait_for(entry[1].get(), timeout=15)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                if topic in wanted:
                    yield b"event: " + topic.encode() + b"\ndata: " + dumps(payload) + b"\n\n"
        finally:
            feed.leave(entry)

    return stopping.event_stream(request, stream())
