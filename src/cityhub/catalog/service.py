"""Catalog services: datasets and their resources, search, and the refs other domains use."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from cityhub.auth import policy
from cityhub.auth.models import Organization, new_id
from cityhub.auth.service import get_org
from cityhub.catalog import files, search
from cityhub.catalog.models import Dataset, DatasetKeyword, Resource
from cityhub.catalog.refs import DatasetRef, ResourceRef
from cityhub.catalog.schemas import (
    TABULAR_FORMATS,
    DatasetCreate,
    DatasetList,
    DatasetPublic,
    DatasetSearch,
    DatasetSearchResult,
    DatasetUpdate,
    OrganizationSummary,
    ResourceCreate,
    ResourcePublic,
    ResourceUpdate,
)
from cityhub.ctx import RequestContext
from cityhub.db import utcnow
from cityhub.errors import CityhubError, Conflict, Invalid, NotFound
from cityhub.governance.audit import note
from cityhub.governance.guard import personal_guard

policy.declare("dataset.read", "dataset.create", "dataset.update", "dataset.delete", "resource.create",
               "resource.update", "resource.delete", "datastore.read")

FORMAT_BY_EXT = {
    ".csv": "CSV", ".tsv": "TSV", ".txt": "TXT", ".xlsx": "XLSX", ".xls": "XLS", ".json": "JSON",
    ".geojson": "GeoJSON", ".parquet": "Parquet", ".pdf": "PDF", ".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG",
    ".gif": "GIF", ".svg": "SVG", ".mp3": "MP3", ".wav": "WAV", ".ogg": "OGG", ".zip": "ZIP", ".xml": "XML",
    ".hwp": "HWP", ".docx": "DOCX", ".shp": "SHP",
}


# --- loading rows with access checks ------------------------------------------------------------


def _find_dataset(db: Session, id_or_name: str) -> Dataset | None:
    return db.get(Dataset, id_or_name) or db.scalar(select(Dataset).where(Dataset.name == id_or_name))


def _hide_denied(ctx: RequestContext, id_or_name: str, action: str) -> Dataset:
    """Load a dataset for `action`. One the actor may not read is reported as not found (after the
    denial is recorded), so its existence never leaks; one it may read but not change is Forbidden."""
    ds = _find_dataset(ctx.db, id_or_name)
    if ds is None or (ds.state == "deleted" and not ctx.actor.is_admin):
        raise NotFound(f"dataset {id_or_name!r} not found")
    if not policy.can(ctx, "dataset.read", ds):
        try:
            policy.require(ctx, "dataset.read", ds)
        except CityhubError:
            pass
        raise NotFound(f"dataset {id_or_name!r} not found")
    if action not in ("dataset.read", "resource.read"):
        policy.require(ctx, action, ds)
    elif ds.access_level != "public":
        note(ctx, action, resource_kind="dataset", resource_id=ds.id)
    return ds


def dataset_ref(ds: Dataset) -> DatasetRef:
    return DatasetRef(id=ds.id, name=ds.name, title=ds.title, access_level=ds.access_level,
                      owner_org_id=ds.owner_org_id)


def _resource_ref(ctx: RequestContext, res: Resource, ds: Dataset) -> ResourceRef:
    return ResourceRef(
        id=res.id, dataset_id=ds.id, dataset_name=ds.name, name=res.name, format=res.format,
        file_path=files.absolute(ctx.settings, res.file_path), datastore_table=res.datastore_table,
        row_count=res.row_count, dataset=dataset_ref(ds),
    )


# --- public shapes ---------------------------------------------------------------------------------


def _resource_public(ctx: RequestContext, res: Resource) -> ResourcePublic:
    out = ResourcePublic.model_validate(res)
    if res.url_type == "upload":
        out.download_url = f"{ctx.settings.site_url}/dataset/{res.dataset_id}/resource/{res.id}/download"
        out.url = out.url or out.download_url
    return out


def to_public(ctx: RequestContext, datasets: list[Dataset], *, with_resources: bool = True) -> list[DatasetPublic]:
    """Serialise datasets with their organization, keywords and resources in three queries, not 3×N."""
    if not datasets:
        return []
    ids = [d.id for d in datasets]
    org_ids = {d.owner_org_id for d in datasets if d.owner_org_id}
    orgs = ({o.id: o for o in ctx.db.scalars(select(Organization).where(Organization.id.in_(org_ids)))}
            if org_ids else {})
    keywords: dict[str, list[str]] = {}
    for ds_id, word in ctx.db.execute(
        select(DatasetKeyword.dataset_id, DatasetKeyword.keyword).where(DatasetKeyword.dataset_id.in_(ids))
        .order_by(DatasetKeyword.keyword)
    ):
        keywords.setdefault(ds_id, []).append(word)
    resources: dict[str, list[ResourcePublic]] = {}
    if with_resources:
        for res in ctx.db.scalars(
            select(Resource).where(Resource.dataset_id.in_(ids), Resource.state == "active")
            .order_by(Resource.position, Resource.created_at)
        ):
            resources.setdefault(res.dataset_id, []).append(_resource_public(ctx, res))
    out = []
    for ds in datasets:
        pub = DatasetPublic.model_validate(ds)
        pub.keywords = keywords.get(ds.id, [])
        pub.resources = resources.get(ds.id, [])
        org = orgs.get(ds.owner_org_id or "")
        pub.organization = OrganizationSummary.model_validate(org) if org else None
        out.append(pub)
    return out


# --- datasets ------------------------------------------------------------------------------------


def _apply_fields(ctx: RequestContext, ds: Dataset, values: dict) -> list[str] | None:
    keywords = values.pop("keywords", None)
    owner = values.pop("owner_org", None)
    if owner is not None:
        org = get_org(ctx.db, owner)
        if not policy.can(ctx, "dataset.create", org.id):
            policy.require(ctx, "dataset.create", org.id)
        ds.owner_org_id = org.id
    for key, value in values.items():
        setattr(ds, key, value)
    if ds.temporal_start and ds.temporal_end and ds.temporal_start > ds.temporal_end:
        raise Invalid.field("temporal_end", "must not be before temporal_start")
    return keywords


def _set_keywords(db: Session, ds: Dataset, keywords: list[str]) -> None:
    db.execute(delete(DatasetKeyword).where(DatasetKeyword.dataset_id == ds.id))
    db.add_all(DatasetKeyword(dataset_id=ds.id, keyword=k) for k in keywords)


def _keywords_of(db: Session, ds: Dataset) -> list[str]:
    return list(db.scalars(select(DatasetKeyword.keyword).where(DatasetKeyword.dataset_id == ds.id)))


def _touch(ctx: RequestContext, ds: Dataset, event: str = "dataset.updated") -> None:
    ds.modified_at = utcnow()
    ctx.db.flush()
    org_title = ctx.db.scalar(select(Organization.title).where(Organization.id == ds.owner_org_id))
    search.reindex(ctx.db, ds, org_title, _keywords_of(ctx.db, ds))
    ctx.publish(event, {"id": ds.id, "name": ds.name, "access_level": ds.access_level,
                        "owner_org_id": ds.owner_org_id})


def create_dataset(ctx: RequestContext, *, data: DatasetCreate) -> DatasetPublic:
    """Create a dataset in an organization the actor edits for."""
    org = get_org(ctx.db, data.owner_org)
    policy.require(ctx, "dataset.create", org.id)
    if ctx.db.scalar(select(Dataset.id).where(Dataset.name == data.name)):
        raise Conflict(f"dataset name {data.name!r} is taken", details={"name": ["That URL is already in use."]})
    values = data.model_dump(exclude_unset=False, exclude_none=True)
    ds = Dataset(id=new_id(), name=data.name, title=data.title, creator_user_id=ctx.actor.user_id,
                 created_at=utcnow())
    keywords = _apply_fields(ctx, ds, values)
    ctx.db.add(ds)
    ctx.db.flush()
    _set_keywords(ctx.db, ds, keywords or [])
    _touch(ctx, ds, "dataset.created")
    return to_public(ctx, [ds])[0]


def get_dataset(ctx: RequestContext, *, id_or_name: str, count_view: bool = False) -> DatasetPublic:
    """One dataset by id or name; a dataset the actor may not read is reported as not found."""
    ds = _hide_denied(ctx, id_or_name, "dataset.read")
    if count_view:
        ds.view_count = (ds.view_count or 0) + 1
    return to_public(ctx, [ds])[0]


def get_dataset_ref(ctx: RequestContext, *, id_or_name: str, action: str = "dataset.read") -> DatasetRef:
    """An access-checked reference to a dataset, for other domains."""
    return dataset_ref(_hide_denied(ctx, id_or_name, action))


def update_dataset(ctx: RequestContext, *, id_or_name: str, data: DatasetUpdate,
                   replace: bool = False) -> DatasetPublic:
    """Change a dataset's metadata. `replace` resets omitted optional fields (CKAN package_update)."""
    ds = _hide_denied(ctx, id_or_name, "dataset.update")
    values = data.model_dump(exclude_unset=not replace)
    if replace:
        values = {k: v for k, v in values.items() if v is not None or k not in ("title", "owner_org", "access_level",
                                                                                  "state", "synthetic")}
        values.setdefault("keywords", [])
        if values.get("extras") is None:
            values["extras"] = {}
    keywords = _apply_fields(ctx, ds, values)
    if ds.access_level == "public":
        personal_guard(ctx, dataset_id=ds.id)  # untreated personal data keeps a dataset non-public
    if keywords is not None:
        _set_keywords(ctx.db, ds, keywords)
    _touch(ctx, ds)
    return to_public(ctx, [ds])[0]


def delete_dataset(ctx: RequestContext, *, id_or_name: str) -> None:
    """Mark a dataset deleted: it leaves search and lists, its rows stay for audit and undo."""
    ds = _hide_denied(ctx, id_or_name, "dataset.delete")
    ds.state = "deleted"
    ds.modified_at = utcnow()
    search.unindex(ctx.db, ds.id)
    ctx.db.flush()
    ctx.publish("dataset.deleted", {"id": ds.id, "name": ds.name})


def search_datasets(ctx: RequestContext, *, query: DatasetSearch) -> DatasetSearchResult:
    """Full-text search with filters and facets over the datasets the actor may see."""
    ids, total, facets = search.run_search(ctx, query)
    rows = {d.id: d for d in ctx.db.scalars(select(Dataset).where(Dataset.id.in_(ids)))} if ids else {}
    items = to_public(ctx, [rows[i] for i in ids if i in rows], with_resources=query.full)
    return DatasetSearchResult(items=items, total=total, facets=facets)


def list_datasets(ctx: RequestContext, *, limit: int = 100, offset: int = 0) -> DatasetList:
    """Active datasets the actor may see, newest first."""
    result = search_datasets(ctx, query=DatasetSearch(sort="modified", limit=limit, offset=offset, facets=False))
    return DatasetList(items=result.items, total=result.total)


def list_dataset_names(ctx: RequestContext, *, limit: int | None = None, offset: int = 0,
                       public_only: bool = True) -> list[str]:
    """Names of active datasets (CKAN package_list: public ones)."""
    conds = search.base_conditions(ctx, DatasetSearch(include_private=not public_only))
    stmt = select(Dataset.name).where(*conds).order_by(Dataset.name).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(ctx.db.scalars(stmt))


def count_by_theme(ctx: RequestContext) -> dict[str, int]:
    """Visible active datasets per theme (home page)."""
    conds = search.base_conditions(ctx, DatasetSearch())
    rows = ctx.db.execute(select(Dataset.theme, func.count()).where(*conds).group_by(Dataset.theme)).all()
    return {theme: n for theme, n in rows if theme}


# --- resources -------------------------------------------------------------------------------------


def _guess_format(filename: str | None, given: str | None) -> str | None:
    if given:
        return given.strip().upper() if given.strip().upper() != "GEOJSON" else "GeoJSON"
    if filename:
        return FORMAT_BY_EXT.get(Path(filename).suffix.lower())
    return None


def create_resource(
    ctx: RequestContext, *, dataset: str, data: ResourceCreate, upload: BinaryIO | None = None,
    filename: str | None = None,
) -> ResourcePublic:
    """Add a file (uploaded) or a link to a dataset; tabular files are loaded into the datastore."""
    ds = _hide_denied(ctx, dataset, "resource.create")
    if upload is None and not data.url:
        raise Invalid.field("upload", "give a file to upload or a url")
    fmt = _guess_format(filename or data.url, data.format)
    position = ctx.db.scalar(select(func.count()).where(Resource.dataset_id == ds.id)) or 0
    res = Resource(dataset_id=ds.id, name=data.name or filename or data.url or "resource",
                   description=data.description, format=fmt, url=data.url, position=position,
                   mimetype=data.mimetype or (mimetypes.guess_type(filename or "")[0] if filename else None))
    stored = None
    if upload is not None:
        stored = files.store_upload(ctx.settings, upload)
        res.url_type, res.file_path, res.sha256, res.size = "upload", stored.relative_path, stored.sha256, stored.size
    tabular = bool(stored and fmt and fmt.upper() in TABULAR_FORMATS)
    res.id = new_id()
    ctx.db.add(res)
    if not tabular:  # the datastore flushes it after loading a big file lock-free (see load_resource)
        ctx.db.flush()
    try:
        if tabular:
            from cityhub.datastore import service as datastore

            ref = _resource_ref(ctx, res, ds)
            loaded = datastore.load_resource(ctx, resource=ref, path=files.absolute(ctx.settings, res.file_path))
            res.datastore_active, res.datastore_table = True, loaded.table
            res.row_count = loaded.row_count
    except BaseException:
        _forget_file(ctx, stored, res.id)
        raise
    _touch(ctx, ds)
    ctx.publish("resource.created", {"id": res.id, "dataset_id": ds.id})
    return _resource_public(ctx, res)


def _forget_file(ctx: RequestContext, stored: files.StoredFile | None, resource_id: str) -> None:
    """Remove an upload nobody else references (a failed import leaves nothing behind)."""
    if stored is None:
        return
    others = ctx.db.scalar(select(func.count()).where(Resource.sha256 == stored.sha256, Resource.id != resource_id))
    if not others:
        path = files.absolute(ctx.settings, stored.relative_path)
        if path and path.exists():
            path.unlink()


def _load_resource(ctx: RequestContext, resource_id: str, action: str) -> tuple[Resource, Dataset]:
    res = ctx.db.get(Resource, resource_id)
    if res is None or res.state != "active":
        raise NotFound(f"resource {resource_id!r} not found")
    try:
        ds = _hide_denied(ctx, res.dataset_id, action)
    except NotFound:
        raise NotFound(f"resource {resource_id!r} not found") from None
    return res, ds


def get_resource(ctx: RequestContext, *, resource_id: str) -> ResourcePublic:
    """One resource; not found when its dataset is invisible to the actor."""
    res, _ = _load_resource(ctx, resource_id, "resource.read")
    return _resource_public(ctx, res)


def update_resource(ctx: RequestContext, *, resource_id: str, data: ResourceUpdate) -> ResourcePublic:
    """Change a resource's name, description, format or link."""
    res, ds = _load_resource(ctx, resource_id, "resource.update")
    for key, value in data.model_dump(exclude_unset=True).items():
        setattr(res, key, value)
    res.modified_at = utcnow()
    _touch(ctx, ds)
    return _resource_public(ctx, res)


def delete_resource(ctx: RequestContext, *, resource_id: str) -> None:
    """Remove a resource from its dataset (and its datastore table)."""
    res, ds = _load_resource(ctx, resource_id, "resource.delete")
    res.state = "deleted"
    if res.datastore_table:
        from cityhub.datastore import service as datastore

        datastore.drop_table(ctx, table=res.datastore_table)
        res.datastore_active, res.datastore_table = False, None
    _touch(ctx, ds)


def authorize_resource(ctx: RequestContext, *, resource_id: str, action: str = "datastore.read") -> ResourceRef:
    """An access-checked reference to a resource for other domains (datastore, SQL, exports)."""
    res, ds = _load_resource(ctx, resource_id, action)
    return _resource_ref(ctx, res, ds)


def mark_datastore(ctx: RequestContext, *, resource_id: str, table: str | None, row_count: int | None) -> None:
    """Record that a resource's rows live in (or left) the datastore; announces the dataset change."""
    res, ds = _load_resource(ctx, resource_id, "datastore.write")
    res.datastore_active, res.datastore_table, res.row_count = table is not None, table, row_count
    res.modified_at = utcnow()
    _touch(ctx, ds)


def replace_resource_file(ctx: RequestContext, *, resource_id: str, path: Path, format: str) -> None:
    """Swap a resource's stored file for another (governance stores the masked copy here, so the
    original with personal data is no longer served); the old file goes when nothing else uses it."""
    res, ds = _load_resource(ctx, resource_id, "datastore.write")
    old = files.StoredFile(relative_path=res.file_path, sha256=res.sha256, size=res.size) if res.file_path else None
    with path.open("rb") as fh:
        stored = files.store_upload(ctx.settings, fh)
    res.file_path, res.sha256, res.size, res.format = stored.relative_path, stored.sha256, stored.size, format
    res.url_type, res.modified_at = "upload", utcnow()
    ctx.db.flush()
    if old is not None and old.sha256 != stored.sha256:
        _forget_file(ctx, old, res.id)


def readable_resources(ctx: RequestContext) -> list[ResourceRef]:
    """Every datastore-backed resource the actor may read (the SQL sandbox's table list)."""
    conds = search.base_conditions(ctx, DatasetSearch())
    rows = ctx.db.execute(
        select(Resource, Dataset).join(Dataset, Dataset.id == Resource.dataset_id)
        .where(Resource.datastore_active.is_(True), Resource.state == "active", *conds)
    ).all()
    return [_resource_ref(ctx, res, ds) for res, ds in rows]


def resource_file(ctx: RequestContext, *, resource_id: str) -> tuple[ResourcePublic, Path]:
    """The stored file of an uploaded resource, for downloads."""
    res, _ = _load_resource(ctx, resource_id, "dataset.download")
    path = files.absolute(ctx.settings, res.file_path)
    if path is None or not path.exists():
        raise NotFound("this resource has no stored file")
    return _resource_public(ctx, res), path
