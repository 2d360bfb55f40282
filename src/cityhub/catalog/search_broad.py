"""Word searches over the whole catalog on SQLite, answered mostly inside the FTS5 index.

Why: a broad word (`교통` matches 20,000 of 150,000 datasets) made the joined path rank every match
with bm25 (~100 ms), join every match to its projection row to check visibility (~70 ms) and read
every match again for facets. Here:

- Visibility. Every active dataset's index entry carries a term for its access level
  (search_sqlite.VISIBILITY_TERMS). Levels the caller reads wholesale (the policy answers for a
  dataset of that level with no owner and no grant, as for the stored facet counts) are an index
  intersection: `(words) AND "|vpub"`. Datasets of other levels the caller may still see (their
  organizations' restricted ones, grants) are matched by their level's term and then joined and
  checked with `policy.visible_dataset_clause` — every page, count and facet query carries that
  clause, so nothing the caller may not see is ever counted or shown.
- Order ("relevance"). Up to RANK_LIMIT visible matches are ranked by bm25 (a title hit weighs 3×).
  Above that, bm25 of every match costs more than the page is worth, so the rule is: datasets with
  the words in their title first, then the others; within each, the most recently changed first
  (index keys follow the order of change, see search.reindex, so this is a backwards index walk).
  Other sorts (modified, name, …) order the visible matches exactly, as the joined path does.
- Facets. Exact up to FACET_EXACT_LIMIT visible matches. Above it, counts for the wholesale levels
  are estimated from a fixed pseudo-random sample of about FACET_SAMPLE matches (a hash of the
  index key, so the same query always gives the same counts), scaled to the exact total; counts of
  datasets seen one by one are always exact. The total itself is always exact. The wholesale matches'
  keys are read once from the index (their number is the total's part) and counted against every
  row's facet codes held in memory (search_code_cache.py), a numpy gather. The sample still pays:
  exact counts of 20,000 matches meet thousands of distinct keywords, and naming and ranking them
  cost 5–7 ms more per search. Datasets seen one by one are counted from their stored code blobs
  (search_codes.py).

Only searches with words and no filters take this path (search.run_search decides); filtered,
draft and PostgreSQL searches take the joined path.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
from sqlalchemy import literal_column, select, text
from sqlalchemy.orm import Session

from cityhub.catalog import search_code_cache, search_codes, search_facets
from cityhub.catalog.schemas import DatasetSearch
from cityhub.catalog.search_docs import DatasetSearchDoc as Doc
from cityhub.catalog.search_sqlite import VISIBILITY_TERMS, quote
from cityhub.ctx import RequestContext

RANK_LIMIT = 1_000
FACET_EXACT_LIMIT = 3_000
FACET_SAMPLE = 1_500
HASH_BUCKETS = 1024


class Levels:
    """Which access levels the caller reads wholesale, and which only one by one."""

    def __init__(self, ctx: RequestContext, query: DatasetSearch) -> None:
        allowed = list(VISIBILITY_TERMS) if query.include_private else ["public"]
        self.wholesale = [lvl for lvl in search_facets.wholesale_levels(ctx) if lvl in allowed]
        # Only a signed-in caller (or one with organizations) can see anything beyond whole levels.
        beyond = ctx.actor.is_authenticated or bool(ctx.actor.org_ids)
        self.one_by_one = [lvl for lvl in allowed if lvl not in self.wholesale] if beyond else []
        self.any = self.wholesale + self.one_by_one


def _terms(levels: list[str]) -> str:
    return "(" + " OR ".join(quote(VISIBILITY_TERMS[lvl]) for lvl in levels) + ")"


def _within(match: str, levels: list[str]) -> str:
    return f"({match}) AND {_terms(levels)}"


def _fts(match: str) -> Any:
    return text("SELECT rowid AS key FROM dataset_fts WHERE dataset_fts MATCH :m").bindparams(m=match) \
        .columns(literal_column("key")).subquery("fts")


def _joined(match: str, where: Any, *columns: Any) -> Any:
    fts = _fts(match)
    return select(*columns).select_from(fts.join(Doc, fts.c.key == Doc.doc)).where(where), fts


def wholesale_keys(db: Session, levels: Levels, match: str) -> np.ndarray:
    """Index keys of the visible matches of the wholesale levels, by the index alone (their number is
    their count, and they are what the facet pass counts)."""
    raw = db.connection().connection.driver_connection  # thousands of plain integers: no result rows
    rows = raw.execute("SELECT rowid FROM dataset_fts WHERE dataset_fts MATCH ?",
                       (_within(match, levels.wholesale),)).fetchall()
    return np.fromiter((k for (k,) in rows), dtype=np.int64, count=len(rows))


def count_parts(db: Session, levels: Levels, match: str, where: Any, known: int | None = None) -> tuple[int, int]:
    """Visible matches of the wholesale levels (by the index alone; `known` when already counted) and of
    the others (joined and policy-checked)."""
    n = m = 0
    if known is not None:
        n = known
    elif levels.wholesale:
        n = db.execute(text("SELECT count(*) FROM dataset_fts WHERE dataset_fts MATCH :m"),
                        {"m": _within(match, levels.wholesale)}).scalar_one()
    if levels.one_by_one:
        stmt, _ = _joined(_within(match, levels.one_by_one), where, literal_column("count(*)"))
        m = db.execute(stmt).scalar_one()
    return n, m


def count(db: Session, levels: Levels, match: str, where: Any) -> int:
    return sum(count_parts(db, levels, match, where))


def _page_newest(db: Session, levels: Levels, match: str, where: Any, limit: int, offset: int) -> list[str]:
    if not levels.one_by_one:  # the index alone answers: its entries carry the dataset id
        return list(db.execute(text("SELECT dataset_id FROM dataset_fts WHERE dataset_fts MATCH :m "
                                    "ORDER BY rowid DESC LIMIT :limit OFFSET :offset"),
                               {"m": _within(match, levels.wholesale), "limit": limit, "offset": offset}).scalars())
    stmt, fts = _joined(_within(match, levels.any), where, Doc.dataset_id)
    return list(db.scalars(stmt.order_by(fts.c.key.desc()).limit(limit).offset(offset)))


def _page_title_first(db: Session, levels: Levels, words: str, where: Any, query: DatasetSearch) -> list[str]:
    in_title = f"{{title}} : ({words})"
    elsewhere = f"({words}) NOT ({in_title})"
    # The first page needs no count of title hits: take them, then fill up from the others.
    titled = count(db, levels, in_title, where) if query.offset else 0
    ids: list[str] = []
    if query.offset == 0 or query.offset < titled:
        ids = _page_newest(db, levels, in_title, where, query.limit, query.offset)
        if query.offset == 0 and len(ids) < query.limit:
            titled = len(ids)
    if len(ids) < query.limit:
        ids += _page_newest(db, levels, elsewhere, where, query.limit - len(ids),
                            max(0, query.offset - titled))
    return ids


def _page_ordered(db: Session, levels: Levels, words: str, where: Any, order: list[Any],
                  query: DatasetSearch) -> list[str]:
    stmt, _ = _joined(_within(words, levels.any), where, Doc.dataset_id)
    return list(db.scalars(stmt.order_by(*order).limit(query.limit).offset(query.offset)))


def _page_ranked(db: Session, levels: Levels, words: str, where: Any, query: DatasetSearch) -> list[str]:
    # bm25 on the words alone (a visibility term in the expression would weigh into every score)
    fts = text("SELECT rowid AS key, bm25(dataset_fts, 0.0, 3.0, 1.0) AS score FROM dataset_fts "
               "WHERE dataset_fts MATCH :m").bindparams(m=words) \
        .columns(literal_column("key"), literal_column("score")).subquery("fts")
    stmt = (select(Doc.dataset_id).select_from(fts.join(Doc, fts.c.key == Doc.doc)).where(where)
            .order_by(fts.c.score, Doc.modified_at.desc(), Doc.name).limit(query.limit).offset(query.offset))
    return list(db.scalars(stmt))


def page(db: Session, levels: Levels, words: str, where: Any, query: DatasetSearch, total: int,
         order: list[Any] | None) -> list[str]:
    """The ids of the requested page (`order` for sorts other than relevance)."""
    if not query.limit or not levels.any or query.offset >= total:
        return []
    if order is not None:
        return _page_ordered(db, levels, words, where, order, query)
    if total <= RANK_LIMIT:
        return _page_ranked(db, levels, words, where, query)
    return _page_title_first(db, levels, words, where, query)


# The top 10 bits of a 32-bit multiplicative hash of the key: a sample that ignores key order.
def _sample(keys: np.ndarray, cut: int) -> np.ndarray:
    return keys[(((keys * 2654435761) & 0xFFFFFFFF) >> 22) < cut]


def _tally_checked(db: Session, match: str, where: Any, fields: list[str]) -> tuple[int, dict[str, Counter]]:
    codes = search_codes.FacetCodes
    stmt, _ = _joined(match, where, codes.codes)
    return search_codes.tally(db, db.scalars(stmt.outerjoin(codes, codes.doc == Doc.doc)), fields)


def facets(db: Session, levels: Levels, words: str, where: Any, parts: tuple[int, int],
           fields: list[str], keys: np.ndarray | None = None) -> dict[str, Counter]:
    """Facet counts of the visible matches (exact, or estimated for the wholesale levels; see above).
    `keys`: the wholesale matches' keys (wholesale_keys), when already read."""
    wholesale_total, _ = parts
    out: dict[str, Counter] = {f: Counter() for f in fields}
    if levels.wholesale and wholesale_total:
        cut = None
        if sum(parts) > FACET_EXACT_LIMIT:
            cut = max(1, min(HASH_BUCKETS, -(-HASH_BUCKETS * FACET_SAMPLE // wholesale_total)))
        if keys is None:
            keys = wholesale_keys(db, levels, words)
        # Wholesale levels need no policy clause: their visibility term already says "active, of a level
        # the caller reads whole" (and this path runs only without filters). Codes come from memory.
        sampled, counters = search_code_cache.tally(db, _sample(keys, cut) if cut is not None else keys, fields)
        scale = wholesale_total / sampled if sampled and cut is not None else 1.0
        for f in fields:
            out[f].update({v: max(1, round(n * scale)) for v, n in counters[f].items()})
    if levels.one_by_one:
        _, exact = _tally_checked(db, _within(words, levels.one_by_one), where, fields)
        for f in fields:
            out[f].update(exact[f])
    return out
