"""What the datastore's services return. Plain dataclasses: orjson serialises them without copying."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class LoadResult:
    """The outcome of loading a file into a resource's typed table."""

    table: str
    row_count: int
    fields: list[dict[str, str]]
    indexes: list[list[str]]
    seconds: float
    encoding: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class DatastoreResult:
    """A page of rows, shaped like CKAN's datastore_search result."""

    resource_id: str
    fields: list[dict[str, str]]  # [{"id": "_id", "type": "integer"}, ...]
    records: list[dict[str, Any]]
    total: int | None
    total_was_estimated: bool
    limit: int
    offset: int


@dataclass
class DatastoreInfo:
    resource_id: str
    table: str
    row_count: int
    fields: list[dict[str, str]]
    indexes: list[list[str]]
    text_index: bool
    source_format: str | None
    encoding: str | None
    warnings: list[str]


@dataclass
class Download:
    """A streamed export: iterate `chunks` (bytes) once; the table is never held in memory."""

    media_type: str
    filename: str
    chunks: Iterator[bytes]
