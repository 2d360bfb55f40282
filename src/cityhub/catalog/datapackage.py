"""Frictionless data packages (https://specs.frictionlessdata.io/data-package/) of our datasets.

A datastore-backed resource is described by its datastore CSV download (UTF-8, the typed columns) and a
Table Schema, so `frictionless validate` checks every row against the column types; any other file is
described as uploaded, with its size and SHA-256 so the download can be verified.
"""

from __future__ import annotations

import re
from typing import Any

from cityhub.catalog import dcat
from cityhub.catalog.schemas import DatasetPublic, ResourcePublic
from cityhub.ctx import RequestContext
from cityhub.errors import NotFound

# Datastore column types → Table Schema field types.
FIELD_TYPES = {
    "integer": "integer", "number": "number", "boolean": "boolean", "date": "date", "datetime": "datetime",
    "text": "string", "geometry": "geojson",
}
LICENSE_TITLES = {
    "KOGL-1": "공공누리 제1유형 (출처표시) · KOGL Type 1 (attribution)",
    "KOGL-2": "공공누리 제2유형 (출처표시, 상업적 이용금지) · KOGL Type 2",
    "KOGL-3": "공공누리 제3유형 (출처표시, 변경금지) · KOGL Type 3",
    "KOGL-4": "공공누리 제4유형 (출처표시, 상업적 이용금지, 변경금지) · KOGL Type 4",
}
_NOT_NAME = re.compile(r"[^-a-z0-9.]+")


def package_name(text: str, fallback: str) -> str:
    """A Frictionless name (lowercase letters, digits, `-._`) made from a slug or a file name."""
    name = _NOT_NAME.sub("-", text.lower()).strip("-.")
    return name or fallback


def _license(site: str, license_id: str) -> dict[str, str]:
    out = {"name": license_id, "path": str(dcat.license_uri(site, license_id))}
    if license_id in LICENSE_TITLES:
        out["title"] = LICENSE_TITLES[license_id]
    return out


def _datastore_columns(ctx: RequestContext, res: ResourcePublic) -> list[tuple[str, str]] | None:
    """(name, datastore type) of each column of a resource's datastore table, `_id` included."""
    if not res.datastore_active:
        return None
    from cityhub.datastore import service as datastore

    try:
        info = datastore.info(ctx, resource_id=res.id)
    except NotFound:  # flagged active but its table is gone: describe the uploaded file instead
        return None
    return [(f["id"], f["type"]) for f in info.fields]


def datastore_csv_url(site: str, res: ResourcePublic) -> str:
    return f"{site}/api/v1/datastore/{res.id}/download.csv"


def table_schema(columns: list[tuple[str, str]]) -> dict[str, Any]:
    """A Table Schema for datastore columns; the row id is the primary key."""
    fields = [{"name": name, "type": FIELD_TYPES.get(kind, "string")} for name, kind in columns]
    schema: dict[str, Any] = {"fields": fields, "missingValues": [""]}
    if any(name == "_id" for name, _ in columns):
        schema["primaryKey"] = ["_id"]
    return schema


def _resource(ctx: RequestContext, site: str, res: ResourcePublic, name: str) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "title": res.name}
    if res.description:
        out["description"] = res.description
    columns = _datastore_columns(ctx, res)
    if columns is not None:
        out.update(path=datastore_csv_url(site, res), profile="tabular-data-resource", format="csv",
                   mediatype="text/csv", encoding="utf-8", schema=table_schema(columns))
        if res.download_url:  # the file as it was uploaded, before typing
            out["sources"] = [{"title": f"uploaded file: {res.name}", "path": res.download_url}]
        return out
    out["path"] = res.download_url if res.url_type == "upload" and res.download_url else res.url
    if res.format:
        out["format"] = res.format.lower()
    if mime := dcat.media_type(res):
        out["mediatype"] = mime
    if res.size is not None:
        out["bytes"] = res.size
    if res.sha256:
        out["hash"] = f"sha256:{res.sha256}"
    return out


def data_package(ctx: RequestContext, ds: DatasetPublic) -> dict[str, Any]:
    """The Frictionless descriptor of a dataset the caller may read (visibility is checked by the caller)."""
    site = ctx.settings.site_url.rstrip("/")
    package: dict[str, Any] = {
        "name": package_name(ds.name, "dataset"),
        "id": f"{site}/dataset/{ds.id}",
        "title": ds.title,
        "homepage": f"{site}/dataset/{ds.name}",
        "created": ds.created_at.isoformat(),
        "keywords": ds.keywords,
    }
    if ds.notes or ds.notes_en:
        package["description"] = "\n\n".join(t for t in (ds.notes, ds.notes_en) if t)
    if ds.title_en:
        package["title"] = f"{ds.title} · {ds.title_en}" if ds.title_en != ds.title else ds.title
    if ds.version:
        package["version"] = ds.version
    if ds.license_id:
        package["licenses"] = [_license(site, ds.license_id)]
    if ds.organization:
        package["contributors"] = [{"title": ds.organization.title, "role": "publisher",
                                    "path": f"{site}/organization/{ds.organization.name}"}]
    resources: list[dict[str, Any]] = []
    taken: set[str] = set()
    for i, res in enumerate(r for r in ds.resources if r.download_url or r.url):
        name = package_name(res.name.rsplit(".", 1)[0] if "." in res.name else res.name, f"resource-{i + 1}")
        if name in taken:
            name = f"{name}-{i + 1}"
        taken.add(name)
        resources.append(_resource(ctx, site, res, name))
    package["resources"] = resources
    if resources and all(r.get("profile") == "tabular-data-resource" for r in resources):
        package["profile"] = "tabular-data-package"
    return package
