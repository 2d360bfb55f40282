"""SQLite full-text index of datasets: an FTS5 table of n-gram terms (see ngrams.py).

Each entry's rowid is the dataset's key in the search projection (search_docs.py), so a match joins
its projection row by integer key and an entry is replaced or removed by rowid, not by scanning the
unindexed `dataset_id` column.

Two indexed columns: `title` (the Korean and English titles alone) and `body` (everything searched,
titles included). The title column lets broad searches put title hits first without ranking every
match (search_broad.py). An active dataset's body also ends with one visibility term per access
level (`|vpub`, `|vint`, `|vres`): typed words never contain `|`, so no query reaches them by
accident, and "matches the caller may see wholesale" becomes an index intersection, not a join.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

CREATE = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS dataset_fts USING fts5("
    "dataset_id UNINDEXED, title, body, tokenize = \"unicode61 remove_diacritics 0 tokenchars '|'\")"
)
KEY = "doc"  # the projection column the match's `key` joins
VISIBILITY_TERMS = {"public": "|vpub", "internal": "|vint", "restricted": "|vres"}
_INSERT = "INSERT INTO dataset_fts (rowid, dataset_id, title, body) VALUES (:doc, :id, :title, :body)"


def visibility_term(state: str | None, access_level: str | None) -> str:
    """The body's last term: only active datasets carry one (drafts are found by the joined path)."""
    return VISIBILITY_TERMS.get(access_level or "", "") if state == "active" else ""


def _row(doc: int, dataset_id: str, body: str, title: str, vis: str) -> dict:
    return {"doc": doc, "id": dataset_id, "title": title, "body": f"{body} {vis}" if vis else body}


def upsert(db: Session, doc: int, dataset_id: str, body: str, *, title: str = "", vis: str = "",
           old_doc: int | None = None) -> None:
    for key in {doc, old_doc} - {None}:
        db.execute(text("DELETE FROM dataset_fts WHERE rowid = :doc"), {"doc": key})
    db.execute(text(_INSERT), _row(doc, dataset_id, body, title, vis))


def insert_many(db: Session, rows: list[dict]) -> None:
    """Rows of {"doc", "id", "body", "title", "vis"} not in the index yet (bulk loads)."""
    db.execute(text(_INSERT), [_row(r["doc"], r["id"], r["body"], r.get("title", ""), r.get("vis", ""))
                               for r in rows])


def delete(db: Session, doc: int | None, dataset_id: str) -> None:
    if doc is not None:
        db.execute(text("DELETE FROM dataset_fts WHERE rowid = :doc"), {"doc": doc})


def clear(db: Session) -> None:
    db.execute(text("DELETE FROM dataset_fts"))


def quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def match_expression(phrases: list[list[str]]) -> str:
    return " AND ".join("(" + " ".join(quote(t) for t in p) + ")" if len(p) == 1 else
                        '"' + " ".join(t.replace('"', '""') for t in p) + '"' for p in phrases)


def matching_sql() -> str:
    """SQL selecting (key, score) for `:match`; lower score is better (bm25, a title hit weighs 3×)."""
    return ("SELECT rowid AS key, bm25(dataset_fts, 0.0, 3.0, 1.0) AS score FROM dataset_fts "
            "WHERE dataset_fts MATCH :match")
