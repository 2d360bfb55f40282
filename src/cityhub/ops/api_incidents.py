"""HTTP door for incidents under /api/v1/ops/incidents (operators and agencies) and /api/v1/ops/reports (citizens)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Header, Request

from cityhub.http import Ctx, ORJSONResponse
from cityhub.ops import idempotency
from cityhub.ops import service_incidents as svc
from cityhub.ops.schemas import IncidentCreate, NoteCreate, Transition

router = APIRouter(prefix="/api/v1/ops", tags=["ops: incidents"])


def _once(ctx: Ctx, request: Request, key: str | None, body: Any, work: Any) -> ORJSONResponse:
    """Run `work` once per Idempotency-Key; a replay answers as the first time did."""
    status, out, replayed = idempotency.run_once(
        ctx, key=key, print_=idempotency.fingerprint(request.method, request.url.path, body), work=work)
    response = ORJSONResponse(out, status_code=status)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@router.post("/incidents", response_class=ORJSONResponse, status_code=201)
def report_incident(ctx: Ctx, request: Request, data: IncidentCreate,
                    idempotency_key: str | None = Header(default=None)) -> Any:
    """Report an incident (112/119 agencies, operators). 201 when new; 200 when linked to an open incident of
    the same type nearby (duplicate detection). Send an Idempotency-Key to make retries safe."""
    def work() -> tuple[int, Any]:
        incident, new = svc.report_incident(ctx, data=data)
        body = incident.model_dump(mode="json")
        body["linked_to_existing"] = not new
        return (201 if new else 200), body

    return _once(ctx, request, idempotency_key, data.model_dump(mode="json"), work)


@router.post("/reports", response_class=ORJSONResponse, status_code=201)
def citizen_report(ctx: Ctx, data: IncidentCreate) -> Any:
    """A signed-in citizen reports an incident; the answer is a receipt only."""
    return ORJSONResponse(svc.citizen_report(ctx, data=data), status_code=201)


@router.get("/incidents", response_class=ORJSONResponse)
def list_incidents(ctx: Ctx, state: str | None = None, type: str | None = None,  # noqa: A002
                   open: bool = False, district: str | None = None, limit: int = 50,  # noqa: A002
                   offset: int = 0) -> Any:
    """Incidents newest first (operators: all; agencies: those they take part in)."""
    return svc.list_incidents(ctx, state=state, type=type, open_only=open, district=district, limit=limit,
                              offset=offset)


@router.get("/incidents/{incident_id}", response_class=ORJSONResponse)
def get_incident(ctx: Ctx, incident_id: str) -> Any:
    """One incident with its timeline."""
    return svc.get_incident(ctx, incident_id=incident_id)


@router.get("/incidents/{incident_id}/timeline", response_class=ORJSONResponse)
def timeline(ctx: Ctx, incident_id: str) -> Any:
    """Every change of the incident: who, when, from which state to which."""
    return svc.list_timeline(ctx, incident_id=incident_id)


@router.post("/incidents/{incident_id}/transitions", response_class=ORJSONResponse)
def transition(ctx: Ctx, request: Request, incident_id: str, data: Transition,
               idempotency_key: str | None = Header(default=None)) -> Any:
    """Advance the incident one step (409 names the allowed transitions when a step is skipped or reversed)."""
    def work() -> tuple[int, Any]:
        return 200, svc.transition(ctx, incident_id=incident_id, data=data).model_dump(mode="json")

    return _once(ctx, request, idempotency_key, data.model_dump(mode="json"), work)


@router.post("/incidents/{incident_id}/notes", response_class=ORJSONResponse, status_code=201)
def add_note(ctx: Ctx, incident_id: str, data: NoteCreate) -> Any:
    """Add a note to the incident's timeline."""
    return ORJSONResponse(svc.add_note(ctx, incident_id=incident_id, data=data).model_dump(mode="json"),
                          status_code=201)
