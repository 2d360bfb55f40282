"""Facet values per search row as small integers: facet counts from one narrow read of the matches.

Why: counting facets by reading the matched projection rows (six text columns each, keywords and
formats as joined strings) and grouping them cost 7–10 ms for 2,500 matches and 50 ms for 20,000 —
most of a faceted search. Each facet value (field, value) gets a code once, in
`dataset_facet_values`; each projection row's values are kept as one packed array of codes in
`dataset_facet_codes`, keyed by the row's key (`doc`, the SQLite FTS5 rowid). A facet pass then reads
one short blob per match and counts all codes at once with numpy; only the codes that occur are turned
back into values.

Which rows are counted is decided exactly as before, by the caller's query (the FTS5 visibility terms
for wholesale levels, `policy.visible_dataset_clause` for the rest): this table only says what a row's
values are. It moves in the same transaction as the projection row (`search.reindex`/`unindex`), so it
is never older than what it describes. Codes are never reused or renumbered (a rebuild keeps them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from sqlalchemy import Integer, LargeBinary, String, UniqueConstraint, delete, insert, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from cityhub.catalog.search_docs import split
from cityhub.db import Base

# facet field -> projection column; multi-valued columns hold SEP-joined values (as search_facets)
COLUMNS = {"organization": "owner_org_id", "theme": "theme", "license_id": "license_id",
           "access_level": "access_level", "keywords": "keywords", "format": "formats"}
MULTI = frozenset({"keywords", "format"})
DTYPE = "<i4"  # little-endian 32-bit codes, whatever the machine


class FacetValue(Base):
    __tablename__ = "dataset_facet_values"
    __table_args__ = (UniqueConstraint("field", "value"),)

    code: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    field: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(200))


class FacetCodes(Base):
    __tablename__ = "dataset_facet_codes"

    doc: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    codes: Mapped[bytes] = mapped_column(LargeBinary)


def values_of(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field, value) pairs of a projection row, one per occurrence (as the counts have always counted)."""
    out = []
    for field, column in COLUMNS.items():
        value = row.get(column)
        for v in (split(value) if field in MULTI else [value]):
            if v:
                out.append((field, str(v)[:200]))
    return out


def _codes_for(db: Session, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Codes of these (field, value) pairs, giving new ones their code."""
    if not pairs:
        return {}
    values = sorted({v for _, v in pairs})
    found = _lookup(db, values)
    missing = [{"field": f, "value": v} for f, v in sorted(pairs - found.keys())]
    if missing:
        make = sqlite.insert if db.get_bind().dialect.name == "sqlite" else postgresql.insert
        db.execute(make(FacetValue).on_conflict_do_nothing(index_elements=["field", "value"]), missing)
        found = _lookup(db, values)
    return found


def _lookup(db: Session, values: list[str]) -> dict[tuple[str, str], int]:
    found: dict[tuple[str, str], int] = {}
    for start in range(0, len(values), 5_000):  # under every driver's limit of bound parameters
        stmt = select(FacetValue.code, FacetValue.field, FacetValue.value) \
            .where(FacetValue.value.in_(values[start:start + 5_000]))
        found.update({(f, v): c for c, f, v in db.execute(stmt)})
    return found


def write(db: Session, rows: list[tuple[int, Mapping[str, Any]]]) -> None:
    """Store the codes of projection rows given as (doc, row) (keys not stored yet)."""
    if not rows:
        return
    pairs = [(doc, values_of(row)) for doc, row in rows]
    codes = _codes_for(db, {p for _, ps in pairs for p in ps})
    db.execute(insert(FacetCodes), [{"doc": doc, "codes": np.array([codes[p] for p in ps], dtype=DTYPE).tobytes()}
                                    for doc, ps in pairs])


def remove(db: Session, doc: int | None) -> None:
    if doc is not None:
        db.execute(delete(FacetCodes).where(FacetCodes.doc == doc))


def clear(db: Session) -> None:
    """Forget every row's codes (the value codes stay: they are never renumbered)."""
    db.execute(delete(FacetCodes))


def count(blobs: Iterable[bytes | None]) -> tuple[int, dict[int, int]]:
    """The number of rows and how often each code occurs in them."""
    parts = list(blobs)
    joined = b"".join(b for b in parts if b)
    if not joined:
        return len(parts), {}
    counts = np.bincount(np.frombuffer(joined, dtype=DTYPE))
    present = np.flatnonzero(counts)
    return len(parts), dict(zip(present.tolist(), counts[present].tolist(), strict=True))


def decode(db: Session, counts: dict[int, int], fields: list[str]) -> dict[str, Counter]:
    """Per-field counts of values from per-code counts (only the requested fields)."""
    out: dict[str, Counter] = {f: Counter() for f in fields}
    if not counts or not fields:
        return out
    rows = db.execute(select(FacetValue.code, FacetValue.field, FacetValue.value)
                      .where(FacetValue.code.in_(list(counts)), FacetValue.field.in_(fields)))
    for code, field, value in rows:
        out[field][value] += counts[code]
    return out


def tally(db: Session, blobs: Iterable[bytes | None], fields: list[str]) -> tuple[int, dict[str, Counter]]:
    """Total and per-field counts of the rows whose code blobs are given."""
    total, counts = count(blobs)
    return total, decode(db, counts, fields)


def rebuild(db: Session) -> None:
    """Recompute every projection row's codes (the value codes are kept)."""
    from cityhub.catalog.search_docs import DatasetSearchDoc as Doc

    clear(db)
    cols = [Doc.doc, *(getattr(Doc, c) for c in COLUMNS.values())]
    batch: list[tuple[int, Mapping[str, Any]]] = []
    for row in db.execute(select(*cols)).mappings().all():
        batch.append((row["doc"], row))
        if len(batch) >= 5_000:
            write(db, batch)
            batch = []
    write(db, batch)
    if inspect(db.connection()).has_table("dataset_facet_counts"):  # codes rewritten: every worker reloads
        from cityhub.catalog.search_code_cache import renumbered

        renumbered(db)
