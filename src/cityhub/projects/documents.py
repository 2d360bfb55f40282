"""Project documents: uploaded files (plans, reports, minutes) kept content-addressed on disk.

Uploads stream through the catalog's `store_upload` (size limit, SHA-256); the stored file is then
linked into the data dir's own `project-files/` folder, because the catalog's files folder is swept of
anything no catalog resource references.
"""

from __future__ import annotations

import mimetypes
import os
import shutil
from pathlib import Path
from typing import BinaryIO

from cityhub.auth import policy
from cityhub.catalog.files import store_upload
from cityhub.ctx import RequestContext
from cityhub.errors import Invalid, NotFound
from cityhub.projects.models import ProjectDocument
from cityhub.projects.schemas import DocumentPublic
from cityhub.projects.service import _document_public, _editable, _load, _refresh, ref


def documents_dir(settings) -> Path:  # noqa: ANN001
    return settings.data_dir / "project-files"


def _keep(settings, relative: str) -> None:  # noqa: ANN001
    """Hard-link (or copy) the stored upload into the projects' own folder."""
    source = settings.files_dir / relative
    target = documents_dir(settings) / relative
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".part")
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copy2(source, tmp)
    os.replace(tmp, target)


def add_document(ctx: RequestContext, *, id_or_slug: str, upload: BinaryIO, filename: str,
                 name: str | None = None) -> DocumentPublic:
    """Attach an uploaded file to a project (the responsible department)."""
    p = _editable(ctx, id_or_slug)
    clean = Path(filename or "").name.strip()
    if not clean:
        raise Invalid.field("upload", "a file name is required")
    stored = store_upload(ctx.settings, upload)
    _keep(ctx.settings, stored.relative_path)
    doc = ProjectDocument(project_id=p.id, name=(name or clean)[:300], filename=clean[:300],
                          mimetype=mimetypes.guess_type(clean)[0] or "application/octet-stream",
                          size=stored.size, sha256=stored.sha256, file_path=stored.relative_path,
                          uploaded_by=ctx.actor.user_id)
    ctx.db.add(doc)
    _refresh(ctx, p, "document")
    return _document_public(p, doc)


def open_document(ctx: RequestContext, *, id_or_slug: str, document_id: str) -> tuple[DocumentPublic, Path]:
    """A document and the path of its file, for whoever may read the project."""
    p = _load(ctx, id_or_slug)
    policy.require(ctx, "project.read", ref(p))
    doc = ctx.db.get(ProjectDocument, document_id)
    if doc is None or doc.project_id != p.id:
        raise NotFound(f"document {document_id} not found in project {p.slug}")
    path = documents_dir(ctx.settings) / doc.file_path
    if not path.exists():
        raise NotFound(f"the file of document {document_id} is missing")
    return _document_public(p, doc), path


def delete_document(ctx: RequestContext, *, id_or_slug: str, document_id: str) -> None:
    """Remove a document (its file stays while another document shares the same content)."""
    p = _editable(ctx, id_or_slug)
    doc = ctx.db.get(ProjectDocument, document_id)
    if doc is None or doc.project_id != p.id:
        raise NotFound(f"document {document_id} not found in project {p.slug}")
    ctx.db.delete(doc)
    _refresh(ctx, p, "document")
