"""SQLite full-text index of datasets: an FTS5 table of n-gram terms (see ngrams.py)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

CREATE = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS dataset_fts USING fts5("
    "dataset_id UNINDEXED, body, tokenize = \"unicode61 remove_diacritics 0 tokenchars '|'\")"
)


def upsert(db: Session, dataset_id: str, body: str) -> None:
    db.execute(text("DELETE FROM dataset_fts WHERE dataset_id = :id"), {"id": dataset_id})
    db.execute(text("INSERT INTO dataset_fts (dataset_id, body) VALUES (:id, :body)"), {"id": dataset_id, "body": body})


def delete(db: Session, dataset_id: str) -> None:
    db.execute(text("DELETE FROM dataset_fts WHERE dataset_id = :id"), {"id": dataset_id})


def match_expression(phrases: list[list[str]]) -> str:
    def quote(term: str) -> str:
        return '"' + term.replace('"', '""') + '"'

    return " AND ".join("(" + " ".join(quote(t) for t in p) + ")" if len(p) == 1 else
                        '"' + " ".join(t.replace('"', '""') for t in p) + '"' for p in phrases)


def matching_ids_sql() -> str:
    """SQL selecting (dataset_id, score) for `:match`; lower score is better (bm25)."""
    return "SELECT dataset_id, bm25(dataset_fts) AS score FROM dataset_fts WHERE dataset_fts MATCH :match"
