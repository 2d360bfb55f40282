"""Harvest another CKAN-compatible portal (a borough's CKAN, another cityhub) into this catalog.

Pages `package_search?rows=…&start=…&sort=id asc` and takes the full dataset dicts from `results`, as
ckanext-harvest does; incremental runs add `fq=metadata_modified:[<last run − 1h> TO *]`. The
watermark only moves at the end of a complete pass, so an interrupted run never skips a dataset.
After a full pass, datasets that disappeared upstream are noticed and withdrawn here.

Resources the portal serves from its DataStore bring their rows: `datastore_search` sorted by `_id`,
page by page, after the page of datasets they belong to. A resource's rows are fetched again only when
its `last_modified` moved; each page also tells which remote `_id` range it covers, so rows deleted
upstream are deleted here. The resume cursor moves past a page of datasets only once their rows are in.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
from pydantic import Field

from cityhub.collect.connectors.base import Connector, ConnectorConfig, ConnectorError, FetchContext, Page, Payload
from cityhub.collect.connectors.formats import load_json


class CkanConfig(ConnectorConfig):
    url: str = Field(description="portal base URL, e.g. https://data.district.go.kr")
    api_key: str | None = Field(default=None, description="token, for private datasets")
    organizations: list[str] = Field(default_factory=list, description="only these publishers (fq)")
    rows: int = Field(default=100, ge=1, le=1000)
    incremental: bool = True
    notice_deletions: bool = True
    name_prefix: str = Field(default="", description="prefix for local dataset names")
    theme: str | None = Field(default=None, description="theme for harvested datasets")
    datastore: bool = Field(default=True, description="also harvest the rows of resources in the portal's DataStore")
    datastore_rows: int = Field(default=1000, ge=1, le=10_000, description="rows per datastore_search page")


def _unwrap(doc: Any) -> Any:
    if not isinstance(doc, dict) or "success" not in doc:
        raise ConnectorError("not a CKAN Action API answer", code="layout_changed")
    if not doc["success"]:
        error = doc.get("error") or {}
        message = error.get("message") if isinstance(error, dict) else str(error)
        raise ConnectorError(f"CKAN error {error.get('__type', '') if isinstance(error, dict) else ''}: {message}",
                             upstream_message=str(message))
    return doc.get("result")


class CkanConnector(Connector):
    name = "ckan"
    title = "CKAN portal harvest"
    title_ko = "CKAN 포털 수집"
    Config = CkanConfig
    config: CkanConfig
    sink = "catalog"

    def secrets(self) -> tuple[str, ...]:
        return (self.config.api_key,) if self.config.api_key else ()

    def parse(self, payload: Payload) -> list[dict[str, Any]]:
        result = _unwrap(load_json(payload.body))
        if isinstance(result, dict) and "results" in result:
            return [r for r in result["results"] if isinstance(r, dict)]
        return []

    def replay(self, payloads: Iterator[Payload]) -> Iterator[Page]:
        """Datasets from package_search answers, and rows from datastore_search answers as the pages
        `_resource_rows` made: the resource's dataset and URL from the datasets replayed before it, the
        `_id` range from the request's offset and the previous page of the same resource."""
        resources: dict[str, tuple[str, str | None]] = {}  # remote resource id → (dataset name, url)
        until: dict[str, int | None] = {}  # remote resource id → last `_id` of its previous page
        for payload in payloads:
            url = httpx.URL(str(payload.request.get("url") or ""))
            if not url.path.endswith("/datastore_search"):
                records = self.parse(payload)
                for ds in records:
                    for res in ds.get("resources") or []:
                        if isinstance(res, dict) and res.get("id"):
                            resources[res["id"]] = (ds.get("name"), res.get("url"))
                yield Page(payload=None, records=records)
                continue
            page = self._replayed_rows(payload, url, resources, until)
            if page is not None:
                yield page

    @staticmethod
    def _replayed_rows(payload: Payload, url: httpx.URL, resources: dict[str, tuple[str, str | None]],
                       until: dict[str, int | None]) -> Page | None:
        res_id = url.params.get("resource_id")
        if res_id not in resources:
            return None  # its dataset's answer is not in the raw zone: nothing to attach the rows to
        result = _unwrap(load_json(payload.body))
        records = [r for r in result.get("records") or [] if isinstance(r, dict) and "_id" in r]
        fields = [f for f in result.get("fields") or [] if isinstance(f, dict) and f.get("id") != "_id"]
        after = 0 if int(url.params.get("offset") or 0) == 0 else (until.get(res_id) or 0)
        last = len(records) < int(url.params.get("limit") or 0)
        until[res_id] = None if last else max(r["_id"] for r in records)
        dataset, res_url = resources[res_id]
        return Page(payload=None, records=records, resource={
            "id": res_id, "dataset": dataset, "url": res_url, "fields": fields, "after": after,
            "until": until[res_id]})

    def _action(self, fc: FetchContext, name: str, params: dict[str, Any]) -> Payload:
        headers = {"Authorization": self.config.api_key} if self.config.api_key else None
        return fc.get(f"{self.config.url.rstrip('/')}/api/3/action/{name}", params=params, headers=headers)

    def _fq(self, fc: FetchContext) -> str | None:
        parts = []
        if self.config.organizations:
            parts.append(" OR ".join(f"organization:{o}" for o in self.config.organizations))
        since = fc.state.get("modified_since") if self.config.incremental else None
        if since:
            start = (datetime.fromisoformat(since) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
            parts.append(f"metadata_modified:[{start} TO *]")
        return " AND ".join(f"({p})" if " OR " in p and len(parts) > 1 else p for p in parts) or None

    def fetch(self, fc: FetchContext) -> Iterator[Page]:
        cfg = self.config
        start = (fc.cursor or {}).get("start", 0)
        newest = fc.state.get("run_newest") if fc.cursor else None
        rows_done: dict[str, str] = dict(fc.state.get("rows") or {})  # remote resource id → its last_modified
        fq = self._fq(fc)
        while True:
            params: dict[str, Any] = {"rows": cfg.rows, "start": start, "sort": "id asc"}
            if fq:
                params["fq"] = fq
            payload = self._action(fc, "package_search", params)
            try:
                result = _unwrap(load_json(payload.body))
                records = self.parse(payload)
            except ConnectorError as exc:
                yield Page(payload=payload, records=[], error=exc)
                return
            stamps = [r.get("metadata_modified") for r in records if r.get("metadata_modified")]
            newest = max([*stamps, newest or ""]) or None
            start += len(records)
            done = not records or start >= int(result.get("count") or 0)
            yield Page(payload=payload, records=records, state={"run_newest": newest})
            if cfg.datastore:
                yield from self._rows_of(fc, records, rows_done)
            if done:
                break
            yield Page(payload=None, records=[], cursor={"start": start})  # this page's datasets and rows are in
        deleted = self._deleted(fc) if cfg.notice_deletions else []
        yield Page(payload=None, records=[], deleted=deleted,
                   state={"modified_since": newest or fc.state.get("modified_since"), "run_newest": None})

    def _rows_of(self, fc: FetchContext, datasets: list[dict[str, Any]], done: dict[str, str]) -> Iterator[Page]:
        """Pages of datastore rows for the DataStore resources of these datasets that changed."""
        for ds in datasets:
            for res in ds.get("resources") or []:
                if not isinstance(res, dict) or not res.get("datastore_active") or not res.get("id"):
                    continue
                stamp = res.get("last_modified") or ds.get("metadata_modified") or ""
                if done.get(res["id"]) == stamp:
                    continue
                yield from self._resource_rows(fc, ds, res)
                done[res["id"]] = stamp
                yield Page(payload=None, records=[], state={"rows": dict(done)})

    def _resource_rows(self, fc: FetchContext, ds: dict[str, Any], res: dict[str, Any]) -> Iterator[Page]:
        size, offset, after = self.config.datastore_rows, 0, 0
        while True:
            payload = self._action(fc, "datastore_search", {"resource_id": res["id"], "limit": size, "offset": offset,
                                                            "sort": "_id", "include_total": "false"})
            try:
                result = _unwrap(load_json(payload.body))
                records = [r for r in result.get("records") or [] if isinstance(r, dict) and "_id" in r]
                fields = [f for f in result.get("fields") or [] if isinstance(f, dict) and f.get("id") != "_id"]
            except (ConnectorError, AttributeError) as exc:
                error = exc if isinstance(exc, ConnectorError) else ConnectorError(
                    f"datastore_search of resource {res['id']}: not a datastore answer", code="layout_changed")
                yield Page(payload=payload, records=[], error=error)
                return
            offset += len(records)
            last = len(records) < size
            until = None if last else max(r["_id"] for r in records)
            yield Page(payload=payload, records=records, resource={
                "id": res["id"], "dataset": ds["name"], "url": res.get("url"), "fields": fields,
                "after": after, "until": until})
            if last:
                return
            after = until

    def _deleted(self, fc: FetchContext) -> list[dict[str, Any]]:
        """Remote names we harvested before that the portal no longer lists."""
        payload = self._action(fc, "package_list", {})
        remote = set(_unwrap(load_json(payload.body)) or [])
        if self.config.organizations:  # package_list is portal-wide: only judge what we can see
            remote |= {r["name"] for r in self._all_in_scope(fc)}
        harvested = fc.state.get("harvested") or {}
        return [{"name": name, "local": local} for name, local in harvested.items() if name not in remote]

    def _all_in_scope(self, fc: FetchContext) -> list[dict[str, Any]]:
        fq = " OR ".join(f"organization:{o}" for o in self.config.organizations)
        found, start = [], 0
        while True:
            payload = self._action(fc, "package_search", {"rows": 1000, "start": start, "sort": "id asc", "fq": fq})
            records = self.parse(payload)
            found += records
            start += len(records)
            if not records:
                return found
