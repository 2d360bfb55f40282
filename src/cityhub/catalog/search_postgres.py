"""PostgreSQL full-text index of datasets: a tsvector of n-gram terms (see ngrams.py) with GIN.

Entries are keyed by dataset id; a match joins the search projection (search_docs.py) on it.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

CREATE = (
    "CREATE TABLE IF NOT EXISTS dataset_fts (dataset_id varchar(36) PRIMARY KEY, tsv tsvector NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ix_dataset_fts_tsv ON dataset_fts USING gin (tsv)",
)
KEY = "dataset_id"  # the projection column the match's `key` joins


def upsert(db: Session, doc: int, dataset_id: str, body: str, *, title: str = "", vis: str = "",
           old_doc: int | None = None) -> None:
    """`title` and `vis` serve SQLite's broad-search path only; here the GIN index and the
    projection join answer every search."""
    db.execute(
        text(
            "INSERT INTO dataset_fts (dataset_id, tsv) VALUES (:id, to_tsvector('simple', :body)) "
            "ON CONFLICT (dataset_id) DO UPDATE SET tsv = excluded.tsv"
        ),
        {"id": dataset_id, "body": body},
    )


def insert_many(db: Session, rows: list[dict]) -> None:
    """Rows of {"doc", "id", "body"} not in the index yet (bulk loads)."""
    db.execute(text("INSERT INTO dataset_fts (dataset_id, tsv) VALUES (:id, to_tsvector('simple', :body))"),
               [{"id": r["id"], "body": r["body"]} for r in rows])


def delete(db: Session, doc: int | None, dataset_id: str) -> None:
    db.execute(text("DELETE FROM dataset_fts WHERE dataset_id = :id"), {"id": dataset_id})


def clear(db: Session) -> None:
    db.execute(text("DELETE FROM dataset_fts"))


def match_expression(phrases: list[list[str]]) -> str:
    """A tsquery: each phrase's terms adjacent (<->), phrases AND-ed."""

    def lexeme(term: str) -> str:
        return "'" + term.replace("'", "''").replace("\\", "\\\\") + "'"

    return " & ".join("(" + " <-> ".join(lexeme(t) for t in p) + ")" for p in phrases)


def matching_sql() -> str:
    """SQL selecting (key, score) for `:match`; lower score is better."""
    return (
        "SELECT dataset_id AS key, -ts_rank(tsv, to_tsquery('simple', :match)) AS score FROM dataset_fts "
        "WHERE tsv @@ to_tsquery('simple', :match)"
    )
