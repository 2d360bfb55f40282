"""Directives (업무지시): the mayor's office assigns work to a department, linked to an incident or a project,
with a due time; the department acknowledges, reports progress and completes; overdue ones stand out.

Projects may live in another domain (or not exist yet): a directive keeps a project reference string.
Events: `directive.issued`, `directive.acknowledged`, `directive.progress`, `directive.completed`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from cityhub.auth import policy
from cityhub.auth import service as auth_service
from cityhub.auth.models import Organization
from cityhub.ctx import RequestContext
from cityhub.db import utcnow
from cityhub.errors import Conflict, Invalid, NotFound
from cityhub.ops.models import Directive, DirectiveNote, Incident
from cityhub.ops.schemas import DirectiveCreate, DirectiveList, DirectiveNoteCreate, DirectivePublic

STATES = ("issued", "acknowledged", "in_progress", "completed")
NEXT = {"issued": ("acknowledged",), "acknowledged": ("in_progress", "completed"),
        "in_progress": ("in_progress", "completed"), "completed": ()}


def _public(d: Directive, dept: str, notes: list[DirectiveNote] | None = None) -> DirectivePublic:
    now = utcnow()
    return DirectivePublic(
        id=d.id, title=d.title, body=d.body, incident_id=d.incident_id, project_ref=d.project_ref, department=dept,
        due_at=d.due_at, state=d.state, progress=d.progress, overdue=d.state != "completed" and d.due_at < now,
        issued_by=d.issued_by, created_at=d.created_at, acknowledged_at=d.acknowledged_at,
        completed_at=d.completed_at,
        notes=None if notes is None else [{"at": n.at.isoformat(), "kind": n.kind, "text": n.text,
                                           "progress": n.progress, "author_id": n.author_id} for n in notes])


def _event(d: Directive, dept: str) -> dict[str, Any]:
    return {"id": d.id, "title": d.title, "department": dept, "state": d.state, "progress": d.progress,
            "due_at": d.due_at.isoformat(), "incident_id": d.incident_id, "project_ref": d.project_ref}


def issue_directive(ctx: RequestContext, *, data: DirectiveCreate) -> DirectivePublic:
    """Assign a directive to a department (operators of the mayor's office / control centre)."""
    policy.require(ctx, "directive.issue")
    try:
        dept = auth_service.get_org(ctx.db, data.department)
    except NotFound:
        raise Invalid.field("department", f"no organization {data.department!r}") from None
    if data.incident_id and ctx.db.get(Incident, data.incident_id) is None:
        raise Invalid.field("incident_id", f"no incident {data.incident_id}")
    if not data.incident_id and not data.project_ref:
        raise Invalid.field("incident_id", "link the directive to an incident or a project (project_ref)")
    d = Directive(title=data.title, body=data.body, incident_id=data.incident_id, project_ref=data.project_ref,
                  department_org_id=dept.id, due_at=data.due_at, issued_by=ctx.actor.user_id, created_at=utcnow())
    ctx.db.add(d)
    ctx.db.flush()
    ctx.publish("directive.issued", _event(d, dept.name))
    return _public(d, dept.name)


def _load(ctx: RequestContext, directive_id: str, action: str) -> tuple[Directive, str]:
    d = ctx.db.get(Directive, directive_id)
    if d is None:
        raise NotFound(f"directive {directive_id} not found")
    policy.require(ctx, action, d.department_org_id)
    dept = ctx.db.get(Organization, d.department_org_id)
    return d, dept.name if dept else d.department_org_id


def get_directive(ctx: RequestContext, *, directive_id: str) -> DirectivePublic:
    """One directive with its notes (operators; members of the department)."""
    d, dept = _load(ctx, directive_id, "directive.read")
    notes = list(ctx.db.scalars(select(DirectiveNote).where(DirectiveNote.directive_id == d.id)
                                .order_by(DirectiveNote.id)))
    return _public(d, dept, notes)


def _move(ctx: RequestContext, directive_id: str, to: str, data: DirectiveNoteCreate | None) -> DirectivePublic:
    d, dept = _load(ctx, directive_id, "directive.update")
    if to not in NEXT[d.state]:
        allowed = ", ".join(NEXT[d.state]) or "none"
        raise Conflict(f"a directive that is {d.state} cannot become {to}; allowed: {allowed}",
                       details={"state": [f"allowed from {d.state}: {allowed}"]})
    now = utcnow()
    d.state = to
    if to == "acknowledged":
        d.acknowledged_at = now
    if data is not None and data.progress is not None:
        d.progress = data.progress
    if to == "completed":
        d.completed_at, d.progress = now, 100
    kind = {"acknowledged": "acknowledged", "in_progress": "progress", "completed": "completed"}[to]
    ctx.db.add(DirectiveNote(directive_id=d.id, at=now, author_id=ctx.actor.user_id, kind=kind,
                             text=data.text if data else None, progress=d.progress))
    ctx.db.flush()
    ctx.publish(f"directive.{kind}", _event(d, dept))
    return _public(d, dept)


def acknowledge(ctx: RequestContext, *, directive_id: str) -> DirectivePublic:
    """The department has seen the directive."""
    return _move(ctx, directive_id, "acknowledged", None)


def report_progress(ctx: RequestContext, *, directive_id: str, data: DirectiveNoteCreate) -> DirectivePublic:
    """A progress note (and percentage) from the department."""
    if not data.text and data.progress is None:
        raise Invalid.field("text", "give a note or a progress percentage")
    return _move(ctx, directive_id, "in_progress", data)


def complete(ctx: RequestContext, *, directive_id: str, data: DirectiveNoteCreate) -> DirectivePublic:
    """The department reports the directive done."""
    return _move(ctx, directive_id, "completed", data)


def list_directives(ctx: RequestContext, *, department: str | None = None, state: str | None = None,
                    overdue: bool | None = None, incident_id: str | None = None, open_only: bool = False,
                    limit: int = 50, offset: int = 0) -> DirectiveList:
    """Directives by due time: all for operators, a department's own for its members; overdue=true lists late ones."""
    policy.require(ctx, "directive.list")
    conds = []
    if ctx.actor.role not in ("admin", "operator"):
        conds.append(Directive.department_org_id.in_(sorted(ctx.actor.org_ids)))
    if department:
        conds.append(Directive.department_org_id == auth_service.get_org(ctx.db, department).id)
    if state:
        conds.append(Directive.state == state)
    if open_only:
        conds.append(Directive.state != "completed")
    if incident_id:
        conds.append(Directive.incident_id == incident_id)
    if overdue is not None:
        late = (Directive.state != "completed") & (Directive.due_at < utcnow())
        conds.append(late if overdue else ~late)
    total = ctx.db.scalar(select(func.count()).select_from(Directive).where(*conds)) or 0
    rows = ctx.db.execute(select(Directive, Organization.name).join(Organization,
                                                                    Organization.id == Directive.department_org_id)
                          .where(*conds).order_by(Directive.due_at, Directive.id).limit(min(limit, 500)).offset(offset))
    return DirectiveList(items=[_public(d, name) for d, name in rows], total=total)
