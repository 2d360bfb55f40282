"""XLSX via openpyxl in read-only mode, after checking the zip is not a bomb.

The zip's directory declares each member's uncompressed size; we refuse a workbook whose total or
compression ratio is out of bounds BEFORE openpyxl inflates anything. openpyxl streams the sheet,
and inflation is also capped while reading (a lying directory cannot get past it).
"""

from __future__ import annotations

import zipfile
from datetime import date, datetime, time
from pathlib import Path

import pyarrow as pa

from cityhub.datastore.importers.base import RawTable, clean_column_names
from cityhub.errors import Invalid
from cityhub.settings import Settings

# Spreadsheet XML compresses well, but not a thousandfold; real sheets stay far below this.
MAX_RATIO = 200
RATIO_CHECK_FLOOR = 10 * 1024 * 1024


def check_zip(path: Path, settings: Settings) -> None:
    """Refuse an XLSX that is not a zip, or whose declared inflated size or ratio is too large."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError):
        raise Invalid.field("file", "not a valid XLSX workbook (it is not a zip archive)") from None
    total = sum(m.file_size for m in members)
    packed = sum(m.compress_size for m in members) or 1
    limit = settings.xlsx_max_uncompressed_bytes
    if total > limit:
        raise Invalid.field("file", f"the workbook expands to {total:,} bytes, more than the limit of "
                                    f"{limit:,} bytes (a zip bomb or a workbook too large to import)")
    if total > RATIO_CHECK_FLOOR and total / packed > MAX_RATIO:
        raise Invalid.field("file", f"the workbook's compression ratio {total // packed}:1 is implausible "
                                    f"for a spreadsheet (a zip bomb?)")


def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.time() == time(0, 0):
            return value.date().isoformat()
        return value.isoformat(timespec="seconds" if not value.microsecond else "microseconds")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    text = str(value).strip()
    return text or None


def read_xlsx(path: Path, settings: Settings) -> RawTable:
    """The first worksheet: header from the first non-empty row, then data rows as strings."""
    check_zip(path, settings)
    from openpyxl import load_workbook

    handle = path.open("rb")  # a file object: stored uploads have no .xlsx suffix for openpyxl to check
    try:
        workbook = load_workbook(handle, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for damaged files
        handle.close()
        raise Invalid.field("file", f"not a readable XLSX workbook: {exc}") from None
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header, header_line = None, 0
        for header_line, row in enumerate(rows, start=1):  # noqa: B007
            if row and any(v is not None and str(v).strip() for v in row):
                header = list(row)
                break
        if header is None:
            raise Invalid.field("file", "the workbook's first sheet is empty")
        while header and (header[-1] is None or not str(header[-1]).strip()):
            header.pop()
        names = clean_column_names(header)
        width = len(names)
        columns: list[list[str | None]] = [[] for _ in names]
        for line, row in enumerate(rows, start=header_line + 1):
            cells = [_cell_text(v) for v in row]
            if not any(c is not None for c in cells):
                continue
            if any(c is not None for c in cells[width:]):
                raise Invalid.field(f"row {line}", f"has values beyond the {width} header columns")
            cells = (cells + [None] * width)[:width]
            for col, cell in zip(columns, cells, strict=True):
                col.append(cell)
    finally:
        workbook.close()
        handle.close()
    table = pa.table({f"c{i}": pa.array(col, pa.string()) for i, col in enumerate(columns)})
    return RawTable(columns=names, table=table.rename_columns(names))
