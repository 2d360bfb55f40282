"""Native catalog API: datasets, resources, search with facets, file downloads."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import FileResponse

from cityhub.catalog import grants, service
from cityhub.catalog.schemas import (
    FACET_FIELDS,
    DatasetCreate,
    DatasetPublic,
    DatasetSearch,
    DatasetSearchResult,
    DatasetUpdate,
    ResourceCreate,
    ResourcePublic,
    ResourceUpdate,
)
from cityhub.errors import Invalid
from cityhub.http import Ctx

router = APIRouter(prefix="/api/v1", tags=["catalog"])


def parse_filters(pairs: list[str]) -> dict[str, list[str]]:
    """`field:value` pairs (repeatable) → {field: [values]}."""
    out: dict[str, list[str]] = {}
    for pair in pairs:
        field, sep, value = pair.partition(":")
        if not sep or field not in FACET_FIELDS:
            raise Invalid.field("filter", f"{pair!r}: use field:value with field one of {', '.join(FACET_FIELDS)}")
        out.setdefault(field, []).append(value)
    return out


@router.get("/datasets", response_model=DatasetSearchResult)
def search(
    ctx: Ctx,
    q: str | None = None,
    filter: list[str] = Query(default=[], description="field:value, e.g. organization:transport, theme:safety"),
    sort: str = "relevance",
    limit: int = Query(default=20, ge=0, le=1000),
    offset: int = Query(default=0, ge=0),
    facets: bool = True,
    modified_since: datetime | None = None,
) -> DatasetSearchResult:
    """Search datasets (Korean works: `교통` finds `부산교통공사 버스 노선`), with facets."""
    query = DatasetSearch(q=q, filters=parse_filters(filter), sort=sort, limit=limit, offset=offset, facets=facets,
                          modified_since=modified_since)
    return service.search_datasets(ctx, query=query)


@router.post("/datasets", response_model=DatasetPublic, status_code=201)
def create_dataset(body: DatasetCreate, ctx: Ctx) -> DatasetPublic:
    """Create a dataset."""
    return service.create_dataset(ctx, data=body)


@router.get("/datasets/{id_or_name}", response_model=DatasetPublic)
def show_dataset(id_or_name: str, ctx: Ctx) -> DatasetPublic:
    """One dataset with its resources."""
    return service.get_dataset(ctx, id_or_name=id_or_name)


@router.patch("/datasets/{id_or_name}", response_model=DatasetPublic)
def patch_dataset(id_or_name: str, body: DatasetUpdate, ctx: Ctx) -> DatasetPublic:
    """Change some of a dataset's metadata."""
    return service.update_dataset(ctx, id_or_name=id_or_name, data=body)


@router.delete("/datasets/{id_or_name}", status_code=204)
def delete_dataset(id_or_name: str, ctx: Ctx) -> None:
    """Delete a dataset (it leaves search and lists)."""
    service.delete_dataset(ctx, id_or_name=id_or_name)


@router.post("/datasets/{id_or_name}/resources", response_model=ResourcePublic, status_code=201)
def create_resource(
    id_or_name: str,
    ctx: Ctx,
    upload: UploadFile | None = File(default=None),
    name: str | None = Form(default=None),
    description: str | None = Form(default=None),
    format: str | None = Form(default=None),
    url: str | None = Form(default=None),
) -> ResourcePublic:
    """Upload a file (multipart field `upload`) or add a link; tabular files load into the datastore."""
    data = ResourceCreate(name=name, description=description, format=format, url=url)
    return service.create_resource(ctx, dataset=id_or_name, data=data,
                                   upload=upload.file if upload else None,
                                   filename=upload.filename if upload else None)


@router.get("/resources/{resource_id}", response_model=ResourcePublic)
def show_resource(resource_id: str, ctx: Ctx) -> ResourcePublic:
    """One resource."""
    return service.get_resource(ctx, resource_id=resource_id)


@router.patch("/resources/{resource_id}", response_model=ResourcePublic)
def patch_resource(resource_id: str, body: ResourceUpdate, ctx: Ctx) -> ResourcePublic:
    """Change a resource's name, description, format or link."""
    return service.update_resource(ctx, resource_id=resource_id, data=body)


@router.delete("/resources/{resource_id}", status_code=204)
def delete_resource(resource_id: str, ctx: Ctx) -> None:
    """Remove a resource."""
    service.delete_resource(ctx, resource_id=resource_id)


@router.get("/resources/{resource_id}/file")
def download_file(resource_id: str, ctx: Ctx) -> FileResponse:
    """The uploaded file as it was uploaded."""
    res, path = service.resource_file(ctx, resource_id=resource_id)
    return FileResponse(path, media_type=res.mimetype or "application/octet-stream",
                        filename=_download_name(res))


def _download_name(res: ResourcePublic) -> str:
    name = res.name or res.id
    ext = (res.format or "").lower()
    return name if not ext or name.lower().endswith("." + ext) else f"{name}.{ext}"


@router.get("/datasets/{id_or_name}/grants", response_model=list[grants.GrantPublic])
def list_grants(id_or_name: str, ctx: Ctx) -> list[grants.GrantPublic]:
    """Organizations and users allowed to read a restricted dataset."""
    return grants.list_grants(ctx, dataset=id_or_name)


@router.post("/datasets/{id_or_name}/grants", response_model=grants.GrantPublic, status_code=201)
def grant_access(id_or_name: str, body: grants.GrantCreate, ctx: Ctx) -> grants.GrantPublic:
    """Allow a named organization or user to read a dataset."""
    return grants.grant_access(ctx, dataset=id_or_name, data=body)


@router.delete("/datasets/{id_or_name}/grants/{grant_id}", status_code=204)
def revoke_access(id_or_name: str, grant_id: str, ctx: Ctx) -> None:
    """Withdraw a grant."""
    grants.revoke_access(ctx, dataset=id_or_name, grant_id=grant_id)
