"""What the datastore knows about each typed table it made (the rows live in the table itself)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from cityhub.db import Base, UTCDateTime, utcnow


class DatastoreTable(Base):
    """One row per loaded resource. Not a foreign key to resources: the catalog flushes its row in the
    same transaction, and the table is dropped through `drop_table` when the resource goes."""

    __tablename__ = "datastore_tables"

    resource_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    table_name: Mapped[str] = mapped_column(String(100), unique=True)
    row_count: Mapped[int] = mapped_column(BigInteger, default=0)
    # [{"id": name, "type": integer|number|boolean|date|datetime|text|geometry}], in file order
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # {column: {value: rows}} for low-cardinality columns: exact totals for equality filters
    histograms: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    indexes: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    text_index: Mapped[bool] = mapped_column(Boolean, default=False)  # FTS table beside it (SQLite)
    source_format: Mapped[str | None] = mapped_column(String(20))
    encoding: Mapped[str | None] = mapped_column(String(40))
    warnings: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
