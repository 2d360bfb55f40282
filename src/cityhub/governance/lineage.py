"""Lineage of a dataset: source → run → raw payloads, run → dataset version → dataset, and downstream
the saved queries, charts and dashboards that read its tables and the datasets derived from it.

Queries name datastore tables by resource id in SQL; sqlglot finds them. Charts read a table directly or
through a saved query; dashboards hold charts. A derived dataset names its parents in
`extras["derived_from"]` (names or ids, a string or a list). Sources and runs describe the city's systems
and appear only for those who may read sources (staff); downstream items only when the visitor may see them.
A run is linked to the first version made while it ran (versions are recorded after each commit).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import sqlglot
from pydantic import BaseModel
from sqlglot import exp

from cityhub.auth import policy
from cityhub.catalog import service as catalog
from cityhub.catalog.schemas import DatasetPublic
from cityhub.ctx import RequestContext
from cityhub.errors import CityhubError
from cityhub.governance import versions

log = logging.getLogger("cityhub.governance")
RUNS_SHOWN = 10
PAYLOADS_PER_RUN = 3
VERSIONS_SHOWN = 20


class LineageNode(BaseModel):
    id: str
    kind: str  # dataset | resource | source | run | raw | version | query | chart | dashboard | derived
    label: str
    href: str | None = None
    detail: dict[str, Any] = {}


class LineageEdge(BaseModel):
    source: str
    target: str
    relation: str


class Lineage(BaseModel):
    dataset: str
    nodes: list[LineageNode]
    edges: list[LineageEdge]


class _Graph:
    def __init__(self) -> None:
        self.nodes: dict[str, LineageNode] = {}
        self.edges: list[LineageEdge] = []

    def node(self, id: str, kind: str, label: str, href: str | None = None,
             detail: dict[str, Any] | None = None) -> str:
        self.nodes.setdefault(id, LineageNode(id=id, kind=kind, label=label, href=href, detail=detail or {}))
        return id

    def edge(self, source: str, target: str, relation: str) -> None:
        if not any(e.source == source and e.target == target for e in self.edges):
            self.edges.append(LineageEdge(source=source, target=target, relation=relation))


def tables_in_sql(sql: str, dialect: str) -> set[str]:
    """Table names a query reads (CTE names left out); unparsable SQL reads nothing we can name."""
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except sqlglot.errors.ParseError:
        return set()
    ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
    return {t.name for t in tree.find_all(exp.Table) if t.name and t.name not in ctes}


def _upstream(ctx: RequestContext, g: _Graph, ds: DatasetPublic, version_rows: list) -> None:
    from cityhub.collect import service as collect

    ref = catalog.get_dataset_ref(ctx, id_or_name=ds.id)
    if not policy.can(ctx, "source.read", ref):
        return
    for source in collect.list_sources(ctx, limit=1000).items:
        if source.dataset_id != ds.id:
            continue
        sid = g.node(f"source:{source.id}", "source", source.title or source.name, detail={
            "connector": source.connector, "name": source.name})
        for run in collect.list_runs(ctx, id_or_name=source.id, limit=RUNS_SHOWN).items:
            rid = g.node(f"run:{run.id}", "run", f"{run.trigger} {run.started_at:%Y-%m-%d %H:%M}", detail={
                "status": run.status, "rows_inserted": run.rows_inserted, "rows_updated": run.rows_updated,
                "rows_quarantined": run.rows_quarantined})
            g.edge(sid, rid, "ran")
            for raw in collect.list_raw(ctx, run_id=run.id)[:PAYLOADS_PER_RUN]:
                pid = g.node(f"raw:{raw.sha256}", "raw", f"{raw.sha256[:12]}…", detail={
                    "sha256": raw.sha256, "size": raw.size, "content_type": raw.content_type})
                g.edge(pid, rid, "read by")
                g.edge(sid, pid, "delivered")
            end = (run.ended_at or run.started_at) + timedelta(seconds=5)
            made = [v for v in version_rows if run.started_at <= v.created_at <= end]
            for v in made:
                g.edge(rid, f"version:{v.number}", "produced")


def _downstream(ctx: RequestContext, g: _Graph, ds: DatasetPublic, ds_node: str) -> None:
    from cityhub.stats import service_charts, service_dashboards, service_queries

    tables = {r.id for r in ds.resources if r.datastore_active}
    dialect = "sqlite" if ctx.settings.is_sqlite else "postgres"
    query_nodes: dict[str, str] = {}
    for q in service_queries.list_queries(ctx, limit=1000).items:
        if tables & tables_in_sql(q.sql, dialect):
            query_nodes[q.id] = g.node(f"query:{q.id}", "query", q.title, f"/api/v1/stats/queries/{q.id}")
            g.edge(ds_node, query_nodes[q.id], "queried by")
    chart_nodes: dict[str, str] = {}
    for c in service_charts.list_charts(ctx, limit=1000).items:
        src = c.spec.source
        if src.resource_id in tables or src.query_id in query_nodes:
            chart_nodes[c.id] = g.node(f"chart:{c.id}", "chart", c.title, f"/api/v1/stats/charts/{c.id}")
            g.edge(query_nodes.get(src.query_id or "", ds_node), chart_nodes[c.id], "charted by")
    for d in service_dashboards.list_dashboards(ctx, limit=1000).items:
        for card in d.cards:
            if card.chart_id in chart_nodes:
                did = g.node(f"dashboard:{d.id}", "dashboard", d.title, f"/stats/dashboards/{d.slug}")
                g.edge(chart_nodes[card.chart_id], did, "shown on")


def _derived(ctx: RequestContext, g: _Graph, ds: DatasetPublic, ds_node: str) -> None:
    offset, page = 0, 500
    while True:
        batch = catalog.list_datasets(ctx, limit=page, offset=offset)
        for other in batch.items:
            _link_derived(g, ds, ds_node, other)
        offset += page
        if offset >= batch.total or not batch.items:
            return


def _link_derived(g: _Graph, ds: DatasetPublic, ds_node: str, other: DatasetPublic) -> None:
    parents = other.extras.get("derived_from") if other.extras else None
    parents = [parents] if isinstance(parents, str) else list(parents or [])
    if ds.name in parents or ds.id in parents:
        nid = g.node(f"dataset:{other.id}", "derived", other.title, f"/dataset/{other.name}")
        g.edge(ds_node, nid, "derived into")


def dataset_lineage(ctx: RequestContext, *, dataset: str) -> Lineage:
    """The dataset's lineage graph (nodes and edges) within what the visitor may see."""
    ds = catalog.get_dataset(ctx, id_or_name=dataset)
    g = _Graph()
    ds_node = g.node(f"dataset:{ds.id}", "dataset", ds.title, f"/dataset/{ds.name}")
    for res in ds.resources:
        g.node(f"resource:{res.id}", "resource", res.name, detail={"sha256": res.sha256, "rows": res.row_count})
        g.edge(f"resource:{res.id}", ds_node, "part of")
    shown, _total = versions.list_versions(ctx, dataset=ds.id, limit=VERSIONS_SHOWN)
    for v in reversed(shown):
        vid = g.node(f"version:{v.number}", "version", f"v{v.number} ({v.trigger})",
                     f"/api/v1/governance/datasets/{ds.name}/versions/{v.number}", detail={
                         k: v.diff.get(k) for k in ("rows_added", "rows_changed", "rows_removed",
                                                    "metadata_changed")})
        g.edge(vid, ds_node, "version of")
    for step, part in (("upstream", lambda: _upstream(ctx, g, ds, list(reversed(shown)))),
                       ("downstream", lambda: _downstream(ctx, g, ds, ds_node)),
                       ("derived", lambda: _derived(ctx, g, ds, ds_node))):
        try:
            part()
        except CityhubError:
            log.info("lineage part left out", extra={"part": step, "dataset": ds.id})
    return Lineage(dataset=ds.name, nodes=list(g.nodes.values()), edges=g.edges)
