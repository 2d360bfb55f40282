"""CKAN actions over the catalog: packages, resources, organizations, groups (our themes), tags.

Each action only translates: CKAN's parameters → a catalog or auth service call → CKAN's dicts.
Access decisions, counts and facets all come from the services (policy applied there).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError
from sqlalchemy import select

from cityhub.auth.models import Organization
from cityhub.catalog import service
from cityhub.catalog.ckan_envelope import SearchQueryError, field_error, from_pydantic, validation_error
from cityhub.catalog.ckan_fq import parse_fq, parse_sort
from cityhub.catalog.ckan_params import as_bool, as_int, as_list, as_str, require_str
from cityhub.catalog.ckan_shapes import (
    THEME_TITLES,
    dataset_dict,
    package_fields,
    resource_dict,
    resource_fields,
)
from cityhub.catalog.schemas import (
    DatasetCreate,
    DatasetPublic,
    DatasetSearch,
    DatasetUpdate,
    ResourceCreate,
    ResourceUpdate,
)
from cityhub.ctx import RequestContext

CKAN_VERSION = "2.11.0"
M = TypeVar("M", bound=BaseModel)


@dataclass
class Call:
    """One action call: who asks (ctx), with which parameters, over which HTTP request."""

    ctx: RequestContext
    data: dict[str, Any]
    name: str
    request: Request
    # On the event loop: the action must answer without waiting on the database (else NeedsThread).
    on_loop: bool = False


class NeedsThread(Exception):  # noqa: N818 - a signal, not an error
    """Raised by an action running on the event loop when its answer needs real database work."""


@dataclass(frozen=True)
class Action:
    name: str
    fn: Callable[[Call], Any]
    read_only: bool


ACTIONS: dict[str, Action] = {}


def action(name: str, *, read_only: bool = False) -> Callable[[Callable[[Call], Any]], Callable[[Call], Any]]:
    """Register a CKAN action; read-only ones also answer GET (CKAN's side_effect_free)."""

    def register(fn: Callable[[Call], Any]) -> Callable[[Call], Any]:
        ACTIONS[name] = Action(name, fn, read_only)
        return fn

    return register


def validated(model: type[M], fields: dict[str, Any]) -> M:
    try:
        return model(**fields)
    except ValidationError as exc:
        raise from_pydantic(exc) from None


# --- site ------------------------------------------------------------------------------------------


@action("status_show", read_only=True)
def status_show(call: Call) -> dict[str, Any]:
    """The site's name, address, default language and CKAN compatibility level."""
    s = call.ctx.settings
    return {"site_title": s.site_title, "site_description": "도시 데이터 허브 · City data hub",
            "site_url": s.site_url, "ckan_version": CKAN_VERSION, "locale_default": s.default_locale,
            "error_emails_to": None, "extensions": ["datastore", "cityhub"]}


@action("help_show", read_only=True)
def help_show(call: Call) -> str:
    """The documentation of an action (name)."""
    name = require_str(call.data, "name")
    found = ACTIONS.get(name)
    if found is None:
        from cityhub.errors import NotFound

        raise NotFound(f"action function {name!r} does not exist")
    return (found.fn.__doc__ or name).strip()


# --- packages --------------------------------------------------------------------------------------


@action("package_list", read_only=True)
def package_list(call: Call) -> list[str]:
    """Names of active public datasets (limit, offset)."""
    limit = as_int(call.data, "limit", None)
    offset = as_int(call.data, "offset", 0) or 0
    return service.list_dataset_names(call.ctx, limit=limit, offset=offset, public_only=True)


@action("package_show", read_only=True)
def package_show(call: Call) -> bytes:
    """One dataset (id or name) with its organization, tags, extras and resources."""
    from cityhub.catalog.ckan_show import package_show_json

    return package_show_json(call.ctx, require_str(call.data, "id", "name_or_id", "name"), cached_only=call.on_loop)


# CKAN facet field → ours.
FACETS = {"organization": "organization", "owner_org": "organization", "tags": "keywords", "groups": "theme",
          "theme": "theme", "res_format": "format", "license_id": "license_id", "access_level": "access_level"}


def _facet_titles(ctx: RequestContext, field: str, values: list[str]) -> dict[str, str]:
    if field == "organization" and values:
        rows = ctx.db.execute(select(Organization.name, Organization.title).where(Organization.name.in_(values)))
        return {name: title for name, title in rows}
    if field == "groups":
        return {v: THEME_TITLES.get(v, (v,))[0] for v in values}
    return {}


def _facets(call: Call, fields: list[str], found: dict[str, dict[str, int]], mincount: int) -> tuple[dict, dict]:
    facets: dict[str, dict[str, int]] = {}
    search_facets: dict[str, dict[str, Any]] = {}
    for name in fields:
        counts = {v: c for v, c in found.get(FACETS[name], {}).items() if c >= mincount}
        titles = _facet_titles(call.ctx, name, list(counts))
        facets[name] = counts
        items = [{"name": v, "display_name": titles.get(v, v), "count": c}
                 for v, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
        search_facets[name] = {"title": name, "items": items}
    return facets, search_facets


def _search_query(data: dict[str, Any]) -> tuple[DatasetSearch | None, list[str], int, str]:
    fqs = as_list(data, "fq_list", split=False)
    if data.get("fq") not in (None, ""):
        fq = data["fq"]
        fqs = ([fq] if isinstance(fq, str) else list(fq)) + fqs
    parsed = parse_fq(fqs, as_str(data, "q"))
    sort_text = as_str(data, "sort") or "score desc, metadata_modified desc"
    facet_fields = as_list(data, "facet.field") if as_bool(data, "facet", True) else []
    unknown = [f for f in facet_fields if f not in FACETS]
    if unknown:
        raise SearchQueryError(f"cannot facet on {unknown[0]!r}; use {', '.join(FACETS)}")
    facet_limit = as_int(data, "facet.limit", 50, minimum=-1)
    mincount = as_int(data, "facet.mincount", 1) or 0
    if parsed.nothing:
        return None, facet_fields, mincount, sort_text
    try:
        query = DatasetSearch(
            q=" ".join(parsed.words) or None, filters=parsed.filters, exclude=parsed.exclude,
            modified_since=parsed.modified_since, modified_until=parsed.modified_until, sort=parse_sort(sort_text),
            limit=as_int(data, "rows", 10, maximum=1000), offset=as_int(data, "start", 0),
            facets=bool(facet_fields), facet_fields=list(dict.fromkeys(FACETS[f] for f in facet_fields)),
            facet_limit=100_000 if facet_limit == -1 else facet_limit,
            include_private=as_bool(data, "include_private", False),
            include_drafts=as_bool(data, "include_drafts", False), full=True,
        )
    except ValidationError as exc:
        raise SearchQueryError("; ".join(str(e.get("msg")) for e in exc.errors())) from None
    return query, facet_fields, mincount, sort_text


@action("package_search", read_only=True)
def package_search(call: Call) -> dict[str, Any]:
    """Search datasets: q, fq/fq_list, sort, rows, start, facet.field, facet.limit, facet.mincount,
    include_private, include_drafts, fl. Counts and facets include only what the caller may see."""
    query, facet_fields, mincount, sort_text = _search_query(call.data)
    if query is None:
        facets, search_facets = _facets(call, facet_fields, {}, mincount)
        return {"count": 0, "results": [], "facets": facets, "search_facets": search_facets, "sort": sort_text}
    result = service.search_datasets(call.ctx, query=query)
    facets, search_facets = _facets(call, facet_fields, result.facets, mincount)
    results = [dataset_dict(d) for d in result.items]
    wanted = [f for f in re.split(r"[\s,]+", as_str(call.data, "fl") or "") if f]
    if wanted:  # CKAN's `fl`: only these keys of each dataset
        results = [{k: d.get(k) for k in wanted} for d in results]
    return {"count": result.total, "results": results, "facets": facets, "search_facets": search_facets,
            "sort": sort_text}


def _sync_resources(call: Call, ds: DatasetPublic, items: Any, *, remove_missing: bool) -> None:
    """CKAN's `resources` list inside a package dict: update listed ones, add new links, drop the rest."""
    if isinstance(items, str) or not isinstance(items, list):
        raise field_error("resources", "Must be a list of resource objects")
    current = {r.id: r for r in ds.resources}
    kept: set[str] = set()
    for item in items:
        if not isinstance(item, dict):
            raise field_error("resources", "Each resource must be an object")
        fields = resource_fields(item)
        existing = current.get(item.get("id") or "")
        if existing is None:
            service.create_resource(call.ctx, dataset=ds.id, data=validated(ResourceCreate, fields))
            continue
        kept.add(existing.id)
        shown = resource_dict(existing)
        changes = {k: v for k, v in fields.items() if v != (shown.get(k) or None)}
        if changes:
            service.update_resource(call.ctx, resource_id=existing.id, data=validated(ResourceUpdate, changes))
    if remove_missing:
        for rid in current:
            if rid not in kept:
                service.delete_resource(call.ctx, resource_id=rid)


@action("package_create")
def package_create(call: Call) -> dict[str, Any]:
    """Create a dataset: name (2–100 of a-z, 0-9, - and _), owner_org, title, notes, tags [{name}],
    extras [{key, value}], groups [{name}] (our themes), private, resources (links)."""
    ds = service.create_dataset(call.ctx, data=validated(DatasetCreate, package_fields(call.data, creating=True)))
    if call.data.get("resources"):
        _sync_resources(call, ds, call.data["resources"], remove_missing=False)
    return dataset_dict(service.get_dataset(call.ctx, id_or_name=ds.id))


def _change_package(call: Call, *, replace: bool) -> dict[str, Any]:
    ident = require_str(call.data, "id", "name")
    current = service.get_dataset(call.ctx, id_or_name=ident)
    name = call.data.get("name")
    if name not in (None, current.name, current.id) and call.data.get("id"):
        raise field_error("name", "Renaming a dataset is not supported; create a new one")
    fields = package_fields(call.data, creating=False)
    service.update_dataset(call.ctx, id_or_name=current.id, data=validated(DatasetUpdate, fields), replace=replace)
    if "resources" in call.data and call.data["resources"] is not None:
        _sync_resources(call, current, call.data["resources"], remove_missing=True)
    return dataset_dict(service.get_dataset(call.ctx, id_or_name=current.id))


@action("package_update")
def package_update(call: Call) -> dict[str, Any]:
    """Replace a dataset's metadata (id): omitted fields are cleared, as in CKAN. Omitted `private`
    keeps the access level, and omitted `resources` keep the resources."""
    return _change_package(call, replace=True)


@action("package_patch")
def package_patch(call: Call) -> dict[str, Any]:
    """Change only the given fields of a dataset (id)."""
    return _change_package(call, replace=False)


@action("package_delete")
def package_delete(call: Call) -> None:
    """Mark a dataset (id) deleted: it leaves search and lists."""
    service.delete_dataset(call.ctx, id_or_name=require_str(call.data, "id", "name"))
    return None


# --- resources -------------------------------------------------------------------------------------


@action("resource_show", read_only=True)
def resource_show(call: Call) -> dict[str, Any]:
    """One resource (id); not found when its dataset is not visible to the caller."""
    return resource_dict(service.get_resource(call.ctx, resource_id=require_str(call.data, "id")))


@action("resource_create")
def resource_create(call: Call) -> dict[str, Any]:
    """Add a resource to a dataset (package_id): a file in `upload` (multipart) or a link in `url`.
    Tabular files (CSV, TSV, XLSX, JSON, GeoJSON) are loaded into the datastore."""
    package_id = require_str(call.data, "package_id")
    upload = call.data.get("upload")
    fields = resource_fields(call.data)
    if hasattr(upload, "file") and not upload.filename and not upload.size:
        upload = None  # an empty file field, as browsers send when no file was chosen
    if hasattr(upload, "file"):
        stream = upload.file
        filename = upload.filename or fields.get("name")
        fields.pop("url", None)  # CKAN replaces the url of an upload with the file's own address
        if not fields.get("name"):
            fields["name"] = filename
        res = service.create_resource(call.ctx, dataset=package_id, data=validated(ResourceCreate, fields),
                                      upload=stream, filename=filename)
    else:
        if not fields.get("url"):
            raise validation_error({"url": ["Missing value: give a url or a file in upload"]})
        res = service.create_resource(call.ctx, dataset=package_id, data=validated(ResourceCreate, fields))
    return resource_dict(res)


def _change_resource(call: Call) -> dict[str, Any]:
    if hasattr(call.data.get("upload"), "file"):
        raise field_error("upload", "Replacing a file is not supported; create a new resource instead")
    rid = require_str(call.data, "id")
    fields = resource_fields(call.data)
    return resource_dict(service.update_resource(call.ctx, resource_id=rid, data=validated(ResourceUpdate, fields)))


@action("resource_update")
def resource_update(call: Call) -> dict[str, Any]:
    """Change a resource's name, description, format, mimetype or url (id)."""
    return _change_resource(call)


@action("resource_patch")
def resource_patch(call: Call) -> dict[str, Any]:
    """Change some fields of a resource (id)."""
    return _change_resource(call)


@action("resource_delete")
def resource_delete(call: Call) -> None:
    """Remove a resource (id) and its datastore table."""
    service.delete_resource(call.ctx, resource_id=require_str(call.data, "id"))
    return None
