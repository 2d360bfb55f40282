"""Dataset search: full text (n-gram index per dialect), filters, facets, sorting, paging.

Every query starts from `policy.visible_dataset_clause`, so totals and facet counts never include a
dataset the caller may not see.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from sqlalchemy import Select, and_, func, literal_column, not_, or_, select, text
from sqlalchemy.orm import Session

from cityhub.auth import policy
from cityhub.auth.models import Organization
from cityhub.catalog import ngrams, search_postgres, search_sqlite
from cityhub.catalog.models import Dataset, DatasetKeyword, Resource
from cityhub.catalog.schemas import DatasetSearch
from cityhub.ctx import RequestContext


def dialect_module(db: Session) -> ModuleType:
    return search_sqlite if db.get_bind().dialect.name == "sqlite" else search_postgres


def reindex(db: Session, ds: Dataset, org_title: str | None, keywords: list[str]) -> None:
    body = ngrams.index_text(ds.title, ds.title_en, ds.notes, ds.notes_en, " ".join(keywords), org_title, ds.name)
    dialect_module(db).upsert(db, ds.id, body)


def unindex(db: Session, dataset_id: str) -> None:
    dialect_module(db).delete(db, dataset_id)


def _field_clause(field: str, values: list[str]) -> Any:
    if field == "organization":
        orgs = select(Organization.id).where(or_(Organization.name.in_(values), Organization.id.in_(values)))
        return Dataset.owner_org_id.in_(orgs)
    if field == "theme":
        return Dataset.theme.in_(values)
    if field == "license_id":
        return Dataset.license_id.in_(values)
    if field == "access_level":
        return Dataset.access_level.in_(values)
    if field == "name":
        return Dataset.name.in_(values)
    if field == "id":
        return Dataset.id.in_(values)
    if field == "keywords":
        return Dataset.id.in_(select(DatasetKeyword.dataset_id).where(DatasetKeyword.keyword.in_(values)))
    if field == "format":
        upper = [v.upper() for v in values]
        return Dataset.id.in_(
            select(Resource.dataset_id).where(func.upper(Resource.format).in_(upper), Resource.state == "active")
        )
    raise ValueError(field)


def base_conditions(ctx: RequestContext, query: DatasetSearch) -> list[Any]:
    conds: list[Any] = [
        policy.visible_dataset_clause(ctx, id_col=Dataset.id, access_col=Dataset.access_level,
                                      org_col=Dataset.owner_org_id)
    ]
    states = ["active", "draft"] if query.include_drafts else ["active"]
    conds.append(Dataset.state.in_(states))
    if not query.include_private:
        conds.append(Dataset.access_level == "public")
    for field, values in query.filters.items():
        if values:
            conds.append(_field_clause(field, values))
    for field, values in query.exclude.items():
        if values:
            conds.append(not_(_field_clause(field, values)))
    if query.modified_since:
        conds.append(Dataset.modified_at >= query.modified_since)
    if query.modified_until:
        conds.append(Dataset.modified_at <= query.modified_until)
    return conds


def _order(query: DatasetSearch, scored: bool) -> list[Any]:
    by = {
        "modified": [Dataset.modified_at.desc()],
        "-modified": [Dataset.modified_at.asc()],
        "name": [Dataset.name.asc()],
        "-name": [Dataset.name.desc()],
        "title": [Dataset.title.asc()],
        "created": [Dataset.created_at.desc()],
        "-created": [Dataset.created_at.asc()],
        "views": [Dataset.view_count.desc()],
        "id": [Dataset.id.asc()],  # CKAN harvesters page with `sort=id asc`
        "-id": [Dataset.id.desc()],
    }
    if query.sort == "relevance":
        return ([literal_column("fts.score").asc()] if scored else []) + [Dataset.modified_at.desc(), Dataset.name]
    return by[query.sort] + [Dataset.id]


def run_search(ctx: RequestContext, query: DatasetSearch) -> tuple[list[str], int, dict[str, dict[str, int]]]:
    """Ids of the page, the total, and facet counts — all within what the caller may see."""
    db = ctx.db
    conds = base_conditions(ctx, query)
    phrases = ngrams.query_phrases(query.q) if query.q and query.q.strip() not in ("*", "*:*") else []
    module = dialect_module(db)
    stmt: Select[Any] = select(Dataset.id)
    if phrases:
        fts = text(module.matching_ids_sql()).bindparams(match=module.match_expression(phrases))
        fts_sub = fts.columns(literal_column("dataset_id"), literal_column("score")).subquery("fts")
        stmt = stmt.join(fts_sub, fts_sub.c.dataset_id == Dataset.id)
    stmt = stmt.where(and_(*conds))
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    ids = []
    if query.limit:
        ids = list(db.scalars(stmt.order_by(*_order(query, bool(phrases))).limit(query.limit).offset(query.offset)))
    facets = _facets(db, stmt, query) if query.facets and total else {}
    return ids, total, facets


def _facets(db: Session, matched: Select[Any], query: DatasetSearch) -> dict[str, dict[str, int]]:
    ids = matched.subquery("matched")
    out: dict[str, dict[str, int]] = {}
    for field in query.facet_fields:
        if field == "organization":
            stmt = (select(Organization.name, func.count()).join(Dataset, Dataset.owner_org_id == Organization.id)
                    .join(ids, ids.c.id == Dataset.id).group_by(Organization.name))
        elif field == "keywords":
            stmt = (select(DatasetKeyword.keyword, func.count()).join(ids, ids.c.id == DatasetKeyword.dataset_id)
                    .group_by(DatasetKeyword.keyword))
        elif field == "format":
            fmt = func.upper(Resource.format)
            stmt = (select(fmt, func.count(func.distinct(Resource.dataset_id)))
                    .join(ids, ids.c.id == Resource.dataset_id)
                    .where(Resource.state == "active", Resource.format.is_not(None)).group_by(fmt))
        elif field in ("theme", "license_id", "access_level"):
            col = getattr(Dataset, field)
            stmt = select(col, func.count()).join(ids, ids.c.id == Dataset.id).where(col.is_not(None)).group_by(col)
        else:
            continue
        rows = db.execute(stmt.order_by(func.count().desc()).limit(query.facet_limit)).all()
        out[field] = {str(value): count for value, count in rows}
    return out
