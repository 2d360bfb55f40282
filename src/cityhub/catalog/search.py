"""Dataset search: full text (n-gram index per dialect), filters, facets, sorting, paging.

Every query starts from `policy.visible_dataset_clause`, so totals and facet counts never include a
dataset the caller may not see.

Searches run on the search projection (`search_docs.DatasetSearchDoc`), not on `datasets`: the
matched set is computed once and read once for the count and every facet (see search_docs.py for
why). `base_conditions` (over `datasets`) stays for lists and counts outside search.
"""

from __future__ import annotations

from collections import Counter
from types import ModuleType
from typing import Any

from sqlalchemy import and_, func, inspect, literal_column, not_, or_, select, text
from sqlalchemy.orm import Session

from cityhub.auth import policy
from cityhub.auth.models import Organization
from cityhub.catalog import (
    ngrams,
    search_broad,
    search_code_cache,
    search_codes,
    search_facets,
    search_postgres,
    search_sqlite,
)
from cityhub.catalog.models import Dataset, DatasetKeyword, Resource
from cityhub.catalog.schemas import DatasetSearch
from cityhub.catalog.search_docs import DatasetSearchDoc, current, delete_doc, doc_values, upsert_doc
from cityhub.ctx import RequestContext

Doc = DatasetSearchDoc


def dialect_module(db: Session) -> ModuleType:
    return search_sqlite if db.get_bind().dialect.name == "sqlite" else search_postgres


def index_body(title: str | None, title_en: str | None, notes: str | None, notes_en: str | None,
               keywords: list[str], org_title: str | None, name: str | None) -> str:
    """The text indexed for one dataset (also used by bulk loaders, so both index the same way)."""
    return ngrams.index_text(title, title_en, notes, notes_en, " ".join(keywords), org_title, name)


def _formats_of(db: Session, dataset_id: str) -> list[str]:
    return list(db.scalars(select(Resource.format).where(Resource.dataset_id == dataset_id,
                                                         Resource.state == "active", Resource.format.is_not(None))))


def index_title(title: str | None, title_en: str | None) -> str:
    """The title terms (SQLite's `title` column: broad searches put title hits first)."""
    return ngrams.index_text(title, title_en)


def reindex(db: Session, ds: Dataset, org_title: str | None, keywords: list[str]) -> None:
    """Bring a dataset's projection row, full-text entry and facet counts up to date (after any change).

    The row gets a fresh key on every change, so key order is the order datasets last changed:
    broad searches page newest-changed first by walking the index backwards (search_broad.py)."""
    body = index_body(ds.title, ds.title_en, ds.notes, ds.notes_en, keywords, org_title, ds.name)
    old = current(db, ds.id)
    new = doc_values(ds, keywords, _formats_of(db, ds.id))
    if old is not None:
        delete_doc(db, old["doc"])  # type: ignore[arg-type]
        search_codes.remove(db, old["doc"])  # type: ignore[arg-type]
    doc = upsert_doc(db, new, None, key=search_code_cache.next_key(db))  # never a key used before
    search_codes.write(db, [(doc, new)])
    dialect_module(db).upsert(db, doc, ds.id, body, title=index_title(ds.title, ds.title_en),
                              vis=search_sqlite.visibility_term(ds.state, ds.access_level),
                              old_doc=old["doc"] if old else None)  # type: ignore[arg-type]
    search_facets.apply(db, old, new)


def unindex(db: Session, dataset_id: str) -> None:
    old = current(db, dataset_id)
    if old is not None:
        delete_doc(db, old["doc"])  # type: ignore[arg-type]
        search_codes.remove(db, old["doc"])  # type: ignore[arg-type]
        search_facets.apply(db, old, None)
    dialect_module(db).delete(db, old["doc"] if old else None, dataset_id)  # type: ignore[arg-type]


def rebuild(db: Session, *, batch: int = 5_000, facets: bool = True) -> int:
    """Re-create the projection, the full-text index and (unless `facets` is false: the first search
    migration runs before that table exists) the facet counts from `datasets`."""
    module = dialect_module(db)
    db.execute(Doc.__table__.delete())
    module.clear(db)
    # Earlier search migrations run this before the facet codes table exists.
    codes = inspect(db.connection()).has_table(search_codes.FacetCodes.__tablename__)
    if codes:
        search_codes.clear(db)
    orgs = dict(db.execute(select(Organization.id, Organization.title)).all())
    keywords: dict[str, list[str]] = {}
    for ds_id, word in db.execute(select(DatasetKeyword.dataset_id, DatasetKeyword.keyword)
                                  .order_by(DatasetKeyword.keyword)):
        keywords.setdefault(ds_id, []).append(word)
    formats: dict[str, list[str]] = {}
    for ds_id, fmt in db.execute(select(Resource.dataset_id, Resource.format)
                                 .where(Resource.state == "active", Resource.format.is_not(None))):
        formats.setdefault(ds_id, []).append(fmt)
    done, doc = 0, 0
    # Named columns, not the model: migrations run this before later columns exist.
    stmt = (select(Dataset.id, Dataset.name, Dataset.title, Dataset.title_en, Dataset.notes, Dataset.notes_en,
                   Dataset.state, Dataset.access_level, Dataset.owner_org_id, Dataset.theme, Dataset.license_id,
                   Dataset.created_at, Dataset.modified_at)
            .where(Dataset.state != "deleted").order_by(Dataset.modified_at, Dataset.id))  # keys in order of change
    docs, bodies = [], []
    for ds in db.execute(stmt.execution_options(yield_per=batch)):
        doc += 1
        words = keywords.get(ds.id, [])
        docs.append({"doc": doc, **doc_values(ds, words, formats.get(ds.id, []))})
        bodies.append({"doc": doc, "id": ds.id, "body": index_body(ds.title, ds.title_en, ds.notes, ds.notes_en,
                                                                  words, orgs.get(ds.owner_org_id), ds.name),
                       "title": index_title(ds.title, ds.title_en),
                       "vis": search_sqlite.visibility_term(ds.state, ds.access_level)})
        if len(docs) >= batch:
            done += _flush_rows(db, module, docs, bodies, codes)
    done += _flush_rows(db, module, docs, bodies, codes)
    if facets:
        search_facets.rebuild(db)
        search_code_cache.renumbered(db)  # keys were given out afresh: every worker reloads
    return done


def _flush_rows(db: Session, module: ModuleType, docs: list[dict], bodies: list[dict], codes: bool) -> int:
    n = len(docs)
    if n:
        db.execute(Doc.__table__.insert(), docs)
        module.insert_many(db, bodies)
        if codes:
            search_codes.write(db, [(d["doc"], d) for d in docs])
        docs.clear()
        bodies.clear()
    return n


def _field_clause(field: str, values: list[str], cols: Any) -> Any:
    """A filter on `cols` (the Dataset model or the search projection)."""
    if field == "organization":
        orgs = select(Organization.id).where(or_(Organization.name.in_(values), Organization.id.in_(values)))
        return cols.owner_org_id.in_(orgs)
    if field in ("theme", "license_id", "access_level", "name"):
        return getattr(cols, field).in_(values)
    id_col = cols.id if cols is Dataset else cols.dataset_id
    if field == "id":
        return id_col.in_(values)
    if field == "keywords":
        return id_col.in_(select(DatasetKeyword.dataset_id).where(DatasetKeyword.keyword.in_(values)))
    if field == "format":
        upper = [v.upper() for v in values]
        return id_col.in_(
            select(Resource.dataset_id).where(func.upper(Resource.format).in_(upper), Resource.state == "active")
        )
    raise ValueError(field)


def _conditions(ctx: RequestContext, query: DatasetSearch, cols: Any) -> list[Any]:
    id_col = cols.id if cols is Dataset else cols.dataset_id
    conds: list[Any] = [
        policy.visible_dataset_clause(ctx, id_col=id_col, access_col=cols.access_level, org_col=cols.owner_org_id)
    ]
    conds.append(cols.state.in_(["active", "draft"] if query.include_drafts else ["active"]))
    if not query.include_private:
        conds.append(cols.access_level == "public")
    for field, values in query.filters.items():
        if values:
            conds.append(_field_clause(field, values, cols))
    for field, values in query.exclude.items():
        if values:
            conds.append(not_(_field_clause(field, values, cols)))
    if query.modified_since:
        conds.append(cols.modified_at >= query.modified_since)
    if query.modified_until:
        conds.append(cols.modified_at <= query.modified_until)
    return conds


def base_conditions(ctx: RequestContext, query: DatasetSearch) -> list[Any]:
    """Visibility, state and filter conditions over `datasets` (lists and counts outside search)."""
    return _conditions(ctx, query, Dataset)


SORT_COLUMNS = {
    "modified": [Doc.modified_at.desc()], "-modified": [Doc.modified_at.asc()],
    "name": [Doc.name.asc()], "-name": [Doc.name.desc()], "title": [Doc.title.asc()],
    "created": [Doc.created_at.desc()], "-created": [Doc.created_at.asc()],
    "id": [Doc.dataset_id.asc()],  # CKAN harvesters page with `sort=id asc`
    "-id": [Doc.dataset_id.desc()],
}


def _order(query: DatasetSearch, scored: bool) -> list[Any]:
    if query.sort == "relevance":
        return ([literal_column("fts.score").asc()] if scored else []) + [Doc.modified_at.desc(), Doc.name]
    if query.sort == "views":  # view counts change on every read, so they live only on `datasets`
        return [select(Dataset.view_count).where(Dataset.id == Doc.dataset_id).scalar_subquery().desc(),
                Doc.dataset_id]
    if query.sort in ("quality", "-quality"):  # governance keeps the scores
        from cityhub.governance.quality import sort_key

        key = sort_key(Doc.dataset_id)
        return [key.desc() if query.sort == "quality" else key.asc(), Doc.dataset_id]
    return SORT_COLUMNS[query.sort] + [Doc.dataset_id]


def run_search(ctx: RequestContext, query: DatasetSearch) -> tuple[list[str], int, dict[str, dict[str, int]]]:
    """Ids of the page, the total, and facet counts — all within what the caller may see."""
    db = ctx.db
    conds = _conditions(ctx, query, Doc)
    phrases = ngrams.query_phrases(query.q) if query.q and query.q.strip() not in ("*", "*:*") else []
    module = dialect_module(db)
    if phrases and module is search_sqlite and _whole_catalog(query):
        return _broad(ctx, query, module.match_expression(phrases), and_(*conds))
    if phrases:
        fts = text(module.matching_sql()).bindparams(match=module.match_expression(phrases))
        fts_sub = fts.columns(literal_column("key"), literal_column("score")).subquery("fts")
        # The match drives the join: each matched key reaches its projection row directly.
        source = fts_sub.join(Doc, fts_sub.c.key == getattr(Doc, module.KEY))
    else:
        source = Doc.__table__
    where = and_(*conds)
    ids: list[str] = []
    if query.limit:
        stmt = select(Doc.dataset_id).select_from(source).where(where)
        ids = list(db.scalars(stmt.order_by(*_order(query, bool(phrases))).limit(query.limit).offset(query.offset)))
    if query.facets:
        if not phrases and _whole_catalog(query):
            total, counters = _browse_tally(ctx, query, where)
        else:
            total, counters = _tally(db, source, where, _facet_fields(query))
        facets = _finish(db, counters, query.facet_limit) if total else {}
    else:
        total = db.scalar(select(func.count()).select_from(source).where(where)) or 0
        facets = {}
    return ids, total, facets


def _broad(ctx: RequestContext, query: DatasetSearch, words: str,
           where: Any) -> tuple[list[str], int, dict[str, dict[str, int]]]:
    """Words over the whole catalog on SQLite: answered mostly inside the index (search_broad.py)."""
    levels = search_broad.Levels(ctx, query)
    # With facets, the wholesale matches' keys are read once: their number is that part of the total.
    keys = search_broad.wholesale_keys(ctx.db, levels, words) if query.facets and levels.wholesale else None
    known = len(keys) if keys is not None else None
    parts = search_broad.count_parts(ctx.db, levels, words, where, known) if levels.any else (0, 0)
    total = sum(parts)
    order = None if query.sort == "relevance" else _order(query, False)
    ids = search_broad.page(ctx.db, levels, words, where, query, total, order)
    facets: dict[str, dict[str, int]] = {}
    if query.facets and total:
        counters = search_broad.facets(ctx.db, levels, words, where, parts, _facet_fields(query), keys)
        facets = _finish(ctx.db, counters, query.facet_limit)
    return ids, total, facets


def _facet_fields(query: DatasetSearch) -> list[str]:
    return [f for f in query.facet_fields if f in search_facets.COLUMNS]


def _whole_catalog(query: DatasetSearch) -> bool:
    """No query words and nothing narrowing: the stored counts answer for whole access levels."""
    return not (query.filters and any(query.filters.values())) and not (
        query.exclude and any(query.exclude.values())) and not query.include_drafts and not (
        query.modified_since or query.modified_until)


def _browse_tally(ctx: RequestContext, query: DatasetSearch, where: Any) -> tuple[int, dict[str, Counter]]:
    """Stored counts for the access levels the caller reads wholesale, plus a live count of the
    datasets they see one by one (their organizations' restricted ones, grants)."""
    fields = _facet_fields(query)
    levels = search_facets.wholesale_levels(ctx)
    if not query.include_private:
        levels = [lvl for lvl in levels if lvl == "public"]
    total, counters = search_facets.stored_counts(ctx.db, levels, fields)
    rest = and_(where, Doc.access_level.not_in(levels)) if levels else where
    extra, more = _tally(ctx.db, Doc.__table__, rest, fields)
    for field, counts in more.items():
        counters[field].update(counts)
    return total + extra, counters


def _tally(db: Session, source: Any, where: Any, fields: list[str]) -> tuple[int, dict[str, Counter]]:
    """One narrow read of the matched rows' facet codes gives the total and every facet's counts."""
    codes = search_codes.FacetCodes
    rows = db.scalars(select(codes.codes).select_from(source).outerjoin(codes, codes.doc == Doc.doc).where(where))
    return search_codes.tally(db, rows, fields)


def _finish(db: Session, counters: dict[str, Counter], limit: int) -> dict[str, dict[str, int]]:
    """The top values per facet; organizations by name."""
    out: dict[str, dict[str, int]] = {}
    for field, counts in counters.items():
        # Ties broken by value, so the same counts always give the same top list.
        top = sorted(((k, n) for k, n in counts.items() if n > 0), key=lambda kv: (-kv[1], kv[0]))[:limit]
        if field == "organization" and top:
            names = dict(db.execute(select(Organization.id, Organization.name)
                                    .where(Organization.id.in_([k for k, _ in top]))).all())
            top = [(names[k], n) for k, n in top if k in names]
        out[field] = dict(top)
    return out
