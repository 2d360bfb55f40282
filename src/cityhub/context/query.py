"""Query entities by id, type, idPattern, q, geo and district, with limit/offset/count."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
from sqlalchemy import Text, and_, bindparam, case, cast, func, or_, select, type_coerce

from cityhub.auth import policy
from cityhub.context import geo, geo_sql, qlang
from cityhub.context.attrs import render
from cityhub.context.models import ContextEntity
from cityhub.context.problems import BadRequestData, InvalidRequest, TooComplexQuery, TooManyResults
from cityhub.context.qsql import compile_q
from cityhub.ctx import RequestContext
from cityhub.governance import live_access

T = ContextEntity.__table__
MAX_SHAPES = 512
# WHERE terms by query shape (see _conditions): SQL structure only, no values and no rows, so nothing here
# differs between workers; SQLAlchemy constructs are safe to execute from several threads.
_SHAPES: dict[tuple[Any, ...], list[Any]] = {}
_NEAR_STATEMENTS: dict[tuple[Any, ...], tuple[list[Any], Any]] = {}  # see _near_statement_for
_PARSED: dict[tuple[str, int], qlang.Node] = {}  # see parse_q
_DRIVER_SQL: dict[tuple[int, int], tuple[Any, Any]] = {}  # see _run_near


@dataclass
class EntityQuery:
    ids: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    id_pattern: str | None = None
    attrs: set[str] | None = None
    q: str | None = None
    geo: geo.GeoQuery | None = None
    district: str | None = None
    limit: int = 20
    offset: int = 0
    count: bool = False
    key_values: bool = False
    # Items may be pre-serialised entities (orjson.Fragment) rather than dicts: a door that writes the list
    # as JSON unchanged asks for this, so stored attribute JSON goes to the wire without a decode/encode.
    raw: bool = False


@dataclass
class EntityPage:
    items: list[Any]  # dicts, or orjson.Fragment when the query asked for raw items
    total: int | None
    read: list[tuple[str, str]] = field(default_factory=list)  # (id, type) of the items, for the audit


def parse_q(text: str, settings: Any) -> qlang.Node:
    """Parse q for the API: syntax errors are InvalidRequest, oversized ones TooComplexQuery (400). Parsed
    trees are kept per (text, limit): they are immutable, and every request re-validated its q by a parse
    (~0.1 ms CPU); a q that does not parse raises, and is not kept."""
    key = (text, settings.context_q_max_terms)
    node = _PARSED.get(key)
    if node is not None:
        return node
    try:
        node = qlang.parse(text, max_terms=settings.context_q_max_terms)
        if len(_PARSED) >= MAX_SHAPES:
            _PARSED.clear()
        _PARSED[key] = node
        return node
    except qlang.QueryTooComplex as exc:
        raise TooComplexQuery(str(exc), details={"q": [str(exc)]}) from None
    except qlang.QueryError as exc:
        raise InvalidRequest(f"q: {exc}", details={"q": [str(exc)]}) from None


def check_page(settings: Any, limit: int, offset: int) -> None:
    if limit < 0 or offset < 0:
        raise BadRequestData.field("limit", "limit and offset must not be negative")
    if limit > settings.context_max_limit:
        raise TooManyResults(f"limit {limit} is above the maximum of {settings.context_max_limit}",
                             details={"limit": [f"at most {settings.context_max_limit}"]})


def hidden_types(ctx: RequestContext) -> list[str]:
    """Entity types whose live-<type> dataset this actor may not read (governance decides)."""
    names = live_access.hidden_names(ctx)
    if not names:
        return []
    return [t for t in _entity_types(ctx) if live_access.hides(names, t)]


def _entity_types(ctx: RequestContext) -> list[str]:
    """Every entity type, by a loose index scan: one index seek per type (SELECT DISTINCT read every index
    entry, 8 ms at 100k entities, on each query of an actor who may not read some live type)."""
    found = select(func.min(T.c.type).label("t")).cte("entity_types", recursive=True)
    after = select(func.min(T.c.type)).where(T.c.type > found.c.t).scalar_subquery()
    found = found.union_all(select(after).where(found.c.t.is_not(None)))
    return [t for (t,) in ctx.db.execute(select(found.c.t).where(found.c.t.is_not(None)))]


def _visible(hidden: list[str]) -> list[Any]:
    """Leave out entities of hidden types, and the alerts about them (read under their source's access)."""
    if not hidden:
        return []
    return [T.c.type.not_in(hidden),
            ~and_(T.c.type == "Alert", or_(*[T.c.id.like(p) for p in live_access.alert_id_patterns(hidden)]))]


def _conditions(ctx: RequestContext, query: EntityQuery) -> tuple[list[Any], dict[str, Any]]:
    """The query's WHERE terms and their parameter values. The terms of a query without ids, idPattern or
    district are kept per shape (types, q, hidden types, geo shape) and reused with new values."""
    hidden = hidden_types(ctx)
    dialect = ctx.db.get_bind().dialect.name
    if query.q:
        parse_q(query.q, ctx.settings)  # every request validates its own q (limits may differ per settings)
    shape, params = (None, {})
    if query.geo is not None:
        shape, params = geo_sql.shape_and_params(query.geo, ctx.settings.context_geo_max_extent_deg, dialect)
    if query.ids or query.id_pattern or query.district:
        return _build(ctx, query, hidden, shape, dialect), params
    key = (dialect, tuple(query.types), query.q, tuple(hidden), shape)
    conds = _SHAPES.get(key)
    if conds is None:
        if len(_SHAPES) >= MAX_SHAPES:
            _SHAPES.clear()  # a bound, not an eviction policy: shapes are few (types × q texts)
        conds = _SHAPES[key] = _build(ctx, query, hidden, shape, dialect)
    return conds, params


def _build(ctx: RequestContext, query: EntityQuery, hidden: list[str], shape: geo_sql.GeoShape | None,
           dialect: str) -> list[Any]:
    conds: list[Any] = []
    conds.extend(_visible(hidden))
    if query.ids:
        conds.append(T.c.id.in_(query.ids))
    if query.types:
        conds.append(T.c.type.in_(query.types))
    if query.id_pattern:
        conds.append(T.c.id.regexp_match(query.id_pattern))
    if query.district:
        conds.append(T.c.district == query.district)
    if shape is not None:
        conds.extend(geo_sql.conditions(shape))
    # q last: SQLite evaluates the remaining terms in order, so JSON is only parsed for rows in place
    if query.q:
        node = parse_q(query.q, ctx.settings)
        conds.append(compile_q(node, column=T.c.attrs, dialect=dialect, id_column=T.c.id, type_column=T.c.type))
    return conds


def query_entities(ctx: RequestContext, *, query: EntityQuery) -> EntityPage:
    """Entities matching the query, one page of them, and the total when asked (count=true)."""
    policy.require(ctx, "context.read", None)
    check_page(ctx.settings, query.limit, query.offset)
    if query.id_pattern:
        import re

        try:
            re.compile(query.id_pattern)
        except re.error as exc:
            raise BadRequestData.field("idPattern", f"invalid regular expression: {exc}") from None
    if not (query.ids or query.types or query.id_pattern or query.q or query.geo or query.attrs or query.district):
        raise BadRequestData("a query needs at least one of type, id, idPattern, attrs, q or geo",
                             details={"type": ["type, id, idPattern, attrs, q or georel is required"]})
    shared, params = _conditions(ctx, query)
    conds = list(shared)  # the shared list stays as it is
    if query.attrs and not query.q:
        # NGSI-LD: with attrs, only entities having at least one of them match
        exists = " | ".join(sorted(query.attrs))
        conds.append(compile_q(parse_q(exists, ctx.settings), column=T.c.attrs,
                               dialect=ctx.db.get_bind().dialect.name))
    page = (_geo_page(ctx, query, conds, params) if query.geo is not None
            else _plain_page(ctx, query, conds, params))
    # a generator: note_reads looks at the types only when some live dataset is not public
    live_access.note_reads(ctx, (live_access.governing_type(eid, etype) for eid, etype in page.read))
    return page


def _attrs_text(ctx: RequestContext, table: Any = T) -> Any:
    """The attributes column as stored JSON text (no decode): SQLite keeps text, PostgreSQL renders JSONB."""
    if ctx.db.get_bind().dialect.name == "postgresql":
        return cast(table.c.attrs, Text)
    return type_coerce(table.c.attrs, Text)


def _fragment(eid: str, etype: str, attrs_text: str) -> orjson.Fragment:
    """One normalized entity as JSON text spliced from its stored attributes (an object's text). Formatted as
    str, which orjson writes as UTF-8: encoding the ~1 KB body to bytes and concatenating bytes took 3× as
    long (0.65 against 0.22 ms CPU for a page of 100)."""
    head = f'{{"id":{orjson.dumps(eid).decode()},"type":{orjson.dumps(etype).decode()}'
    body = attrs_text.strip()
    if body in ("{}", ""):
        return orjson.Fragment(head + "}")
    return orjson.Fragment(f"{head},{body[1:]}")


def _items(query: EntityQuery, rows: list[Any]) -> list[Any]:
    """Rows of (id, type, attrs) → wire items: fragments of the stored text when raw, else rendered dicts."""
    if _raw_ok(query):
        return [_fragment(eid, etype, text) for eid, etype, text in rows]
    return [render(eid, etype, attrs, key_values=query.key_values, only=query.attrs) for eid, etype, attrs in rows]


def _raw_ok(query: EntityQuery) -> bool:
    return query.raw and not query.key_values and query.attrs is None


_JSON_IDS = func.json_each(bindparam("page_ids", type_=Text)).table_valued("value")


def _page_rows(ctx: RequestContext, query: EntityQuery, ids: list[str]) -> list[Any]:
    """(id, type, attrs) of the shown ids, in their order; attrs as stored text when the items go out raw."""
    if not ids:
        return []
    attrs = _attrs_text(ctx) if _raw_ok(query) else T.c.attrs
    if ctx.db.get_bind().dialect.name == "sqlite":
        # the ids as one JSON parameter: an expanding IN of 100 values cost ~1 ms CPU in SQLAlchemy (rendering
        # and binding each one), three times what SQLite takes to find the rows
        stmt = select(T.c.id, T.c.type, attrs).where(T.c.id.in_(select(_JSON_IDS.c.value)))
        result = ctx.db.execute(stmt, {"page_ids": orjson.dumps(ids).decode()})
    else:
        result = ctx.db.execute(select(T.c.id, T.c.type, attrs).where(T.c.id.in_(ids)))
    found = {r[0]: r for r in result}
    return [found[i] for i in ids if i in found]


def _plain_page(ctx: RequestContext, query: EntityQuery, conds: list[Any], params: dict[str, Any]) -> EntityPage:
    total = None
    if query.count:
        total = ctx.db.execute(select(func.count()).select_from(T).where(*conds), params).scalar_one()
    if query.limit == 0:
        return EntityPage([], total)
    attrs = _attrs_text(ctx) if _raw_ok(query) else T.c.attrs
    stmt = select(T.c.id, T.c.type, attrs).where(*conds).order_by(T.c.id).limit(query.limit).offset(query.offset)
    rows = ctx.db.execute(stmt, params).all()
    return EntityPage(_items(query, rows), total, [(r[0], r[1]) for r in rows])


def _near_points(query: EntityQuery, points: list[Any]) -> list[str]:
    """Ids of the point candidates (id, lon, lat) within the asked distance: exact great-circle distances,
    vectorised."""
    g = query.geo
    assert g is not None
    if not points:
        return []
    ids, lons, lats = zip(*points, strict=True)
    d = geo.distances_m(g.geom.x, g.geom.y, np.fromiter(lons, float, len(lons)), np.fromiter(lats, float, len(lats)))
    keep = d <= g.max_distance
    if g.min_distance is not None:
        keep &= d >= g.min_distance
    return [ids[i] for i in np.flatnonzero(keep)]


def _near_page(ctx: RequestContext, query: EntityQuery, conds: list[Any], params: dict[str, Any]) -> EntityPage:
    """near a Point: the exact great-circle test in SQL on the indexed coordinates, so one statement gives the
    shown page, the total (a window count) and whether any candidate has an extent; only then (a line or a
    polygon near the point, which shapely decides, or an offset past the end) the candidates one by one."""
    g = query.geo
    assert g is not None
    if query.limit > 0:
        values = {**params, **geo_sql.distance_params(g), "n_lim": query.limit, "n_off": query.offset}
        stmt, shared = _near_statement_for(ctx, query, conds)
        # the SQL text alone only where no column needs SQLAlchemy's result processing (attributes as text)
        rows = _run_near(ctx, stmt, values) if shared and _raw_ok(query) else ctx.db.execute(stmt, values).all()
        if rows and rows[0].ext == 0:
            return EntityPage(_items(query, [r[:3] for r in rows]), rows[0].n if query.count else None,
                              [(r[0], r[1]) for r in rows])
        if not rows and query.offset == 0:  # nothing within the distance, and no extent among the candidates
            return EntityPage([], 0 if query.count else None)
    return _near_candidates(ctx, query, conds, params)


def _near_statement_for(ctx: RequestContext, query: EntityQuery, conds: list[Any]) -> tuple[Any, bool]:
    """_near_statement, kept per shape when the terms are the shared ones (building the subqueries and the
    alias cost ~0.4 ms CPU a query). Keyed by the terms' identities; the entry holds the terms themselves, so
    an id is never reused by another object while its entry lives. Also says whether the statement is shared."""
    if query.ids or query.id_pattern or query.district or (query.attrs and not query.q):
        return _near_statement(ctx, query, conds), False  # terms built for this request alone
    g = query.geo
    assert g is not None
    key = (tuple(map(id, conds)), _raw_ok(query), g.min_distance is not None, geo_sql.flat_circle(g))
    entry = _NEAR_STATEMENTS.get(key)
    if entry is None or len(entry[0]) != len(conds) or any(a is not b for a, b in zip(entry[0], conds, strict=True)):
        if len(_NEAR_STATEMENTS) >= MAX_SHAPES:
            _NEAR_STATEMENTS.clear()
        entry = _NEAR_STATEMENTS[key] = (list(conds), _near_statement(ctx, query, conds))
    return entry[1], True


def _run_near(ctx: RequestContext, stmt: Any, values: dict[str, Any]) -> list[Any]:
    """Rows of a near statement. On SQLite a shared statement runs as its SQL text, kept per statement and
    number of latitude bands, with the values in its parameter order: SQLAlchemy's per-execution work (cache
    key, expanding the IN lists into the text, binding by name) cost ~0.3 ms CPU a query."""
    dialect = ctx.db.get_bind().dialect
    if dialect.name != "sqlite":
        return ctx.db.execute(stmt, values).all()
    bands = values.get("g_bands")
    key = (id(stmt), -1 if bands is None else len(bands))
    entry = _DRIVER_SQL.get(key)
    if entry is None or entry[0] is not stmt:
        if len(_DRIVER_SQL) >= MAX_SHAPES:
            _DRIVER_SQL.clear()
        entry = _DRIVER_SQL[key] = (stmt, _driver_sql(stmt, dialect, values))
    if entry[1] is None:  # the text did not reproduce SQLAlchemy's parameters: let it bind them
        return ctx.db.execute(stmt, values).all()
    sql, names, fixed = entry[1]
    return ctx.db.connection().exec_driver_sql(sql, _positional(names, fixed, values)).all()


def _driver_sql(stmt: Any, dialect: Any, values: dict[str, Any]) -> tuple[str, tuple[str, ...], dict] | None:
    """(SQL text, parameter names in order, the statement's own values) of a statement expanded for these
    values; None when the values rebuilt from them differ from SQLAlchemy's (a bind processor, a renamed
    expansion), so such a statement keeps SQLAlchemy's binding."""
    state = stmt.compile(dialect=dialect).construct_expanded_state(values)
    names = tuple(state.positiontup or ())
    fixed = {k: v for k, v in state.parameters.items() if k not in values and not k.startswith("g_bands_")}
    if state.processors or _positional(names, fixed, values) != tuple(state.positional_parameters):
        return None
    return state.statement, names, fixed


def _positional(names: tuple[str, ...], fixed: dict[str, Any], values: dict[str, Any]) -> tuple[Any, ...]:
    merged = {**fixed, **values}
    for i, band in enumerate(values.get("g_bands") or (), 1):
        merged[f"g_bands_{i}"] = band  # SQLAlchemy's names for an expanded IN list
    return tuple(merged[n] for n in names)


def _near_statement(ctx: RequestContext, query: EntityQuery, conds: list[Any]) -> Any:
    """SELECT id, type, attrs, n (matches), ext (candidates with an extent) of the page. The window counts are
    taken before the page is cut; the attributes are joined on the page's ids only (never sorted with it)."""
    g = query.geo
    assert g is not None
    within = geo_sql.within_distance(g.min_distance is not None, geo_sql.flat_circle(g))
    found = (select(T.c.id, func.count().over().label("n"),
                    func.sum(case((geo_sql.FLAT, 0), else_=1)).over().label("ext"))
             .where(*conds, or_(~geo_sql.FLAT, within)).subquery("found"))
    shown = (select(found).order_by(found.c.id).limit(bindparam("n_lim")).offset(bindparam("n_off"))
             .subquery("shown"))
    page = T.alias("page")
    attrs = _attrs_text(ctx, page) if _raw_ok(query) else page.c.attrs
    return (select(shown.c.id, page.c.type, attrs, shown.c.n, shown.c.ext)
            .join_from(shown, page, page.c.id == shown.c.id).order_by(shown.c.id))


def _near_candidates(ctx: RequestContext, query: EntityQuery, conds: list[Any], params: dict[str, Any]) -> EntityPage:
    """near a Point with extents among the candidates: ids and coordinates of the candidates first (no JSON
    decoded, no SQL sort), the exact distance on the points at once, shapely on the extents, then the
    attributes of the shown page only."""
    g = query.geo
    assert g is not None
    flat = geo_sql.FLAT
    rows = ctx.db.execute(select(T.c.id, T.c.lon, T.c.lat, flat).where(*conds), params).all()
    matched = _near_points(query, [r[:3] for r in rows if r[3]])
    extents = [r[0] for r in rows if not r[3]]  # a line or polygon: shapely decides
    for start in range(0, len(extents), 900):
        chunk = extents[start:start + 900]
        found = ctx.db.execute(select(T.c.id, T.c.attrs).where(T.c.id.in_(chunk)))
        matched.extend(r.id for r in found if geo.matches(g, r.attrs))
    matched.sort()
    rows = _page_rows(ctx, query, matched[query.offset:query.offset + query.limit])
    return EntityPage(_items(query, rows), len(matched) if query.count else None, [(r[0], r[1]) for r in rows])


def _geo_page(ctx: RequestContext, query: EntityQuery, conds: list[Any], params: dict[str, Any]) -> EntityPage:
    """Geo queries filter exactly in Python after the indexed bounding-box narrowing."""
    if geo_sql.point_near(query.geo):
        return _near_page(ctx, query, conds, params)
    stmt = select(T.c.id, T.c.attrs).where(*conds).order_by(T.c.id)
    matched = [r.id for r in ctx.db.execute(stmt, params) if geo.matches(query.geo, r.attrs)]
    rows = _page_rows(ctx, query, matched[query.offset:query.offset + query.limit])
    return EntityPage(_items(query, rows), len(matched) if query.count else None, [(r[0], r[1]) for r in rows])


def list_types(ctx: RequestContext) -> list[dict[str, Any]]:
    """Entity types with their counts."""
    policy.require(ctx, "context.read", None)
    rows = ctx.db.execute(select(T.c.type, func.count()).where(*_visible(hidden_types(ctx)))
                          .group_by(T.c.type).order_by(T.c.type)).all()
    return [{"type": t, "count": n} for t, n in rows]


def list_attributes(ctx: RequestContext, *, sample: int = 2000) -> list[str]:
    """Attribute names in use (from a sample of recently modified entities per type)."""
    policy.require(ctx, "context.read", None)
    names: set[str] = set()
    for t in list_types(ctx):
        stmt = select(T.c.attrs).where(T.c.type == t["type"]).limit(sample)
        for (attrs,) in ctx.db.execute(stmt):
            names.update(attrs)
    return sorted(names)
