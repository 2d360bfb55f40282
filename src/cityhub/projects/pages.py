"""Pages of the major-projects tracker: /projects (all projects) and /projects/{slug} (one, with its Gantt)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from cityhub.board import i18n as board_i18n
from cityhub.board.sources import optional_module
from cityhub.errors import Invalid
from cityhub.http import Ctx
from cityhub.projects import documents
from cityhub.projects import service as svc
from cityhub.projects.schemas import STATUSES, MilestoneUpdate, ProjectPublic
from cityhub.web.templating import add_nav, mark_page, render

router = APIRouter(dependencies=[Depends(mark_page)])
board_i18n.register()
add_nav("nav.projects", "/projects", order=65)


@router.get("/projects")
def project_list(request: Request, ctx: Ctx, status: str | None = None, district: str | None = None) -> Response:
    """Every project the visitor may see, with status and progress."""
    everything = svc.list_projects(ctx, limit=1000)
    counts = {s: sum(1 for p in everything.items if p.status == s) for s in STATUSES}
    shown = svc.list_projects(ctx, status=status or None, district=district or None, limit=1000)
    return render(request, "projects/list.html", projects=shown.items, counts=counts, status=status,
                  total=everything.total)


def gantt(project: ProjectPublic) -> dict[str, Any]:
    """Bar positions (percent of the project's span) for the Gantt view, and where today falls."""
    start, end = project.start_date, project.end_date
    for m in project.milestones or []:
        start, end = min(start, m.planned_start), max(end, m.planned_end)
    span = max((end - start).days, 1)
    bars = [{"m": m, "left": (m.planned_start - start).days / span * 100,
             "width": max((m.planned_end - m.planned_start).days / span * 100, 0.8)} for m in project.milestones or []]
    years = [y for y in range(start.year + 1, end.year + 1)]
    ticks = [{"label": str(y), "left": (date(y, 1, 1) - start).days / span * 100} for y in years]
    today = svc.today()
    now = (today - start).days / span * 100 if start <= today <= end else None
    return {"bars": bars, "ticks": ticks, "today": now, "start": start, "end": end}


def _directives(ctx: Ctx, project: ProjectPublic) -> list[dict[str, Any]] | None:
    ops = optional_module("cityhub.ops.service_directives")
    if ops is None or not hasattr(ops, "list_directives"):
        return None
    try:
        listed = ops.list_directives(ctx, project_ref=project.id)
    except Exception:  # noqa: BLE001 - not allowed or an older signature: the section says none
        return []
    return [d.model_dump(mode="json") for d in getattr(listed, "items", listed)]


@router.get("/projects/{slug}")
def project_page(request: Request, ctx: Ctx, slug: str) -> Response:
    """One project: overview, Gantt-style schedule, documents, news and directives."""
    project = svc.get_project(ctx, id_or_slug=slug)
    return render(request, "projects/detail.html", p=project, gantt=gantt(project),
                  directives=_directives(ctx, project))


@router.post("/projects/{slug}/milestones/{milestone_id}")
def milestone_form(ctx: Ctx, slug: str, milestone_id: str, progress: int = Form(...)) -> Response:
    """The department reports a milestone's progress from the page."""
    if not 0 <= progress <= 100:
        raise Invalid.field("progress", "between 0 and 100")
    svc.update_milestone(ctx, id_or_slug=slug, milestone_id=milestone_id, data=MilestoneUpdate(progress=progress))
    return RedirectResponse(f"/projects/{slug}#milestones", status_code=303)


@router.post("/projects/{slug}/documents")
def document_form(ctx: Ctx, slug: str, upload: UploadFile | None = File(default=None),
                  name: str | None = Form(default=None)) -> Response:
    """The department uploads a document from the page."""
    if upload is None or not upload.filename:
        raise Invalid.field("upload", "choose a file")
    documents.add_document(ctx, id_or_slug=slug, upload=upload.file, filename=upload.filename, name=name or None)
    return RedirectResponse(f"/projects/{slug}#documents", status_code=303)
