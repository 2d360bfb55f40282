"""SQLite full-text index of datasets: an FTS5 table of n-gram terms (see ngrams.py).

Each entry's rowid is the dataset's key in the search projection (search_docs.py), so a match joins
its projection row by integer key and an entry is replaced or removed by rowid, not by scanning the
unindexed `dataset_id` column.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

CREATE = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS dataset_fts USING fts5("
    "dataset_id UNINDEXED, body, tokenize = \"unicode61 remove_diacritics 0 tokenchars '|'\")"
)
KEY = "doc"  # the projection column the match's `key` joins


def upsert(db: Session, doc: int, dataset_id: str, body: str) -> None:
    db.execute(text("DELETE FROM dataset_fts WHERE rowid = :doc"), {"doc": doc})
    db.execute(text("INSERT INTO dataset_fts (rowid, dataset_id, body) VALUES (:doc, :id, :body)"),
               {"doc": doc, "id": dataset_id, "body": body})


def insert_many(db: Session, rows: list[dict]) -> None:
    """Rows of {"doc", "id", "body"} not in the index yet (bulk loads)."""
    db.execute(text("INSERT INTO dataset_fts (rowid, dataset_id, body) VALUES (:doc, :id, :body)"), rows)


def delete(db: Session, doc: int | None, dataset_id: str) -> None:
    if doc is not None:
        db.execute(text("DELETE FROM dataset_fts WHERE rowid = :doc"), {"doc": doc})


def clear(db: Session) -> None:
    db.execute(text("DELETE FROM dataset_fts"))


def match_expression(phrases: list[list[str]]) -> str:
    def quote(term: str) -> str:
        return '"' + term.replace('"', '""') + '"'

    return " AND ".join("(" + " ".join(quote(t) for t in p) + ")" if len(p) == 1 else
                        '"' + " ".join(t.replace('"', '""') for t in p) + '"' for p in phrases)


def matching_sql() -> str:
    """SQL selecting (key, score) for `:match`; lower score is better (bm25)."""
    return "SELECT rowid AS key, bm25(dataset_fts) AS score FROM dataset_fts WHERE dataset_fts MATCH :match"
