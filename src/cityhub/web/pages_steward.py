"""The steward's form: create a dataset and upload its files with a progress indicator.

The form posts to the native API (POST /api/v1/datasets, then each file to
/api/v1/datasets/{name}/resources with XHR upload progress), so the page and the API share one path.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from cityhub.auth import policy
from cityhub.auth import service as auth_service
from cityhub.catalog import service as catalog
from cityhub.catalog.models import THEMES
from cityhub.catalog.schemas import ACCESS_LEVELS, FREQUENCIES
from cityhub.errors import Forbidden, NotFound, Unauthenticated
from cityhub.http import Ctx
from cityhub.web.templating import mark_page, render

router = APIRouter(dependencies=[Depends(mark_page)])

# Korea Open Government License types (공공누리) first, then the usual open licenses.
LICENSES = ("KOGL-1", "KOGL-2", "KOGL-3", "KOGL-4", "CC-BY-4.0", "CC-BY-SA-4.0", "CC0-1.0", "ODC-ODbL", "other")


@router.get("/dataset/new")
def new_dataset(request: Request, ctx: Ctx) -> Response:
    """The form for a new dataset, listing the organizations the steward publishes for."""
    if not ctx.actor.is_authenticated:
        raise Unauthenticated("sign in to publish a dataset")
    orgs = [o for o in auth_service.list_organizations(ctx).items if policy.can(ctx, "dataset.create", o.id)]
    if not orgs:
        raise Forbidden("you do not publish datasets for any organization")
    return render(request, "dataset_new.html", orgs=orgs, themes=THEMES, access_levels=ACCESS_LEVELS,
                  licenses=LICENSES, frequencies=FREQUENCIES, dataset=None)


@router.get("/dataset/{slug}/resource/new")
def new_resource(slug: str, request: Request, ctx: Ctx) -> Response:
    """Add files to an existing dataset (CKAN's address for it)."""
    ds = catalog.get_dataset(ctx, id_or_name=slug)
    ref = catalog.get_dataset_ref(ctx, id_or_name=slug)
    if not policy.can(ctx, "resource.create", ref):
        if not ctx.actor.is_authenticated:
            raise Unauthenticated("sign in to add files")
        raise Forbidden("you may not add files to this dataset")
    if ds.state == "deleted":
        raise NotFound(f"dataset {slug!r} not found")
    return render(request, "dataset_new.html", orgs=[], themes=THEMES, access_levels=ACCESS_LEVELS,
                  licenses=LICENSES, frequencies=FREQUENCIES, dataset=ds)
