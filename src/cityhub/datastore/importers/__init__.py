"""Readers that turn an uploaded tabular file into a RawTable: column names plus string columns.

Every reader hands back the same shape so type inference (`cityhub.datastore.infer`) runs over the
whole of every column, whatever the source format. Bad input raises `Invalid` naming the line,
column or field; nothing is written by a reader except temporary files it deletes itself.
"""

from __future__ import annotations

from pathlib import Path

from cityhub.datastore.importers.base import RawTable
from cityhub.errors import Invalid
from cityhub.settings import Settings

TABULAR_FORMATS = frozenset({"CSV", "TSV", "XLSX", "JSON", "GEOJSON"})
_SUFFIXES = {".csv": "CSV", ".tsv": "TSV", ".txt": "CSV", ".xlsx": "XLSX", ".json": "JSON",
             ".geojson": "GEOJSON"}


def guess_format(path: Path, declared: str | None = None) -> str | None:
    """The tabular format of a file, from its declared format or else its name; None if not tabular."""
    fmt = (declared or "").strip().upper().lstrip(".")
    if fmt in TABULAR_FORMATS:
        return fmt
    return _SUFFIXES.get(path.suffix.lower())


def read_tabular(path: Path, fmt: str, settings: Settings) -> RawTable:
    """Read `path` as `fmt` (CSV, TSV, XLSX, JSON, GEOJSON) into a RawTable of string columns."""
    if path.stat().st_size == 0:
        raise Invalid.field("file", "the file is empty")
    if fmt in ("CSV", "TSV"):
        from cityhub.datastore.importers.delimited import read_delimited

        return read_delimited(path, settings, delimiter="\t" if fmt == "TSV" else None)
    if fmt == "XLSX":
        from cityhub.datastore.importers.xlsx import read_xlsx

        return read_xlsx(path, settings)
    if fmt in ("JSON", "GEOJSON"):
        from cityhub.datastore.importers.json_records import read_json

        return read_json(path, settings)
    raise Invalid.field("format", f"{fmt} is not a tabular format (CSV, TSV, XLSX, JSON, GeoJSON)")


__all__ = ["RawTable", "TABULAR_FORMATS", "guess_format", "read_tabular"]
