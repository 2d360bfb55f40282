"""The shape every reader produces, and the column-name rules every reader applies."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from cityhub.datastore.types import MAX_IDENTIFIER_BYTES, RESERVED_COLUMNS
from cityhub.errors import Invalid


@dataclass
class RawTable:
    """Column names and string columns (null = missing). `forced` fixes a column's type (geometry)."""

    columns: list[str]
    table: pa.Table
    forced: dict[str, str] = field(default_factory=dict)
    encoding: str | None = None
    # For line-based sources: data row i sits on line i + first_data_line (used in messages).
    first_data_line: int | None = None
    warnings: list[str] = field(default_factory=list)


def clean_column_names(names: list[object]) -> list[str]:
    """Trimmed header names; a nameless column becomes `column_N`. Raises Invalid on bad names.

    SQLite compares column names case-insensitively, so `Name` and `name` count as duplicates on
    both backends (the same file must load the same way everywhere).
    """
    cleaned = [str(n).strip() if n is not None else "" for n in names]
    cleaned = [n or f"column_{i + 1}" for i, n in enumerate(cleaned)]
    seen: dict[str, str] = {}
    duplicates: list[str] = []
    for name in cleaned:
        key = name.casefold()
        if key in seen and name not in duplicates:
            duplicates.append(name)
        seen.setdefault(key, name)
    if duplicates:
        listed = ", ".join(f'"{d}"' for d in duplicates)
        raise Invalid(f"duplicate column names: {listed}",
                      details={"columns": [f'duplicate column name "{d}"' for d in duplicates]})
    for name in cleaned:
        if name in RESERVED_COLUMNS:
            raise Invalid.field(f'column "{name}"', f'"{name}" is reserved for the row id; rename the column')
        if len(name.encode()) > MAX_IDENTIFIER_BYTES:
            raise Invalid.field(f'column "{name}"',
                                f"column name is longer than {MAX_IDENTIFIER_BYTES} bytes; shorten it")
        if "\x00" in name:
            raise Invalid.field(f'column "{name}"', "column name contains a NUL character")
    return cleaned
