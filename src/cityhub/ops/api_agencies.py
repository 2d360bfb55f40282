"""HTTP door for agencies and their delivery log under /api/v1/ops/agencies and /api/v1/ops/deliveries."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from cityhub.http import Ctx, ORJSONResponse
from cityhub.ops import service_agencies as svc
from cityhub.ops.schemas import AgencyCreate, AgencyUpdate

router = APIRouter(prefix="/api/v1/ops", tags=["ops: agencies"])


@router.post("/agencies", response_class=ORJSONResponse, status_code=201)
def create_agency(ctx: Ctx, data: AgencyCreate) -> Any:
    """Register an agency (admins)."""
    return ORJSONResponse(svc.create_agency(ctx, data=data).model_dump(mode="json"), status_code=201)


@router.get("/agencies", response_class=ORJSONResponse)
def list_agencies(ctx: Ctx) -> Any:
    """Agencies (operators: all; an agency: itself)."""
    return {"items": svc.list_agencies(ctx)}


@router.patch("/agencies/{code}", response_class=ORJSONResponse)
def update_agency(ctx: Ctx, code: str, data: AgencyUpdate) -> Any:
    """Change an agency's webhook, linked incident types or active flag (admins)."""
    return svc.update_agency(ctx, code=code, data=data)


@router.post("/agencies/{code}/credentials", response_class=ORJSONResponse, status_code=201)
def issue_credentials(ctx: Ctx, code: str) -> Any:
    """A new API token for the agency and its webhook signing secret, shown once (admins)."""
    return ORJSONResponse(svc.issue_credentials(ctx, code=code).model_dump(mode="json"), status_code=201)


@router.get("/deliveries", response_class=ORJSONResponse)
def list_deliveries(ctx: Ctx, status: str | None = None, incident: str | None = None, limit: int = 50,
                    offset: int = 0) -> Any:
    """The delivery log; status=dead lists the dead letters."""
    return svc.list_deliveries(ctx, status=status, incident_id=incident, limit=limit, offset=offset)


@router.post("/deliveries/{delivery_id}/retry", response_class=ORJSONResponse)
def retry_delivery(ctx: Ctx, delivery_id: int) -> Any:
    """Queue a dead letter again (operators)."""
    return svc.retry_delivery(ctx, delivery_id=delivery_id)
