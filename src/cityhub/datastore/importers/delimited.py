"""CSV and TSV: encoding confirmed over the whole file, delimiter sniffed, parsed by pyarrow.

All columns are read as strings here; types are decided afterwards over the whole column.
"""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from cityhub.datastore.importers.base import RawTable, clean_column_names
from cityhub.datastore.importers.encoding import detect_encoding, transcode_to_utf8, verify_utf8
from cityhub.errors import Invalid
from cityhub.settings import Settings

_CANDIDATES = ",\t;|"


def sniff_delimiter(head: str) -> str:
    """The delimiter of the first lines: csv.Sniffer, else the candidate most consistent per line."""
    lines = [ln for ln in head.splitlines()[:50] if ln.strip()]
    if not lines:
        return ","
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=_CANDIDATES).delimiter
    except csv.Error:
        pass
    best, best_score = ",", 0
    for cand in _CANDIDATES:
        counts = [ln.count(cand) for ln in lines]
        if counts[0] and all(c == counts[0] for c in counts):
            if counts[0] > best_score:
                best, best_score = cand, counts[0]
    return best


def _header(utf8_path: Path, delimiter: str | None) -> tuple[list[str], str]:
    with utf8_path.open("rb") as fh:
        sample = fh.read(64 * 1024)
    try:
        head = codecs.getincrementaldecoder("utf-8-sig")().decode(sample, final=False)
    except UnicodeDecodeError:
        verify_utf8(utf8_path)  # raises Invalid naming the line
        raise
    if not head.strip():
        raise Invalid.field("file", "the file is empty")
    delimiter = delimiter or sniff_delimiter(head)
    first = next(csv.reader(io.StringIO(head), delimiter=delimiter), [])
    if not any(cell.strip() for cell in first):
        raise Invalid.field("line 1", "the header row is empty")
    return first, delimiter


def _parse(path: Path, names: list[str], delimiter: str, *, threads: bool, bad: list,
           multiline: bool = True) -> pa.Table:
    def on_bad_row(row) -> str:  # noqa: ANN001
        bad.append(row)
        return "skip" if threads else "error"

    table = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, use_threads=threads,
                                       block_size=16 << 20),
        parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=multiline,
                                         invalid_row_handler=on_bad_row),
        convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                             strings_can_be_null=False, quoted_strings_can_be_null=False),
    )
    return table


def _ragged(path: Path, names: list[str], delimiter: str) -> Invalid:
    """Re-parse on one thread, which knows physical line numbers, to name the first ragged row."""
    bad: list = []
    try:
        _parse(path, names, delimiter, threads=False, bad=bad)
    except pa.ArrowInvalid as exc:
        if not bad:
            return Invalid.field("file", f"ragged rows: {exc}")
    row = bad[0]
    where = f"line {row.number}" if row.number else "a row"
    message = f"has {row.actual_columns} values but the header has {row.expected_columns} columns"
    return Invalid(f"{where} {message}", details={where: [message]})


def _parse_all(source: Path, names: list[str], delimiter: str) -> pa.Table:
    """Fast parse first (no newlines inside quoted values, which lets Arrow split blocks freely);
    if rows come out ragged, parse again allowing them; still ragged means the file is."""
    for multiline in (False, True):
        bad: list = []
        try:
            table = _parse(source, names, delimiter, threads=True, bad=bad, multiline=multiline)
        except pa.ArrowInvalid as exc:
            if "UTF8" in str(exc) or "utf8" in str(exc).lower():
                verify_utf8(source)  # Arrow checks UTF-8 as it converts; this names the line
            raise Invalid.field("file", f"the file could not be parsed as CSV: {exc}") from None
        if not bad:
            return table
    raise _ragged(source, names, delimiter)


def read_delimited(path: Path, settings: Settings, *, delimiter: str | None = None) -> RawTable:
    """Read a CSV/TSV file into string columns; Invalid names bad lines (encoding, ragged rows)."""
    encoding = detect_encoding(path)
    source, temp = path, None
    if encoding not in ("utf-8", "utf-8-sig"):
        temp = source = transcode_to_utf8(path, encoding, settings.data_dir / "tmp")
    try:
        header, delimiter = _header(source, delimiter)
        names = clean_column_names(header)
        table = _parse_all(source, names, delimiter)
    finally:
        if temp is not None:
            temp.unlink(missing_ok=True)
    return RawTable(columns=names, table=table, encoding=encoding, first_data_line=2)
