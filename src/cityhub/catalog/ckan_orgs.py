"""CKAN actions over organizations, groups (the city's themes) and tags.

Package counts come from the catalog's search facets, so they only count what the caller may see.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cityhub.auth import service as auth_service
from cityhub.auth.schemas import OrganizationCreate
from cityhub.catalog import service
from cityhub.catalog.ckan_actions import Call, action, validated
from cityhub.catalog.ckan_envelope import field_error
from cityhub.catalog.ckan_params import as_bool, as_int, as_list, as_str, require_str
from cityhub.catalog.ckan_shapes import THEME_TITLES, dataset_dict, group_dict, org_dict, tag_dict
from cityhub.catalog.models import THEMES
from cityhub.catalog.schemas import DatasetSearch
from cityhub.ctx import RequestContext
from cityhub.errors import NotFound


def _facet_counts(ctx: RequestContext, field: str, **filters: list[str]) -> dict[str, int]:
    query = DatasetSearch(limit=0, facet_fields=[field], facet_limit=100_000, include_private=True, full=False,
                          filters=filters)
    return service.search_datasets(ctx, query=query).facets.get(field, {})


def _listing(call: Call, items: list[Any], counts: dict[str, int], shape: Callable[[Any, int], dict],
             wanted_key: str) -> list[Any]:
    data = call.data
    all_fields = as_bool(data, "all_fields", False)
    limit = as_int(data, "limit", 25 if all_fields else 1000, maximum=1000) or 0
    offset = as_int(data, "offset", 0) or 0
    q = (as_str(data, "q") or "").lower()
    wanted = set(as_list(data, wanted_key))
    rows = [i for i in items if (not q or q in i.name.lower() or q in (i.title or "").lower())
            and (not wanted or i.name in wanted)]
    sort = (as_str(data, "sort") or "name asc").strip().lower()
    key, _, direction = sort.partition(" ")
    if key == "package_count":
        rows.sort(key=lambda i: (counts.get(i.name, 0), i.name))
    elif key in ("title", "display_name"):
        rows.sort(key=lambda i: (i.title or "").lower())
    elif key == "name":
        rows.sort(key=lambda i: i.name)
    else:
        raise field_error("sort", f"cannot sort by {key!r}; use name, title or package_count")
    if direction.strip() == "desc" or (key == "package_count" and not direction):
        rows.reverse()
    page = rows[offset:offset + limit]
    return [shape(i, counts.get(i.name, 0)) for i in page] if all_fields else [i.name for i in page]


@action("organization_list", read_only=True)
def organization_list(call: Call) -> list[Any]:
    """Organization names, or dicts with package_count (all_fields); sort, limit, offset, q."""
    orgs = auth_service.list_organizations(call.ctx, limit=100_000).items
    counts = _facet_counts(call.ctx, "organization") if as_bool(call.data, "all_fields", False) or \
        "package_count" in (as_str(call.data, "sort") or "") else {}
    return _listing(call, orgs, counts, org_dict, "organizations")


@action("organization_show", read_only=True)
def organization_show(call: Call) -> dict[str, Any]:
    """One organization (id or name); include_datasets adds its first 10 visible datasets."""
    org = auth_service.show_organization(call.ctx, id_or_name=require_str(call.data, "id"))
    include = as_bool(call.data, "include_datasets", False)
    result = service.search_datasets(call.ctx, query=DatasetSearch(
        filters={"organization": [org.name]}, limit=10 if include else 0, facets=False, sort="name",
        include_private=True))
    out = org_dict(org, package_count=result.total)
    out.update({"users": [], "extras": [], "groups": [], "tags": []})
    if include:
        out["packages"] = [dataset_dict(d) for d in result.items]
    return out


@action("organization_create")
def organization_create(call: Call) -> dict[str, Any]:
    """Create an organization (admins): name, title, description, image_url, kind."""
    d = call.data
    fields = {k: d[k] for k in ("name", "title", "title_en", "description", "image_url", "kind")
              if d.get(k) not in (None, "")}
    extras = {e.get("key"): e.get("value") for e in d.get("extras") or [] if isinstance(e, dict)}
    if "kind" not in fields and extras.get("kind"):
        fields["kind"] = extras["kind"]
    fields.setdefault("title", fields.get("name") or "")
    org = auth_service.create_organization(call.ctx, data=validated(OrganizationCreate, fields))
    return org_dict(org, package_count=0)


@dataclass(frozen=True)
class _Theme:
    name: str
    title: str


@action("group_list", read_only=True)
def group_list(call: Call) -> list[Any]:
    """Groups are the city's themes (transport, environment, …): names, or dicts with all_fields."""
    themes = [_Theme(t, THEME_TITLES.get(t, (t,))[0]) for t in THEMES]
    counts = _facet_counts(call.ctx, "theme")
    return _listing(call, themes, counts, lambda t, n: group_dict(t.name, n), "groups")


@action("group_show", read_only=True)
def group_show(call: Call) -> dict[str, Any]:
    """One theme as a CKAN group (id); include_datasets adds its first 10 visible datasets."""
    theme = require_str(call.data, "id")
    if theme not in THEMES:
        raise NotFound(f"group {theme!r} not found")
    include = as_bool(call.data, "include_datasets", False)
    result = service.search_datasets(call.ctx, query=DatasetSearch(
        filters={"theme": [theme]}, limit=10 if include else 0, facets=False, sort="name", include_private=True))
    out = group_dict(theme, result.total)
    if include:
        out["packages"] = [dataset_dict(d) for d in result.items]
    return out


@action("tag_list", read_only=True)
def tag_list(call: Call) -> list[Any]:
    """Tags (our keywords) on datasets the caller may see; query filters by a part of the name."""
    counts = _facet_counts(call.ctx, "keywords")
    query = (as_str(call.data, "query") or as_str(call.data, "q") or "").lower()
    names = sorted(n for n in counts if query in n.lower())
    if as_bool(call.data, "all_fields", False):
        return [tag_dict(n) for n in names]
    return names
