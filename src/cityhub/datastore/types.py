"""The datastore's column types and how each maps to storage, CKAN and Arrow."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Date, DateTime, Float, Text
from sqlalchemy.types import TypeEngine

# Ordered from most to least specific; inference walks down this list per column.
COLUMN_TYPES = ("integer", "number", "boolean", "date", "datetime", "text", "geometry")

# CKAN's datastore type names, for the CKAN adapter (datastore_search `fields`).
CKAN_TYPES = {
    "integer": "int",
    "number": "numeric",
    "boolean": "bool",
    "date": "date",
    "datetime": "timestamp",
    "text": "text",
    "geometry": "text",
}

ID_COLUMN = "_id"
RESERVED_COLUMNS = frozenset({ID_COLUMN})
# PostgreSQL silently truncates identifiers longer than this; we refuse them instead.
MAX_IDENTIFIER_BYTES = 63


def storage_type(column_type: str, *, sqlite: bool) -> TypeEngine:
    """The SQLAlchemy type a column is stored as.

    On SQLite dates and datetimes are ISO text ('2024-01-05', '2024-01-05T10:00:00') so they sort and
    compare correctly in SQL and come back exactly as stored; PostgreSQL gets real DATE/TIMESTAMP.
    Geometry is GeoJSON text on both (no spatial extension is required).
    """
    if column_type == "integer":
        return BigInteger()
    if column_type == "number":
        return Float()
    if column_type == "boolean":
        return Boolean()
    if column_type == "date":
        return Text() if sqlite else Date()
    if column_type == "datetime":
        return Text() if sqlite else DateTime()
    return Text()
