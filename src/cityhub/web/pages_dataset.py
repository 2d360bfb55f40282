"""Dataset pages: search with facets (`/dataset`), one dataset (`/dataset/{slug}`) and file downloads."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from cityhub.auth import policy
from cityhub.auth import service as auth_service
from cityhub.catalog import service as catalog
from cityhub.catalog.schemas import ResourcePublic
from cityhub.ctx import RequestContext
from cityhub.datastore import service as datastore
from cityhub.errors import CityhubError, NotFound
from cityhub.http import Ctx
from cityhub.web.dataset_view import api_snippets, resource_view
from cityhub.web.i18n import Translator
from cityhub.web.search_form import SORTS, SearchForm
from cityhub.web.templating import localized, mark_page, page_lang, render

router = APIRouter(dependencies=[Depends(mark_page)])


def facet_labeller(ctx: RequestContext, lang: str) -> Callable[[str, str], str]:
    """Human labels for facet values: organization titles, theme and access names in the visitor's language."""
    t = Translator(lang)
    orgs = {o.name: localized(o, "title", lang) for o in auth_service.list_organizations(ctx).items}

    def label(param: str, value: str) -> str:
        if param == "organization":
            return orgs.get(value, value)
        if param in ("theme", "access_level", "license_id"):
            key = {"theme": "theme", "access_level": "access", "license_id": "license"}[param] + "." + value
            key = key.lower() if param == "license_id" else key
            return t(key) if t.has(key) else value
        return value

    return label


def search_page(request: Request, ctx: RequestContext, *, template: str, base: str,
                fixed: dict[str, str] | None = None, **context: object) -> Response:
    """Run a catalog search from the URL and render it (used by /dataset and organization pages)."""
    form = SearchForm.from_params(request.query_params, fixed)
    result = catalog.search_datasets(ctx, query=form.query())
    pages = max(1, -(-result.total // form.query().limit))
    groups = form.facet_groups(base, result.facets, facet_labeller(ctx, page_lang(request)))
    return render(request, template, form=form, result=result, groups=groups, pages=pages, base=base,
                  sorts=[(s, form.sort_href(base, s)) for s in SORTS],
                  page_links=_page_links(form, base, pages), **context)


def _page_links(form: SearchForm, base: str, pages: int) -> list[tuple[int | None, str | None]]:
    """Page numbers around the current one, with None for the gaps."""
    wanted = sorted({1, pages, *range(max(1, form.page - 2), min(pages, form.page + 2) + 1)})
    out: list[tuple[int | None, str | None]] = []
    for i, number in enumerate(wanted):
        if i and number - wanted[i - 1] > 1:
            out.append((None, None))
        out.append((number, form.page_href(base, number)))
    return out


@router.get("/dataset")
def search(request: Request, ctx: Ctx) -> Response:
    """Search datasets by words (Korean works), filter by facets, sort and page."""
    return search_page(request, ctx, template="dataset_search.html", base="/dataset")


@router.get("/dataset/{slug}")
def dataset_page(slug: str, request: Request, ctx: Ctx, resource: str | None = None) -> Response:
    """A dataset: metadata in both languages, resources, preview, chart, map, API snippets, downloads."""
    ds = catalog.get_dataset(ctx, id_or_name=slug, count_view=True)
    views = [resource_view(ds, r, has_geometry=_has_geometry(ctx, r)) for r in ds.resources]
    tables = [v for v in views if v.kind == "table"]
    selected = next((v for v in tables if v.id == resource), tables[0] if tables else None)
    base_url = str(request.base_url).rstrip("/")
    can_add = policy.can(ctx, "resource.create", catalog.get_dataset_ref(ctx, id_or_name=ds.id))
    return render(request, "dataset.html", ds=ds, views=views, tables=tables, selected=selected, can_add=can_add,
                  media=[v for v in views if v.inline_href],
                  snippets=api_snippets(base_url, ds, selected.resource if selected else None))


def _has_geometry(ctx: RequestContext, res: ResourcePublic) -> bool:
    """Whether a datastore table has a geometry column (then GeoJSON is offered)."""
    if not res.datastore_active:
        return False
    try:
        fields = datastore.info(ctx, resource_id=res.id).fields
    except CityhubError:
        return False
    return any(f.get("type") == "geometry" for f in fields)


@router.get("/dataset/{slug}/resource/{resource_id}")
def resource_page(slug: str, resource_id: str, ctx: Ctx) -> Response:
    """CKAN's resource URL: the dataset page with that resource in the preview."""
    ds = catalog.get_dataset(ctx, id_or_name=slug)
    if not any(r.id == resource_id for r in ds.resources):
        raise NotFound(f"resource {resource_id!r} not found")
    return RedirectResponse(f"/dataset/{ds.name}?resource={resource_id}#preview", status_code=303)


@router.get("/dataset/{slug}/resource/{resource_id}/download")
def download(slug: str, resource_id: str, ctx: Ctx, inline: bool = False) -> Response:
    """The uploaded file as it was uploaded (inline for image, audio and PDF previews)."""
    res, path = catalog.resource_file(ctx, resource_id=resource_id)
    owner = catalog.get_dataset_ref(ctx, id_or_name=slug)
    if res.dataset_id != owner.id:
        raise NotFound(f"resource {resource_id!r} not found")
    name = res.name or res.id
    ext = (res.format or "").lower()
    if ext and not name.lower().endswith("." + ext) and "." not in name[-6:]:
        name = f"{name}.{ext}"
    return FileResponse(path, media_type=res.mimetype or "application/octet-stream", filename=name,
                        content_disposition_type="inline" if inline else "attachment")
