"""Open-standards doors: DCAT-AP catalog and dataset records (ckanext-dcat URLs) and Frictionless data packages.

These routes are mounted before the portal's pages, so `/dataset/{slug}.ttl` and
`/dataset/{slug}/datapackage.json` answer here and never reach the `/dataset/{slug}` page.
Every answer comes from the catalog services, which apply the access policy: a dataset the caller
may not see is neither listed nor counted, and its own URL answers 404.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import Response

from cityhub.catalog import dcat, service
from cityhub.catalog.api import parse_filters
from cityhub.catalog.ckan_envelope import SearchQueryError
from cityhub.catalog.ckan_fq import parse_fq
from cityhub.catalog.datapackage import data_package
from cityhub.catalog.schemas import DatasetSearch, DatasetSearchResult
from cityhub.ctx import RequestContext
from cityhub.errors import Invalid, NotFound
from cityhub.http import Ctx, ORJSONResponse

router = APIRouter(tags=["open data exports"])


def _site(ctx: RequestContext) -> str:
    return ctx.settings.site_url.rstrip("/")


def _catalog_query(q: str | None, fq: list[str], filters: list[str], modified_since: datetime | None,
                   page: int) -> DatasetSearch | None:
    """ckanext-dcat's parameters (`q` and `fq` in CKAN's Solr forms) plus our own `filter=field:value`;
    None when the filters can match no dataset (e.g. `dataset_type:harvest`)."""
    try:
        parsed = parse_fq(fq, q)
    except SearchQueryError as exc:
        raise Invalid.field("fq", str(exc)) from None
    chosen = parse_filters(filters)
    for field, values in parsed.filters.items():
        chosen.setdefault(field, []).extend(values)
    since = max((d for d in (modified_since, parsed.modified_since) if d), default=None)
    words = " ".join(parsed.words) or None
    if parsed.nothing:
        return None
    return DatasetSearch(q=words, filters=chosen, exclude=parsed.exclude, modified_since=since,
                         modified_until=parsed.modified_until, sort="relevance" if words else "modified",
                         limit=dcat.PAGE_SIZE, offset=(page - 1) * dcat.PAGE_SIZE, facets=False)


def _catalog_endpoint(ext: str):  # noqa: ANN202 - a route factory, one per serialization
    def catalog(
        ctx: Ctx,
        page: int = Query(default=1, ge=1, description="100 datasets per page (Hydra paging)"),
        modified_since: datetime | None = Query(default=None, description="only datasets changed since (ISO 8601)"),
        q: str | None = Query(default=None, description="full-text search, as on the portal (CKAN field terms too)"),
        fq: list[str] = Query(default=[], description="CKAN filter query, e.g. organization:x, tags:y"),
        filter: list[str] = Query(default=[], description="field:value, e.g. organization:x, theme:transport"),
    ) -> Response:
        query = _catalog_query(q, fq, filter, modified_since, page)
        found = service.search_datasets(ctx, query=query) if query else DatasetSearchResult(items=[], total=0)
        params = [(k, v) for k, v in (("q", q), ("modified_since", modified_since and modified_since.isoformat()))
                  if v]
        query_string = urlencode([*params, *(("fq", f) for f in fq), *(("filter", f) for f in filter)])
        url = f"{_site(ctx)}/catalog.{ext}" + (f"?{query_string}" if query_string else "")
        paging = dcat.Page(url=url, number=page, total=found.total)
        if page > paging.last:
            raise NotFound(f"page {page} is past the last page ({paging.last})")
        graph = dcat.catalog_graph(_site(ctx), ctx.settings.site_title, found.items, paging)
        body, media = dcat.serialize(graph, ext)
        return Response(body, media_type=media)

    catalog.__doc__ = f"The DCAT-AP 3 catalog as {dcat.SERIALIZATIONS[ext][0]}, 100 datasets a page."
    return catalog


def _dataset_endpoint(ext: str):  # noqa: ANN202
    def dataset(slug: str, ctx: Ctx) -> Response:
        ds = service.get_dataset(ctx, id_or_name=slug)
        body, media = dcat.serialize(dcat.dataset_graph(_site(ctx), ds), ext)
        return Response(body, media_type=media)

    dataset.__doc__ = f"One dataset's DCAT-AP 3 record as {dcat.SERIALIZATIONS[ext][0]} (404 if not visible)."
    return dataset


for _ext in dcat.SERIALIZATIONS:
    router.add_api_route(f"/catalog.{_ext}", _catalog_endpoint(_ext), methods=["GET"],
                         name=f"catalog_{_ext}", response_class=Response)
    router.add_api_route(f"/dataset/{{slug}}.{_ext}", _dataset_endpoint(_ext), methods=["GET"],
                         name=f"dataset_{_ext}", response_class=Response)


@router.get("/dataset/{slug}/datapackage.json", response_class=ORJSONResponse)
def datapackage(slug: str, ctx: Ctx) -> ORJSONResponse:
    """The dataset as a Frictionless data package, with a Table Schema for each datastore table."""
    ds = service.get_dataset(ctx, id_or_name=slug)
    return ORJSONResponse(data_package(ctx, ds), media_type="application/json")
