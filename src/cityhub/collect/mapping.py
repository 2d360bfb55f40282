"""Path-based field mapping and type casting, configured per source.

A field says where its value lives in a record (`LIVE_PPLTN_STTS.AREA_PPLTN_MIN`, `items.0.value`),
what type the column has, and which upstream spellings mean "no value" (`-`, `x`, empty).
A field absent from every record of a page means the upstream changed its layout: the run fails
naming the missing fields instead of loading empty columns. A value that does not cast sends its
row to the quarantine with the reason.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from cityhub.collect.connectors.base import LayoutChanged

FieldType = Literal["text", "integer", "number", "boolean", "date", "datetime", "json"]
DEFAULT_NULLS = ("", "-", "x", "X", "null", "NULL", "N/A")
_MISSING = object()
_NAME = re.compile(r"^[A-Za-z_가-힣][A-Za-z0-9_가-힣]{0,62}$")
_DIGIT_FORMATS = {8: "%Y%m%d", 10: "%Y%m%d%H", 12: "%Y%m%d%H%M", 14: "%Y%m%d%H%M%S"}
# Korean portals write midnight as hour 24 of the previous day ("2025-05-09 24:00", "202505092400").
_HOUR_24 = (re.compile(r"[ T](24)(?=:\d{2}(?::\d{2})?$)"), re.compile(r"^\d{8}(24)(?:\d{2}){0,2}$"))


class FieldSpec(BaseModel):
    """One column of the collected table and where it comes from."""

    name: str = Field(description="column name in the dataset's table")
    path: str | None = Field(default=None, description="dotted path in the record; defaults to the name")
    type: FieldType = "text"
    required: bool = False
    format: str | None = Field(default=None, description="strptime format for date/datetime")
    null_values: list[str] = Field(default_factory=lambda: list(DEFAULT_NULLS))

    @field_validator("name")
    @classmethod
    def _column_name(cls, value: str) -> str:
        if not _NAME.match(value) or value.startswith("_"):
            raise ValueError("letters, digits and _ only, not starting with _ (at most 63 characters)")
        return value

    @property
    def source_path(self) -> str:
        return self.path or self.name


class CastError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def lookup(record: Any, path: str) -> Any:
    """Follow a dotted path through dicts and lists; returns _MISSING when a step does not exist."""
    current = record
    for step in path.split("."):
        if isinstance(current, dict):
            if step not in current:
                return _MISSING
            current = current[step]
        elif isinstance(current, list):
            if not step.lstrip("-").isdigit() or not -len(current) <= int(step) < len(current):
                return _MISSING
            current = current[int(step)]
        else:
            return _MISSING
    return current


def is_missing(value: Any) -> bool:
    return value is _MISSING


def _parse_datetime(text: str, fmt: str | None) -> datetime:
    extra = timedelta(0)
    for pattern in _HOUR_24:
        match = pattern.search(text)
        if match:
            start, end = match.span(1)
            text, extra = text[:start] + "00" + text[end:], timedelta(days=1)
            break
    if fmt:
        return datetime.strptime(text, fmt) + extra
    if text.isdigit() and len(text) in _DIGIT_FORMATS:
        return datetime.strptime(text, _DIGIT_FORMATS[len(text)]) + extra
    return datetime.fromisoformat(text.replace("/", "-").replace("Z", "+00:00")) + extra


def _parse_date(text: str, fmt: str | None) -> date:
    if fmt:
        return datetime.strptime(text, fmt).date()
    digits = re.sub(r"\D", "", text)
    if len(digits) == 8:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    if len(digits) == 6:  # KOSIS monthly period YYYYMM → first day of the month
        return date(int(digits[:4]), int(digits[4:6]), 1)
    if len(digits) == 4:
        return date(int(digits), 1, 1)
    return date.fromisoformat(text)


def cast(spec: FieldSpec, value: Any) -> Any:
    """Convert one upstream value to the column's type; raises CastError naming the field."""
    if value is None:
        return None
    if isinstance(value, str):
        stripped = value.strip()
        if stripped in spec.null_values:
            return None
        value = stripped
    try:
        return _cast_value(spec, value)
    except (ValueError, TypeError, OverflowError) as exc:
        raise CastError(spec.name, f"{value!r} is not a valid {spec.type} ({exc})") from None


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("boolean")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("has a fraction")
        return int(value)
    text = str(value).replace(",", "")
    if re.fullmatch(r"-?\d+\.0*", text):
        text = text.split(".")[0]
    return int(text)


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "t", "yes", "y", "1", "예"):
        return True
    if text in ("false", "f", "no", "n", "0", "아니오"):
        return False
    raise ValueError("not a yes/no value")


def _cast_value(spec: FieldSpec, value: Any) -> Any:
    kind = spec.type
    if kind == "json":
        return value
    if isinstance(value, (dict, list)):
        raise ValueError("a nested value where a scalar was expected")
    if kind == "text":
        return value if isinstance(value, str) else str(value)
    if kind == "integer":
        return _to_int(value)
    if kind == "number":
        if isinstance(value, bool):
            raise ValueError("boolean")
        number = float(value.replace(",", "")) if isinstance(value, str) else float(value)
        if number != number or number in (float("inf"), float("-inf")):
            raise ValueError("not finite")
        return number
    if kind == "boolean":
        return _to_bool(value)
    if kind == "date":
        return _parse_date(str(value), spec.format)
    if kind == "datetime":
        return _parse_datetime(str(value), spec.format)
    raise ValueError(f"unknown type {kind}")


def _steps(path: str) -> tuple[tuple[str, int | None], ...]:
    """A dotted path split once: each step's text (dict key) and, when it is a number, its list index."""
    return tuple((s, int(s) if s.lstrip("-").isdigit() else None) for s in path.split("."))


def _follow(record: Any, steps: tuple[tuple[str, int | None], ...]) -> Any:
    """`lookup` with a pre-split path."""
    current = record
    for text, index in steps:
        if isinstance(current, dict):
            current = current.get(text, _MISSING)
            if current is _MISSING:
                return _MISSING
        elif isinstance(current, list) and index is not None and -len(current) <= index < len(current):
            current = current[index]
        else:
            return _MISSING
    return current


class Mapper:
    """Applies a source's field list to records: rows out, reasons for the quarantine, layout checks."""

    def __init__(self, fields: list[FieldSpec], key: list[str]) -> None:
        self.fields = fields
        self.key = key
        self.required = {f.name for f in fields if f.required} | set(key)
        # Paths split and null spellings set up once: sensor feeds map tens of thousands of records a second.
        self._plan = [(spec, spec.name, _steps(spec.source_path), spec.type, frozenset(spec.null_values),
                       spec.name in self.required) for spec in fields]

    def check_layout(self, records: list[dict[str, Any]]) -> None:
        """Fail loudly when a configured field appears in none of the records (renamed upstream)."""
        if not records:
            return
        missing = [f for f in self.fields if all(lookup(r, f.source_path) is _MISSING for r in records)]
        if missing:
            sample = sorted(records[0].keys())[:30] if isinstance(records[0], dict) else []
            names = ", ".join(f"{f.name} (path {f.source_path})" if f.path else f.name for f in missing)
            raise LayoutChanged(
                f"upstream layout changed: missing fields {names}; the records have {', '.join(sample)}",
                code="layout_changed")

    def map(self, record: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None, str | None]:
        """(row, None, None) or (None, reason, field) for the quarantine."""
        row: dict[str, Any] = {}
        for spec, name, steps, kind, nulls, required in self._plan:
            value = _follow(record, steps)
            # The common cases without a call: values already of the column's type.
            cls = type(value)
            if value is _MISSING or value is None:
                value = None
            elif cls is str and kind == "text":
                value = value.strip()
                if value in nulls:
                    value = None
            elif cls is int and kind == "integer":
                pass
            elif (cls is float or cls is int) and kind == "number" and value - value == 0:  # finite
                value = float(value)
            else:
                try:
                    value = cast(spec, value)
                except CastError as exc:
                    return None, str(exc), exc.field
            if value is None and required:
                what = "key field" if name in self.key else "required field"
                return None, f"{what} {name} is empty or missing", name
            row[name] = value
        return row, None, None

    def map_many(self, records: list[Any]) -> tuple[list[dict[str, Any] | None], dict[int, tuple[str, str]]]:
        """`map` over a whole page, column by column: each field's values are extracted and cast as one
        column (a type check over the column instead of branches per value), then zipped into rows.
        Returns the rows aligned with the records (None where one failed) and {index: (reason, field)};
        a record fails at its first failing field in field order, as with `map`."""
        failed: dict[int, tuple[str, str]] = {}
        columns = []
        for spec, name, steps, kind, nulls, required in self._plan:
            column = _cast_column(spec, kind, nulls, _column(records, steps), failed)
            if required:
                what = "key field" if name in self.key else "required field"
                for i, value in enumerate(column):
                    if value is None and i not in failed:
                        failed[i] = (f"{what} {name} is empty or missing", name)
            columns.append(column)
        names = [plan[1] for plan in self._plan]
        rows: list[dict[str, Any] | None] = [dict(zip(names, values, strict=True))
                                             for values in zip(*columns, strict=True)]
        for i in failed:
            rows[i] = None
        return rows, failed


def _column(records: list[Any], steps: tuple[tuple[str, int | None], ...]) -> list[Any]:
    """The values at one path in every record (_MISSING where it does not lead anywhere)."""
    values = records
    for text, index in steps:
        values = [v.get(text, _MISSING) if type(v) is dict else _follow(v, ((text, index),))
                  for v in values]  # _follow: dict subclasses, list indexes, and _MISSING stays _MISSING
    return values


def _cast_column(spec: FieldSpec, kind: str, nulls: frozenset[str], values: list[Any],
                 failed: dict[int, tuple[str, str]]) -> list[Any]:
    """One column cast to its type; a value that does not cast fails its record (unless it failed already)."""
    types = set(map(type, values))
    if kind == "integer" and types == {int}:
        return values
    if kind == "number" and types <= {int, float} and all(map(math.isfinite, values)):
        return list(map(float, values))
    if kind == "text" and types == {str}:
        stripped = [v.strip() for v in values]
        return [None if v in nulls else v for v in stripped] if nulls.intersection(stripped) else stripped
    out = []
    for i, value in enumerate(values):
        if value is _MISSING or value is None:
            out.append(None)
            continue
        try:
            out.append(cast(spec, value))
        except CastError as exc:
            out.append(None)
            failed.setdefault(i, (str(exc), exc.field))
    return out
