"""HTTP door for directives (업무지시) under /api/v1/ops/directives."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from cityhub.http import Ctx, ORJSONResponse
from cityhub.ops import service_directives as svc
from cityhub.ops.schemas import DirectiveCreate, DirectiveNoteCreate

router = APIRouter(prefix="/api/v1/ops/directives", tags=["ops: directives"])


@router.post("", response_class=ORJSONResponse, status_code=201)
def issue(ctx: Ctx, data: DirectiveCreate) -> Any:
    """Issue a directive to a department, linked to an incident or a project, with a due time."""
    return ORJSONResponse(svc.issue_directive(ctx, data=data).model_dump(mode="json"), status_code=201)


@router.get("", response_class=ORJSONResponse)
def list_directives(ctx: Ctx, department: str | None = None, state: str | None = None, overdue: bool | None = None,
                    incident: str | None = None, limit: int = 50, offset: int = 0) -> Any:
    """Directives by due time; overdue=true lists the late ones."""
    return svc.list_directives(ctx, department=department, state=state, overdue=overdue, incident_id=incident,
                               limit=limit, offset=offset)


@router.get("/{directive_id}", response_class=ORJSONResponse)
def get_directive(ctx: Ctx, directive_id: str) -> Any:
    """One directive with its acknowledgement, progress notes and completion."""
    return svc.get_directive(ctx, directive_id=directive_id)


@router.post("/{directive_id}/acknowledge", response_class=ORJSONResponse)
def acknowledge(ctx: Ctx, directive_id: str) -> Any:
    """The department acknowledges the directive."""
    return svc.acknowledge(ctx, directive_id=directive_id)


@router.post("/{directive_id}/progress", response_class=ORJSONResponse)
def progress(ctx: Ctx, directive_id: str, data: DirectiveNoteCreate) -> Any:
    """A progress note and percentage."""
    return svc.report_progress(ctx, directive_id=directive_id, data=data)


@router.post("/{directive_id}/complete", response_class=ORJSONResponse)
def complete(ctx: Ctx, directive_id: str, data: DirectiveNoteCreate) -> Any:
    """Report the directive done."""
    return svc.complete(ctx, directive_id=directive_id, data=data)
