"""HTTP door for the major-projects tracker under /api/v1/projects."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import FileResponse, Response

from cityhub.errors import Invalid
from cityhub.http import Ctx, ORJSONResponse
from cityhub.projects import documents
from cityhub.projects import service as svc
from cityhub.projects.schemas import (
    LinkCreate,
    MilestoneCreate,
    MilestoneUpdate,
    ProjectCreate,
    ProjectUpdate,
)

router = APIRouter(prefix="/api/v1/projects", tags=["projects"])


def _json(model: Any, status: int = 200) -> ORJSONResponse:
    return ORJSONResponse(model.model_dump(mode="json"), status_code=status)


@router.get("", response_class=ORJSONResponse)
def list_projects(ctx: Ctx, status: str | None = None, department: str | None = None, district: str | None = None,
                  q: str | None = None, limit: int = 100, offset: int = 0) -> Any:
    """Major projects with progress and status (on_track, at_risk, delayed, completed) computed from milestones."""
    return _json(svc.list_projects(ctx, status=status, department=department, district=district, q=q,
                                   limit=min(max(limit, 0), 1000), offset=max(offset, 0)))


@router.get("/summary", response_class=ORJSONResponse)
def summary(ctx: Ctx, district: str | None = None, top: int = 6) -> Any:
    """Counts by status and the largest projects' progress (what the city board shows)."""
    return _json(svc.summarize_projects(ctx, district=district, top=min(max(top, 0), 50)))


@router.post("", response_class=ORJSONResponse, status_code=201)
def create_project(ctx: Ctx, data: ProjectCreate) -> Any:
    """Register a project for a department (its stewards and editors, or an admin)."""
    return _json(svc.create_project(ctx, data=data), 201)


@router.get("/{project}", response_class=ORJSONResponse)
def get_project(ctx: Ctx, project: str) -> Any:
    """One project (by id or slug) with milestones, documents and news links."""
    return _json(svc.get_project(ctx, id_or_slug=project))


@router.patch("/{project}", response_class=ORJSONResponse)
def update_project(ctx: Ctx, project: str, data: ProjectUpdate) -> Any:
    """Change a project's description, schedule, budget or place."""
    return _json(svc.update_project(ctx, id_or_slug=project, data=data))


@router.post("/{project}/milestones", response_class=ORJSONResponse, status_code=201)
def add_milestone(ctx: Ctx, project: str, data: MilestoneCreate) -> Any:
    """Add a milestone to the schedule."""
    return _json(svc.add_milestone(ctx, id_or_slug=project, data=data), 201)


@router.patch("/{project}/milestones/{milestone_id}", response_class=ORJSONResponse)
def update_milestone(ctx: Ctx, project: str, milestone_id: str, data: MilestoneUpdate) -> Any:
    """Report progress on a milestone (100 marks it done)."""
    return _json(svc.update_milestone(ctx, id_or_slug=project, milestone_id=milestone_id, data=data))


@router.delete("/{project}/milestones/{milestone_id}", response_class=ORJSONResponse)
def delete_milestone(ctx: Ctx, project: str, milestone_id: str) -> Any:
    """Remove a milestone."""
    return _json(svc.delete_milestone(ctx, id_or_slug=project, milestone_id=milestone_id))


@router.post("/{project}/links", response_class=ORJSONResponse, status_code=201)
def add_link(ctx: Ctx, project: str, data: LinkCreate) -> Any:
    """Add a related news link."""
    return _json(svc.add_link(ctx, id_or_slug=project, data=data), 201)


@router.delete("/{project}/links/{link_id}", status_code=204)
def delete_link(ctx: Ctx, project: str, link_id: str) -> Response:
    """Remove a news link."""
    svc.delete_link(ctx, id_or_slug=project, link_id=link_id)
    return Response(status_code=204)


@router.post("/{project}/documents", response_class=ORJSONResponse, status_code=201)
def add_document(ctx: Ctx, project: str, upload: UploadFile | None = File(default=None),
                 name: str | None = Form(default=None)) -> Any:
    """Upload a document (multipart field `upload`)."""
    if upload is None:
        raise Invalid.field("upload", "a file is required")
    return _json(documents.add_document(ctx, id_or_slug=project, upload=upload.file,
                                        filename=upload.filename or "", name=name), 201)


@router.get("/{project}/documents/{document_id}/file")
def download_document(ctx: Ctx, project: str, document_id: str) -> FileResponse:
    """The document's file."""
    doc, path = documents.open_document(ctx, id_or_slug=project, document_id=document_id)
    return FileResponse(path, media_type=doc.mimetype or "application/octet-stream", filename=doc.filename)


@router.delete("/{project}/documents/{document_id}", status_code=204)
def delete_document(ctx: Ctx, project: str, document_id: str) -> Response:
    """Remove a document."""
    documents.delete_document(ctx, id_or_slug=project, document_id=document_id)
    return Response(status_code=204)
