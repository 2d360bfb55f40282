"""Column types decided over the WHOLE column, then values converted for loading.

Rules (documented for stewards):
- Missing markers "", "N/A", "n/a", "NA", "null", "NULL", "None", "-" count as null when a column is
  otherwise numeric, boolean or temporal. A late "N/A" in a numeric column therefore becomes null,
  it does not turn the column into text. Any other non-matching value, however late, makes the
  column text (and the load result warns, naming the line).
- integer: optional sign, digits, optionally with thousands separators ("1,234"); a value with a
  leading zero ("007", postal codes) keeps the column text, since the zero is meaningful.
- number: decimals and exponents, thousands separators allowed.
- boolean: true/false in any letter case.
- date: year-first forms only (2024-01-05, 2024.01.05, 2024/1/5, 20240105) — they are unambiguous and
  normalised to ISO 2024-01-05. Day- or month-first forms (01/05/2024) are ambiguous: the column stays text.
- datetime: a year-first date plus hh:mm[:ss[.ffffff]] (T or space), optionally Z or ±hh:mm; values with an
  offset are converted to UTC; stored as ISO "2024-01-05T10:00:00" (no zone).
- geometry: a GeoJSON geometry column, or derived as a Point from latitude/longitude columns.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from cityhub.datastore.importers.base import RawTable

NULL_TOKENS = pa.array(["", "N/A", "n/a", "NA", "null", "NULL", "None", "-"])
SAMPLE = 2000
_INT = r"^[+-]?(0|[1-9][0-9]{0,17}|[1-9][0-9]{0,2}(,[0-9]{3}){1,5})$"
_NUM = r"^[+-]?((0|[1-9][0-9]*|[1-9][0-9]{0,2}(,[0-9]{3})+)(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_BOOL = r"^(?i)(true|false)$"
_DATE = (r"^(?P<y>[0-9]{4})[-./](?P<m>[0-9]{1,2})[-./](?P<d>[0-9]{1,2})\.?$"
         r"|^(?P<y2>(?:1[89]|2[01])[0-9]{2})(?P<m2>0[1-9]|1[0-2])(?P<d2>0[1-9]|[12][0-9]|3[01])$")
_DATETIME = (r"^(?P<y>[0-9]{4})[-./](?P<m>[0-9]{1,2})[-./](?P<d>[0-9]{1,2})(?:[ T]"
             r"(?P<H>[0-9]{1,2}):(?P<M>[0-9]{2})(?::(?P<S>[0-9]{2})(?P<f>\.[0-9]{1,6})?)?"
             r"(?P<z>Z|[+-][0-9]{2}:?[0-9]{2})?)?$")
_LAT = {"lat", "latitude", "위도", "y좌표"}
_LON = {"lon", "lng", "long", "longitude", "경도", "x좌표"}
# Columns with at most this many distinct values keep a value histogram: exact totals for equality
# filters on huge tables, and the index planner treats them as filter columns.
LOW_CARDINALITY = 1000


@dataclass
class TypedColumn:
    name: str
    type: str
    histogram: dict[str, int] | None = None  # value -> rows, for low-cardinality columns


@dataclass
class TypedTable:
    columns: list[TypedColumn]
    table: pa.Table  # int64 / float64 / bool / string (ISO text for date, datetime, geometry)
    warnings: list[str] = field(default_factory=list)

    @property
    def row_count(self) -> int:
        return self.table.num_rows


def _all(mask: pa.ChunkedArray | pa.Array) -> bool:
    return bool(pc.all(mask).as_py() is not False)


def _first_failure(raw: RawTable, values: pa.ChunkedArray, missing: pa.ChunkedArray, pattern: str) -> str:
    ok = pc.or_kleene(missing, pc.match_substring_regex(values, pattern))
    index = pc.index(pc.fill_null(ok, True), False).as_py()
    if index < 0:
        return "some values are impossible (such as 2024-02-30 or 25:00)"
    value = values[index].as_py() if index >= 0 else None
    if raw.first_data_line is not None and index >= 0:
        return f'line {index + raw.first_data_line} has "{value}"'
    return f'row {index + 1} has "{value}"'


_ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_ISO_DATETIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}$"


def _canonical(values: pa.ChunkedArray, pattern: str) -> bool:
    """Whether every value is already in the canonical form (the fast path for machine-written files)."""
    return _all(pc.fill_null(pc.match_substring_regex(values, pattern), True))


def _to_dates(values: pa.ChunkedArray, canonical: bool | None = None) -> pa.ChunkedArray | None:
    if canonical or (canonical is None and _canonical(values, _ISO_DATE)):
        try:
            pc.cast(values, pa.date32())  # validates 2024-02-30 and friends
            return values
        except pa.ArrowInvalid:
            return None
    parts = pc.extract_regex(values, _DATE)

    def either(a: str, b: str) -> pa.ChunkedArray:
        # An alternative that did not match yields "" (not null) for its groups.
        first = pc.struct_field(parts, a)
        return pc.if_else(pc.equal(first, ""), pc.struct_field(parts, b), first)

    y, m, d = either("y", "y2"), either("m", "m2"), either("d", "d2")
    iso = pc.binary_join_element_wise(y, pc.utf8_lpad(m, 2, "0"), pc.utf8_lpad(d, 2, "0"), "-")
    parsed = pc.strptime(iso, format="%Y-%m-%d", unit="s", error_is_null=True)
    if parsed.null_count != values.null_count:
        return None  # 2024-02-30 and friends: not a date column
    return iso


def _to_datetimes(values: pa.ChunkedArray, canonical: bool | None = None) -> pa.ChunkedArray | None:
    if canonical or (canonical is None and _canonical(values, _ISO_DATETIME)):
        try:
            pc.cast(values, pa.timestamp("s"))
        except pa.ArrowInvalid:
            return None
        return pc.utf8_replace_slice(values, 10, 11, "T")
    parts = pc.extract_regex(values, _DATETIME)

    def part(name: str, width: int = 2, default: str = "00") -> pa.ChunkedArray:
        return pc.utf8_lpad(pc.fill_null(pc.struct_field(parts, name), default), width, "0")

    iso = pc.binary_join_element_wise(
        pc.binary_join_element_wise(pc.struct_field(parts, "y"), part("m"), part("d"), "-"),
        pc.binary_join_element_wise(part("H"), part("M"), part("S"), ":"), "T")
    fraction = pc.fill_null(pc.struct_field(parts, "f"), "")
    zone = pc.fill_null(pc.struct_field(parts, "z"), "")
    has_zone = pc.any(pc.not_equal(zone, "")).as_py()
    if has_zone:  # values without a zone are taken as UTC alongside those with one
        zone = pc.if_else(pc.equal(zone, ""), "Z", zone)
    iso = pc.binary_join_element_wise(iso, fraction, zone, "")
    unit = "us" if pc.any(pc.not_equal(fraction, "")).as_py() else "s"
    try:
        stamps = pc.cast(iso, pa.timestamp(unit, tz="UTC") if has_zone else pa.timestamp(unit))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if has_zone:
        stamps = pc.cast(stamps, pa.timestamp(unit))
    return pc.strftime(stamps, format="%Y-%m-%dT%H:%M:%S")


def _convert(kind: str, values: pa.ChunkedArray, canonical: bool | None = None) -> pa.ChunkedArray | None:
    """Typed values for `kind`, or None when some value does not fit after all. `canonical`: whether every
    value is already known to be in ISO form (None: find out)."""
    if kind in ("integer", "number"):
        plain = pc.replace_substring(values, ",", "")
        try:
            return pc.cast(plain, pa.int64() if kind == "integer" else pa.float64())
        except (pa.ArrowInvalid, OverflowError):
            return None
    if kind == "boolean":
        return pc.equal(pc.utf8_lower(values), "true")
    if kind == "date":
        return _to_dates(values, canonical)
    if kind == "datetime":
        return _to_datetimes(values, canonical)
    return values


def _fits(values: pa.ChunkedArray, missing: pa.ChunkedArray, pattern: str) -> bool:
    """Whether every value that is not missing matches `pattern`."""
    return _all(pc.or_kleene(missing, pc.fill_null(pc.match_substring_regex(values, pattern), True)))


CANONICAL = {"date": _ISO_DATE, "datetime": _ISO_DATETIME}
PATTERNS = {"boolean": _BOOL, "integer": _INT, "number": _NUM, "date": _DATE, "datetime": _DATETIME}
# Where a candidate falls when the whole column does not fit it.
FALLBACK = {"boolean": "text", "date": "datetime", "integer": "number", "number": "text", "datetime": "text"}
ORDER = ("boolean", "date", "integer", "number", "datetime")


def _guess(sample: pa.Array) -> str:
    for kind in ORDER:
        if _all(pc.match_substring_regex(sample, PATTERNS[kind])):
            return kind
    return "text"


def _near_miss(sample: pa.Array) -> str | None:
    """A type most (not all) of the sample fits: worth a warning when the column ends up text."""
    for kind in ORDER:
        hits = pc.sum(pc.cast(pc.match_substring_regex(sample, PATTERNS[kind]), pa.int64())).as_py() or 0
        if hits * 2 >= len(sample):
            return kind
    return None


def _type_column(raw: RawTable, name: str, column: pa.ChunkedArray) -> tuple[str, pa.ChunkedArray, str | None]:
    """(type, converted values, warning) for one column, judged over every value."""
    values = pc.utf8_trim_whitespace(column)
    missing = pc.fill_null(pc.is_in(values, NULL_TOKENS), True)
    sample = pc.filter(values.slice(0, SAMPLE * 4), pc.invert(missing.slice(0, SAMPLE * 4))).slice(0, SAMPLE)
    if len(sample) == 0:
        sample = pc.filter(values, pc.invert(missing)).slice(0, SAMPLE)
    if len(sample) == 0:
        return "text", _as_text(values), None
    kind = _guess(sample)
    first_guess, warning = kind, None
    if kind == "text" and (near := _near_miss(sample)):
        warning = f'column "{name}" looked like {near} but {_first_failure(raw, values, missing, PATTERNS[near])}'
    while kind != "text":
        # Machine-written dates and times are ISO already: one simple pass proves it, and the general
        # pattern (a superset) need not run at all.
        canonical = _fits(values, missing, CANONICAL[kind]) if kind in CANONICAL else None
        if canonical or _fits(values, missing, PATTERNS[kind]):
            converted = _convert(kind, _nulled(values, missing), canonical)
            if converted is not None:
                return kind, converted, warning
        if warning is None:
            warning = (f'column "{name}" looked like {first_guess} but '
                       f'{_first_failure(raw, values, missing, PATTERNS[kind])}')
        kind = FALLBACK[kind]
    if warning:
        warning += "; stored as text"
    return "text", _as_text(values), warning


def _nulled(values: pa.ChunkedArray, missing: pa.ChunkedArray) -> pa.ChunkedArray:
    """Missing markers as nulls (no copy when there are none, as in most machine-written columns)."""
    if not pc.any(missing).as_py():
        return values
    return pc.if_else(missing, pa.scalar(None, pa.string()), values)


def _as_text(values: pa.ChunkedArray) -> pa.ChunkedArray:
    return _nulled(values, pc.equal(values, ""))


def _key(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _histogram(kind: str, values: pa.ChunkedArray) -> dict[str, int] | None:
    if kind not in ("text", "integer", "boolean", "date") or len(values) == 0:
        return None
    if pc.count_distinct(values.slice(0, 100_000)).as_py() > LOW_CARDINALITY:
        return None
    counts = pc.value_counts(values)
    if len(counts) > LOW_CARDINALITY:
        return None
    return {_key(v): c for v, c in zip(counts.field("values").to_pylist(),
                                                             counts.field("counts").to_pylist(), strict=True)}


def _point_geometry(columns: list[TypedColumn], arrays: dict[str, pa.ChunkedArray]) -> pa.ChunkedArray | None:
    """GeoJSON Points from latitude/longitude columns whose every value is in range."""
    numeric = {c.name.casefold(): c.name for c in columns if c.type in ("integer", "number")}
    lat = next((numeric[k] for k in numeric if k in _LAT), None)
    lon = next((numeric[k] for k in numeric if k in _LON), None)
    if not lat or not lon or any(c.name.casefold() == "geometry" for c in columns):
        return None
    la, lo = pc.cast(arrays[lat], pa.float64()), pc.cast(arrays[lon], pa.float64())
    if la.null_count == len(la):
        return None
    in_range = pc.and_(pc.less_equal(pc.abs(la), 90), pc.less_equal(pc.abs(lo), 180))
    if not _all(pc.fill_null(in_range, True)):
        return None
    return pc.binary_join_element_wise('{"type":"Point","coordinates":[', pc.cast(lo, pa.string()), ",",
                                       pc.cast(la, pa.string()), "]}", "")


def _decide(raw: RawTable, name: str, column: pa.ChunkedArray) -> tuple[TypedColumn, pa.ChunkedArray, str | None]:
    if name in raw.forced:
        kind, values, warning = raw.forced[name], column, None
    else:
        kind, values, warning = _type_column(raw, name, column)
    return TypedColumn(name, kind, _histogram(kind, values)), values, warning


def infer_types(raw: RawTable) -> TypedTable:
    """Decide every column's type over all its values and convert them for loading."""
    columns: list[TypedColumn] = []
    arrays: dict[str, pa.ChunkedArray] = {}
    warnings = list(raw.warnings)
    # Each Arrow kernel runs on one thread and releases the GIL: columns are typed side by side.
    workers = min(len(raw.columns), os.cpu_count() or 1, 8)
    with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
        decided = list(pool.map(lambda pair: _decide(raw, *pair), zip(raw.columns, raw.table.columns, strict=True)))
    for column, values, warning in decided:
        if warning:
            warnings.append(warning)
        columns.append(column)
        arrays[column.name] = values
    point = _point_geometry(columns, arrays)
    if point is not None:
        columns.append(TypedColumn("geometry", "geometry"))
        arrays["geometry"] = point
    table = pa.table([arrays[c.name] for c in columns], names=[c.name for c in columns])
    return TypedTable(columns=columns, table=table, warnings=warnings)
