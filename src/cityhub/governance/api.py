"""Audit trail API: admins search and export; nothing here (or anywhere) edits it."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict

from cityhub.governance import audit
from cityhub.http import Ctx

router = APIRouter(prefix="/api/v1/audit", tags=["governance"])


class AuditPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    at: datetime
    actor_user_id: str | None
    actor_email: str | None
    actor_role: str | None
    action: str
    resource_kind: str | None
    resource_id: str | None
    outcome: str
    ip: str | None
    request_id: str | None
    detail: dict | None


class AuditList(BaseModel):
    items: list[AuditPublic]
    total: int


@router.get("", response_model=AuditList)
def search_audit(
    ctx: Ctx, actor: str | None = None, action: str | None = Query(default=None, description="glob, e.g. dataset.*"),
    resource: str | None = None, outcome: str | None = None, since: datetime | None = None,
    until: datetime | None = None, limit: int = Query(default=100, le=1000), offset: int = 0,
) -> AuditList:
    """Search the audit trail (admins)."""
    rows, total = audit.search(ctx, actor=actor, action=action, resource=resource, outcome=outcome, since=since,
                               until=until, limit=limit, offset=offset)
    return AuditList(items=[AuditPublic.model_validate(r) for r in rows], total=total)


@router.get("/export.csv")
def export_audit(ctx: Ctx, actor: str | None = None, action: str | None = None, outcome: str | None = None,
                 since: datetime | None = None, until: datetime | None = None) -> StreamingResponse:
    """The audit trail as CSV (admins)."""
    # Gathered before the response starts: the request's session closes when the endpoint returns.
    lines = list(audit.export_csv(ctx, actor=actor, action=action, outcome=outcome, since=since, until=until))
    return StreamingResponse(iter(lines), media_type="text/csv",
                             headers={"content-disposition": 'attachment; filename="audit.csv"'})
