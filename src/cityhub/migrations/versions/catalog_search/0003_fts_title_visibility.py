"""catalog_search: SQLite full-text index gets a title column and visibility terms; keys in order of change

Broad searches rank title hits first and check wholesale visibility inside the index
(catalog/search_broad.py). PostgreSQL's index is unchanged.

Revision ID: catalog_search_0003
Revises: catalog_search_0002
"""
from __future__ import annotations

from alembic import op
from sqlalchemy.orm import Session

revision = "catalog_search_0003"
down_revision = "catalog_search_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    from cityhub.catalog import search, search_sqlite

    op.execute("DROP TABLE IF EXISTS dataset_fts")
    op.execute(search_sqlite.CREATE)
    session = Session(bind=op.get_bind())
    search.rebuild(session)
    session.flush()


def downgrade() -> None:
    """The new index answers every query the old one did; nothing to undo."""
