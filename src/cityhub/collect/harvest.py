"""Catalog sink for harvests: remote CKAN dataset dicts become datasets here, publisher kept.

Each harvested dataset records where it came from in its extras (`harvest_source`, `harvest_remote_id`,
`harvest_remote_modified`), so an unchanged dataset is recognised and left alone, and one withdrawn
upstream is withdrawn here. Its publisher organization is created here when missing, under the same
name and title.

Pages of DataStore rows (`page.resource` set) go into the typed table of the local resource harvested
from that remote resource (found by its dataset and URL), keyed by the remote `_id` (column
`harvest_row_id`); rows missing from the remote `_id` range a page covers are deleted. The last page
of a resource records the table in the catalog, so datastore_search and the CKAN API serve it here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from cityhub.auth import service as auth_service
from cityhub.auth.schemas import OrganizationCreate
from cityhub.catalog import service as catalog
from cityhub.catalog.schemas import DatasetCreate, DatasetUpdate, ResourceCreate
from cityhub.collect import upsert
from cityhub.collect.connectors.base import Connector, Page
from cityhub.collect.mapping import FieldSpec
from cityhub.collect.models import Source
from cityhub.collect.upsert import UpsertCounts
from cityhub.ctx import RequestContext
from cityhub.errors import NotFound

# The remote row id (`_id` upstream) of harvested DataStore rows, and CKAN's type names in ours.
ROW_KEY = "harvest_row_id"
CKAN_TYPES = {"int": "integer", "int4": "integer", "int8": "integer", "integer": "integer", "numeric": "number",
              "float8": "number", "number": "number", "bool": "boolean", "boolean": "boolean", "date": "date",
              "timestamp": "datetime", "datetime": "datetime", "text": "text"}


def _specs(fields: list[tuple[str, str]]) -> list[FieldSpec]:
    return [FieldSpec.model_construct(name=name, type=kind) for name, kind in fields]


@dataclass
class CatalogSink:
    source: Source
    connector: Connector
    env: Any = None
    _fed: dict[str, Any] = field(default_factory=dict)

    def prepare(self, db: Session) -> None:
        return None

    def _ctx(self, db: Session) -> RequestContext:
        from cityhub.collect.pipeline import COLLECTOR

        return RequestContext(actor=COLLECTOR, db=db, settings=self.env.settings, bus=self.env.bus)

    def write(self, db: Session, rows: list[dict[str, Any]], page: Page) -> UpsertCounts:
        ctx = self._ctx(db)
        if page.resource is not None:
            return self._rows(ctx, rows, page.resource)
        counts = UpsertCounts()
        harvested = dict((self.source.state or {}).get("harvested") or {})
        for remote in rows:
            outcome, local = self._one(ctx, remote)
            harvested[remote["name"]] = local
            setattr(counts, outcome, getattr(counts, outcome) + 1)
        for gone in page.deleted:
            try:
                catalog.delete_dataset(ctx, id_or_name=gone["local"])
                counts.updated += 1
            except NotFound:
                pass
            harvested.pop(gone["name"], None)
        self.source.state = {**(self.source.state or {}), "harvested": harvested}
        return counts

    def _publisher(self, ctx: RequestContext, remote: dict[str, Any]) -> str:
        org = remote.get("organization") or {}
        name = org.get("name") or f"{self.source.name}-publisher"
        try:
            return auth_service.get_org(ctx.db, name).name
        except NotFound:
            created = auth_service.create_organization(ctx, data=OrganizationCreate(
                name=name, title=org.get("title") or name, description=org.get("description"), kind="public_body"))
            return created.name

    def _fields(self, remote: dict[str, Any]) -> dict[str, Any]:
        cfg = self.connector.config
        extras = {e["key"]: e["value"] for e in remote.get("extras") or [] if isinstance(e, dict) and "key" in e}
        extras.update({"harvest_source": self.source.name, "harvest_remote_id": remote.get("id"),
                       "harvest_remote_modified": remote.get("metadata_modified"),
                       "harvest_url": f"{cfg.url.rstrip('/')}/dataset/{remote.get('name')}"})
        keywords = [t["name"] for t in remote.get("tags") or [] if isinstance(t, dict) and t.get("name")]
        return {"title": remote.get("title") or remote["name"], "notes": remote.get("notes"),
                "license_id": remote.get("license_id"), "keywords": keywords, "extras": extras,
                "author": remote.get("author"), "maintainer": remote.get("maintainer"),
                "version": remote.get("version"), "url": remote.get("url") or extras["harvest_url"],
                "theme": getattr(cfg, "theme", None),
                "access_level": "restricted" if remote.get("private") else "public"}

    def _one(self, ctx: RequestContext, remote: dict[str, Any]) -> tuple[str, str]:
        local_name = _slug(f"{self.connector.config.name_prefix}{remote['name']}")
        fields = self._fields(remote)
        try:
            existing = catalog.get_dataset(ctx, id_or_name=local_name)
        except NotFound:
            existing = None
        if existing is None:
            owner = self._publisher(ctx, remote)
            catalog.create_dataset(ctx, data=DatasetCreate(name=local_name, owner_org=owner, **fields))
            self._resources(ctx, local_name, remote, [])
            return "inserted", local_name
        if existing.extras.get("harvest_remote_modified") == remote.get("metadata_modified") \
                and existing.state == "active":
            return "unchanged", local_name
        owner = self._publisher(ctx, remote)
        catalog.update_dataset(ctx, id_or_name=local_name, data=DatasetUpdate(owner_org=owner, state="active",
                                                                               **fields))
        self._resources(ctx, local_name, remote, [r.url for r in existing.resources])
        return "updated", local_name

    def _resources(self, ctx: RequestContext, name: str, remote: dict[str, Any], have: list[str | None]) -> None:
        for res in remote.get("resources") or []:
            url = res.get("url")
            if not url or url in have:
                continue
            catalog.create_resource(ctx, dataset=name, data=ResourceCreate(
                name=res.get("name") or url, description=res.get("description"), format=res.get("format") or None,
                url=url, mimetype=res.get("mimetype")))

    def _local_resource(self, ctx: RequestContext, remote: dict[str, Any]) -> str | None:
        local_name = _slug(f"{self.connector.config.name_prefix}{remote['dataset']}")
        try:
            dataset = catalog.get_dataset(ctx, id_or_name=local_name)
        except NotFound:
            return None
        return next((r.id for r in dataset.resources if r.url == remote.get("url") and r.state == "active"), None)

    def _rows(self, ctx: RequestContext, rows: list[dict[str, Any]], remote: dict[str, Any]) -> UpsertCounts:
        local = self._local_resource(ctx, remote)
        if local is None:  # the dataset was refused or withdrawn here: nothing to fill
            return UpsertCounts(unchanged=len(rows))
        conn = ctx.db.connection()
        fields = [(ROW_KEY, "integer"), *[(f["id"], CKAN_TYPES.get(str(f.get("type")), "text"))
                                          for f in remote["fields"] if f["id"] != ROW_KEY]]
        if self._fed.get(local) is None or self._fed[local][0] != fields:  # once per resource and run
            self._fed[local] = (fields, upsert.ensure_table(conn, local, _specs(fields), [ROW_KEY], resource_id=local))
        fed = self._fed[local][1]
        counts = upsert.upsert_rows(conn, fed, [{**{k: v for k, v in r.items() if k != "_id"}, ROW_KEY: r["_id"]}
                                                for r in rows], [ROW_KEY])
        counts.updated += upsert.delete_missing(conn, fed, ROW_KEY, above=remote["after"], upto=remote["until"],
                                                keep=[r["_id"] for r in rows])
        if remote["until"] is None:  # the resource's last page: registry count and catalog follow
            upsert.ensure_table(conn, local, _specs(fields), [ROW_KEY], resource_id=local)
            catalog.mark_datastore(ctx, resource_id=local, table=local, row_count=upsert.count_rows(conn, fed))
            self._fed.pop(local, None)
        return counts

    def finish(self, ctx: RequestContext, *, changed: bool) -> None:
        return None


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9_-]", "-", name.lower())[:100]
