"""Facet counts of the whole catalog, kept per access level as datasets change.

Why: browsing without a query (the portal's search page, CKAN package_search without q) would
otherwise count facets over every visible dataset — seconds with 150,000 of them. Counts of active
datasets are kept per (access level, field, value) and moved in the same transaction as the search
projection row (`apply`). A caller who may read every dataset of an access level (the policy says
so for a dataset of that level with no owner and no grant) gets that level's counts from here; the
few datasets they see one by one (their organizations' restricted ones, grants) are counted live
under `policy.visible_dataset_clause`, so counts never include what the caller may not see.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import Integer, String, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from cityhub.auth import policy
from cityhub.catalog.refs import DatasetRef
from cityhub.catalog.search_docs import DatasetSearchDoc, split
from cityhub.ctx import RequestContext
from cityhub.db import Base

ACCESS_LEVELS = ("public", "internal", "restricted")
# facet field -> projection column; multi-valued columns hold SEP-joined values
COLUMNS = {"organization": "owner_org_id", "theme": "theme", "license_id": "license_id",
           "access_level": "access_level", "keywords": "keywords", "format": "formats"}
MULTI = frozenset({"keywords", "format"})


class FacetCount(Base):
    __tablename__ = "dataset_facet_counts"

    access_level: Mapped[str] = mapped_column(String(20), primary_key=True)
    field: Mapped[str] = mapped_column(String(20), primary_key=True)
    value: Mapped[str] = mapped_column(String(200), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)


def contributions(row: dict[str, Any] | None) -> Counter:
    """What one projection row adds to the counts (nothing unless it is active)."""
    out: Counter = Counter()
    if not row or row.get("state") != "active":
        return out
    level = row["access_level"]
    for field, column in COLUMNS.items():
        value = row.get(column)
        for v in (split(value) if field in MULTI else [value]):
            if v:
                out[(level, field, str(v)[:200])] += 1
    return out


def apply(db: Session, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
    """Move the counts from a row's old values to its new ones (either may be None)."""
    delta = contributions(new)
    delta.subtract(contributions(old))
    changes = [{"access_level": k[0], "field": k[1], "value": k[2], "n": d} for k, d in delta.items() if d]
    if changes:
        _add(db, changes)


def _add(db: Session, rows: list[dict[str, Any]]) -> None:
    make = sqlite.insert if db.get_bind().dialect.name == "sqlite" else postgresql.insert
    stmt = make(FacetCount)
    db.execute(stmt.on_conflict_do_update(index_elements=["access_level", "field", "value"],
                                          set_={"n": FacetCount.n + stmt.excluded.n}), rows)


def rebuild(db: Session) -> None:
    """Recount everything from the search projection (search_code_cache's token rows stay)."""
    db.execute(FacetCount.__table__.delete().where(FacetCount.access_level != "~"))
    total: Counter = Counter()
    cols = [getattr(DatasetSearchDoc, c) for c in ("state", *dict.fromkeys(COLUMNS.values()))]
    for row in db.execute(select(*cols).where(DatasetSearchDoc.state == "active")).mappings():
        total.update(contributions(dict(row)))
    rows = [{"access_level": k[0], "field": k[1], "value": k[2], "n": n} for k, n in total.items()]
    for start in range(0, len(rows), 5_000):
        db.execute(FacetCount.__table__.insert(), rows[start:start + 5_000])


def wholesale_levels(ctx: RequestContext) -> list[str]:
    """Access levels whose every dataset the caller may read, as the policy answers for a dataset of
    that level with no owner and no grant (none for a dataset-scoped token)."""
    if policy.dataset_scopes(ctx) is not None:
        return []  # a dataset-scoped token reads only its datasets, one by one
    probe = "00000000-0000-0000-0000-000000000000"
    return [level for level in ACCESS_LEVELS if policy.can_read_dataset(
        ctx, DatasetRef(id=probe, name=probe, title="", access_level=level, owner_org_id=None))]


def stored_counts(db: Session, levels: list[str], fields: list[str]) -> tuple[int, dict[str, Counter]]:
    """Total and per-field counts of the active datasets in `levels`."""
    out: dict[str, Counter] = {f: Counter() for f in fields}
    total = 0
    if not levels:
        return 0, out
    wanted = list({*fields, "access_level"})
    rows = db.execute(select(FacetCount.field, FacetCount.value, func.sum(FacetCount.n))
                      .where(FacetCount.access_level.in_(levels), FacetCount.field.in_(wanted))
                      .group_by(FacetCount.field, FacetCount.value))
    for field, value, n in rows:
        if not n:
            continue
        if field == "access_level":
            total += n
        if field in out:
            out[field][value] += n
    return total, out
