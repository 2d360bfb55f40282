"""Organization pages: the list of publishers and one publisher with its datasets."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from cityhub.auth import service as auth_service
from cityhub.catalog import service as catalog
from cityhub.catalog.schemas import DatasetSearch
from cityhub.http import Ctx
from cityhub.web.pages_dataset import search_page
from cityhub.web.templating import mark_page, render

router = APIRouter(dependencies=[Depends(mark_page)])


@router.get("/organization")
def organization_list(request: Request, ctx: Ctx, q: str | None = None) -> Response:
    """Every publishing organization with the number of datasets the visitor may see."""
    orgs = auth_service.list_organizations(ctx, q=(q or "").strip() or None).items
    counts = catalog.search_datasets(
        ctx, query=DatasetSearch(limit=0, facet_fields=["organization"], facet_limit=100_000, full=False)
    ).facets.get("organization", {})
    return render(request, "organization_list.html", orgs=orgs, counts=counts, q=q or "")


@router.get("/organization/{name}")
def organization_page(name: str, request: Request, ctx: Ctx) -> Response:
    """An organization's description and its datasets, searchable with facets."""
    org = auth_service.show_organization(ctx, id_or_name=name)
    return search_page(request, ctx, template="organization.html", base=f"/organization/{org.name}",
                       fixed={"organization": org.name}, org=org)
