"""Catalog sink for harvests: remote CKAN dataset dicts become datasets here, publisher kept.

Each harvested dataset records where it came from in its extras (`harvest_source`, `harvest_remote_id`,
`harvest_remote_modified`), so an unchanged dataset is recognised and left alone, and one withdrawn
upstream is withdrawn here. Its publisher organization is created here when missing, under the same
name and title.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from cityhub.auth import service as auth_service
from cityhub.auth.schemas import OrganizationCreate
from cityhub.catalog import service as catalog
from cityhub.catalog.schemas import DatasetCreate, DatasetUpdate, ResourceCreate
from cityhub.collect.connectors.base import Connector, Page
from cityhub.collect.models import Source
from cityhub.collect.upsert import UpsertCounts
from cityhub.ctx import RequestContext
from cityhub.errors import NotFound


@dataclass
class CatalogSink:
    source: Source
    connector: Connector
    env: Any = None

    def prepare(self, db: Session) -> None:
        return None

    def _ctx(self, db: Session) -> RequestContext:
        from cityhub.collect.pipeline import COLLECTOR

        return RequestContext(actor=COLLECTOR, db=db, settings=self.env.settings, bus=self.env.bus)

    def write(self, db: Session, rows: list[dict[str, Any]], page: Page) -> UpsertCounts:
        ctx = self._ctx(db)
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

    def finish(self, ctx: RequestContext, *, changed: bool) -> None:
        return None


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9_-]", "-", name.lower())[:100]
