"""Declarative validation rules: every write path checks rows against its dataset's schema with these.

A rule is a class with a `type` slug, typed `Params` (a Pydantic model), its error classes (each a
message template) and two ways to run:
- `validate_row(row)` / `validate_end()` for row-at-a-time writers (API, collection, NGSI-LD);
- `check_batch(table)` for whole uploads: an Arrow boolean mask (True = fine) computed with vectorised
  kernels, so validating a million rows costs a fraction of loading them. Messages are then built
  only for the rows that failed.

Rules are loaded from JSON descriptors (`{"type": "maximum", "field": "pm10", "value": 1000}`), so
stewards keep them as data; a Frictionless Table Schema compiles to the same rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, ValidationError

from cityhub.errors import Invalid

MISSING = ("", "N/A", "n/a", "NA", "null", "NULL", "None", "-")
_MISSING_SET = pa.array(list(MISSING))
TYPE_PATTERNS = {
    "integer": r"^[+-]?[0-9]{1,3}(,[0-9]{3})*$|^[+-]?[0-9]+$",
    "number": r"^[+-]?(([0-9]+|[0-9]{1,3}(,[0-9]{3})+)(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$",
    "boolean": r"(?i)^(true|false|y|n|yes|no|0|1)$",
    "date": r"^[0-9]{4}[-./][0-9]{1,2}[-./][0-9]{1,2}$|^[0-9]{8}$",
    "datetime": r"^[0-9]{4}[-./][0-9]{1,2}[-./][0-9]{1,2}([ T][0-9]{1,2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?"
                r"(Z|[+-][0-9]{2}:?[0-9]{2})?)?$",
    "year": r"^[0-9]{4}$",
    "yearmonth": r"^[0-9]{4}-?(0[1-9]|1[0-2])$",
    "time": r"^[0-9]{1,2}:[0-9]{2}(:[0-9]{2})?$",
}
_COMPILED = {k: re.compile(v) for k, v in TYPE_PATTERNS.items()}


# --- errors: one class per kind of failure, each a message template ------------------------------


class RuleError:
    code: ClassVar[str]
    template: ClassVar[str]

    @classmethod
    def render(cls, **values: Any) -> str:
        return cls.template.format(**values)


class MissingValue(RuleError):
    code, template = "missing-value", 'field "{field}" is required but empty'


class TypeMismatch(RuleError):
    code, template = "type-error", 'field "{field}": {value!r} is not a valid {field_type}'


class BelowMinimum(RuleError):
    code, template = "minimum", 'field "{field}": {value!r} is below the minimum {limit}'


class AboveMaximum(RuleError):
    code, template = "maximum", 'field "{field}": {value!r} is above the maximum {limit}'


class TooShort(RuleError):
    code, template = "min-length", 'field "{field}": {value!r} is shorter than {limit} characters'


class TooLong(RuleError):
    code, template = "max-length", 'field "{field}": {value!r} is longer than {limit} characters'


class PatternMismatch(RuleError):
    code, template = "pattern", 'field "{field}": {value!r} does not match {pattern}'


class NotInEnum(RuleError):
    code, template = "enum", 'field "{field}": {value!r} is not one of {allowed}'


class NotInCodeList(RuleError):
    code, template = "code-list", 'field "{field}": {value!r} is not a code of the {code_list} code list'


class Duplicate(RuleError):
    code, template = "unique", '{fields} {value!r} occurs more than once'


class ComparisonFailed(RuleError):
    code, template = "compare", '"{left}" ({left_value!r}) must be {op} "{right}" ({right_value!r})'


@dataclass(frozen=True)
class Violation:
    rule: str
    field: str | None
    value: Any
    message: str

    def as_dict(self) -> dict[str, Any]:
        value = self.value if isinstance(self.value, (str, int, float, bool, type(None))) else str(self.value)
        return {"rule": self.rule, "field": self.field, "value": value, "message": self.message}


# --- helpers ---------------------------------------------------------------------------------------


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() in MISSING)


def _as_text(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column
    if pa.types.is_timestamp(column.type):
        return pc.strftime(column, format="%Y-%m-%dT%H:%M:%S")
    return pc.cast(column, pa.string())


def _present(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """True where a value is present (not null and not a missing marker)."""
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return pc.is_valid(column)
    return pc.and_(pc.is_valid(column), pc.invert(pc.is_in(column, value_set=_MISSING_SET)))


def _numbers(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Numeric values (null where missing or not a number)."""
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        return pc.cast(column, pa.float64())
    text = _as_text(column)
    numeric = pc.fill_null(pc.match_substring_regex(text, TYPE_PATTERNS["number"]), False)
    cleaned = pc.if_else(numeric, pc.replace_substring(text, ",", ""), pa.scalar(None, pa.string()))
    return pc.cast(cleaned, pa.float64())


def _to_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and _COMPILED["number"].match(value.strip()):
        return float(value.strip().replace(",", ""))
    return None


def _comparable(value: Any) -> Any:
    """Numbers compare as numbers; dates and text as ISO text."""
    number = _to_number(value)
    if number is not None:
        return number
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return None if _is_missing(value) else str(value)


class Columns:
    """A table's columns and what rules derive from them (text, presence, numbers), each computed once
    per table however many rules read it."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self.num_rows = table.num_rows
        self._cache: dict[tuple[str, str], Any] = {}

    def has(self, name: str | None) -> bool:
        return name is not None and name in self.table.column_names

    def _cached(self, name: str, kind: str, make: Any) -> Any:
        key = (name, kind)
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def raw(self, name: str) -> pa.ChunkedArray:
        return self.table.column(name)

    def text(self, name: str) -> pa.ChunkedArray:
        return self._cached(name, "text", lambda: _as_text(self.raw(name)))

    def present(self, name: str) -> pa.ChunkedArray:
        return self._cached(name, "present", lambda: _present(self.raw(name)))

    def present_text(self, name: str) -> pa.ChunkedArray:
        """Text with missing markers as nulls."""
        return self._cached(name, "present_text", lambda: pc.if_else(self.present(name), self.text(name),
                                                                      pa.scalar(None, pa.string())))

    def cast(self, name: str, target: pa.DataType) -> pa.ChunkedArray | None:
        """Every present value cast to `target`, or None when some value does not cast (strictly)."""
        def make() -> pa.ChunkedArray | None:
            try:
                return pc.cast(self.present_text(name), target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OverflowError):
                return None
        return self._cached(name, f"cast:{target}", make)

    def numbers(self, name: str) -> pa.ChunkedArray:
        """Numeric values (null where missing or not a number)."""
        def make() -> pa.ChunkedArray:
            column = self.raw(name)
            if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
                return pc.cast(column, pa.float64())
            fast = self.cast(name, pa.float64())
            return fast if fast is not None else _numbers(column)
        return self._cached(name, "numbers", make)


# --- rules -----------------------------------------------------------------------------------------


class Rule:
    """Base class. Subclasses set `type`, `Params` and `errors`, and implement `violations(value)`
    (single-field rules) or override `validate_row` / `check_batch`."""

    type: ClassVar[str]
    Params: ClassVar[type[BaseModel]]
    errors: ClassVar[tuple[type[RuleError], ...]] = ()
    skip_missing: ClassVar[bool] = True

    def __init__(self, params: BaseModel) -> None:
        self.params = params

    @property
    def field(self) -> str | None:
        return getattr(self.params, "field", None)

    def fields(self) -> list[str]:
        return [self.field] if self.field else []

    def violation(self, value: Any) -> Violation | None:  # pragma: no cover — overridden
        raise NotImplementedError

    def validate_row(self, row: dict[str, Any]) -> Iterator[Violation]:
        value = row.get(self.field) if self.field else None
        if self.skip_missing and _is_missing(value):
            return
        found = self.violation(value)
        if found is not None:
            yield found

    def validate_end(self) -> Iterator[Violation]:
        """Violations only visible once every row has been seen (none for most rules)."""
        return iter(())

    def explain(self, row: dict[str, Any]) -> Violation | None:
        """Why a row the batch check refused fails this rule (batch checks keep no messages)."""
        return next(iter(self.validate_row(row)), None)

    def check_batch(self, cols: Columns) -> pa.ChunkedArray | pa.Array | bool | None:
        """A boolean mask (True = fine) over the table, True when every row is fine, or None when the
        table lacks the field."""
        if not cols.has(self.field):
            return None
        ok = self.check_column(cols, self.field)
        if ok is True or not self.skip_missing:
            return ok
        return pc.or_(pc.invert(cols.present(self.field)), pc.fill_null(ok, True))

    def check_column(self, cols: Columns, name: str) -> pa.ChunkedArray | pa.Array | bool:  # pragma: no cover
        raise NotImplementedError


class FieldParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str
    field: str


class RequiredRule(Rule):
    type = "required"
    Params = FieldParams
    errors = (MissingValue,)
    skip_missing = False

    def validate_row(self, row: dict[str, Any]) -> Iterator[Violation]:
        if _is_missing(row.get(self.field)):
            yield Violation(self.type, self.field, row.get(self.field), MissingValue.render(field=self.field))

    def check_batch(self, cols: Columns) -> pa.ChunkedArray | pa.Array | bool | None:
        if not cols.has(self.field):
            return pa.array([False] * cols.num_rows) if cols.num_rows else None
        return cols.present(self.field)


class TypeParams(FieldParams):
    field_type: Literal["integer", "number", "boolean", "date", "datetime", "year", "yearmonth", "time"]


class TypeRule(Rule):
    type = "type"
    Params = TypeParams
    errors = (TypeMismatch,)

    def violation(self, value: Any) -> Violation | None:
        kind = self.params.field_type
        if isinstance(value, bool):
            fine = kind == "boolean"
        elif isinstance(value, int):
            fine = kind in ("integer", "number", "year")
        elif isinstance(value, float):
            fine = kind == "number" or (kind == "integer" and value.is_integer())
        elif isinstance(value, datetime):
            fine = kind == "datetime"
        elif isinstance(value, date):
            fine = kind in ("date", "datetime")
        else:
            fine = bool(_COMPILED[kind].match(str(value).strip()))
        if fine:
            return None
        return Violation(self.type, self.field, value, TypeMismatch.render(field=self.field, value=value,
                                                                          field_type=kind))

    def check_column(self, cols: Columns, name: str) -> pa.ChunkedArray | pa.Array | bool:
        kind = self.params.field_type
        column = cols.raw(name)
        if pa.types.is_integer(column.type):
            return pa.array([kind in ("integer", "number", "year")] * len(column))
        if pa.types.is_floating(column.type) and kind == "number":
            return True
        # Fast path: when every present value casts strictly, the column is fine as a whole.
        target = {"integer": pa.int64(), "number": pa.float64(), "datetime": pa.timestamp("us")}.get(kind)
        if target is not None and cols.cast(name, target) is not None:
            return True
        return pc.match_substring_regex(pc.utf8_trim_whitespace(cols.text(name)), TYPE_PATTERNS[kind])


class LimitParams(FieldParams):
    value: int | float | str


class MinimumRule(Rule):
    type = "minimum"
    Params = LimitParams
    errors = (BelowMinimum,)
    _fails = staticmethod(lambda v, limit: v < limit)
    _kernel = staticmethod(pc.greater_equal)
    _error: ClassVar[type[RuleError]] = BelowMinimum

    def violation(self, value: Any) -> Violation | None:
        limit = self.params.value
        have = _to_number(value) if isinstance(limit, (int, float)) else _comparable(value)
        if have is None or isinstance(have, str) != isinstance(limit, str) or not self._fails(have, limit):
            return None
        return Violation(self.type, self.field, value, self._error.render(field=self.field, value=value, limit=limit))

    def check_column(self, cols: Columns, name: str) -> pa.ChunkedArray | pa.Array | bool:
        limit = self.params.value
        if isinstance(limit, str):
            return self._kernel(cols.text(name), limit)
        return self._kernel(cols.numbers(name), float(limit))


class MaximumRule(MinimumRule):
    type = "maximum"
    errors = (AboveMaximum,)
    _fails = staticmethod(lambda v, limit: v > limit)
    _kernel = staticmethod(pc.less_equal)
    _error = AboveMaximum


class LengthParams(FieldParams):
    value: int


class MinLengthRule(Rule):
    type = "min_length"
    Params = LengthParams
    errors = (TooShort,)
    _error: ClassVar[type[RuleError]] = TooShort

    def _fine(self, length: int) -> bool:
        return length >= self.params.value

    def violation(self, value: Any) -> Violation | None:
        if self._fine(len(str(value))):
            return None
        return Violation(self.type, self.field, value, self._error.render(field=self.field, value=value,
                                                                         limit=self.params.value))

    def check_column(self, cols: Columns, name: str) -> pa.ChunkedArray | pa.Array | bool:
        return pc.greater_equal(pc.utf8_length(cols.text(name)), self.params.value)


class MaxLengthRule(MinLengthRule):
    type = "max_length"
    errors = (TooLong,)
    _error = TooLong

    def _fine(self, length: int) -> bool:
        return length <= self.params.value

    def check_column(self, cols: Columns, name: str) -> pa.ChunkedArray | pa.Array | bool:
        return pc.less_equal(pc.utf8_length(cols.text(name)), self.params.value)


class PatternParams(FieldParams):
    pattern: str


class PatternRule(Rule):
    type = "pattern"
    Params = PatternParams
    errors = (PatternMismatch,)

    def __init__(self, params: BaseModel) -> None:
        super().__init__(params)
        self._re = re.compile(f"(?:{self.params.pattern})\\Z")

    def violation(self, value: Any) -> Violation | None:
        if self._re.match(str(value)):
            return None
        return Violation(self.type, self.field, value, PatternMismatch.render(field=self.field, value=value,
                                                                             pattern=self.params.pattern))

    def check_column(self, cols: Columns, name: str) -> pa.ChunkedArray | pa.Array | bool:
        # Frictionless patterns match the whole value.
        return pc.match_substring_regex(cols.text(name), f"^(?:{self.params.pattern})$")


class EnumParams(FieldParams):
    values: list[Any]


class EnumRule(Rule):
    type = "enum"
    Params = EnumParams
    errors = (NotInEnum,)

    def __init__(self, params: BaseModel) -> None:
        super().__init__(params)
        self._allowed = frozenset(str(v) for v in self._values())

    def _values(self) -> list[Any]:
        return self.params.values

    def _render(self, value: Any) -> str:
        return NotInEnum.render(field=self.field, value=value, allowed=", ".join(sorted(self._allowed)[:10]))

    def violation(self, value: Any) -> Violation | None:
        if str(value) in self._allowed:
            return None
        return Violation(self.type, self.field, value, self._render(value))

    def check_column(self, cols: Columns, name: str) -> pa.ChunkedArray | pa.Array | bool:
        return pc.is_in(cols.text(name), value_set=pa.array(sorted(self._allowed), type=pa.string()))


class CodeListParams(FieldParams):
    code_list: str
    codes: list[str] = []  # filled from the code list when rules are compiled


class CodeListRule(EnumRule):
    type = "code_list"
    Params = CodeListParams
    errors = (NotInCodeList,)

    def _values(self) -> list[Any]:
        return self.params.codes

    def _render(self, value: Any) -> str:
        return NotInCodeList.render(field=self.field, value=value, code_list=self.params.code_list)


class UniqueParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str
    fields: list[str]


class UniqueRule(Rule):
    """The second and later rows with the same key fail; the first one is accepted."""

    type = "unique"
    Params = UniqueParams
    errors = (Duplicate,)

    def __init__(self, params: BaseModel) -> None:
        super().__init__(params)
        self._seen: set[tuple] = set()

    def fields(self) -> list[str]:
        return list(self.params.fields)

    def _render(self, key: tuple) -> Violation:
        label = ", ".join(f'"{f}"' for f in self.params.fields)
        value = key[0] if len(key) == 1 else list(key)
        return Violation(self.type, ",".join(self.params.fields), value, Duplicate.render(fields=label, value=value))

    def explain(self, row: dict[str, Any]) -> Violation | None:
        return self._render(tuple(row.get(f) for f in self.params.fields))

    def validate_row(self, row: dict[str, Any]) -> Iterator[Violation]:
        key = tuple(row.get(f) for f in self.params.fields)
        if all(_is_missing(v) for v in key):
            return
        if key in self._seen:
            yield self._render(key)
        self._seen.add(key)

    def check_batch(self, cols: Columns) -> pa.ChunkedArray | pa.Array | bool | None:
        names = [f for f in self.params.fields if cols.has(f)]
        if not names:
            return None
        # A stable sort puts equal keys side by side in file order: each one equal to its predecessor
        # is a repeat. Cheaper than hashing a million distinct strings.
        keys = cols.table.select(names)
        order = pc.sort_indices(keys, sort_keys=[(n, "ascending") for n in names])
        repeat = None
        for n in names:
            ordered = pc.take(cols.raw(n), order)
            same = pc.fill_null(pc.equal(ordered.slice(1), ordered.slice(0, len(ordered) - 1)), False)
            repeat = same if repeat is None else pc.and_(repeat, same)
        if repeat is None or not pc.any(repeat).as_py():
            return True
        bad_positions = pc.indices_nonzero(repeat)
        bad_rows = pc.take(order, pc.add(bad_positions, 1))
        mask = np.ones(cols.num_rows, dtype=bool)
        mask[bad_rows.to_numpy()] = False
        return pa.array(mask)


class CompareParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str
    left: str
    op: Literal["<", "<=", "==", "!=", ">=", ">"]
    right: str


_OPS = {"<": (lambda a, b: a < b, pc.less), "<=": (lambda a, b: a <= b, pc.less_equal),
        "==": (lambda a, b: a == b, pc.equal), "!=": (lambda a, b: a != b, pc.not_equal),
        ">=": (lambda a, b: a >= b, pc.greater_equal), ">": (lambda a, b: a > b, pc.greater)}


class CompareRule(Rule):
    """A cross-field consistency rule, e.g. start date <= end date (skipped when either is missing)."""

    type = "compare"
    Params = CompareParams
    errors = (ComparisonFailed,)

    def fields(self) -> list[str]:
        return [self.params.left, self.params.right]

    def validate_row(self, row: dict[str, Any]) -> Iterator[Violation]:
        p = self.params
        a, b = _comparable(row.get(p.left)), _comparable(row.get(p.right))
        if a is None or b is None or type(a) is not type(b) or _OPS[p.op][0](a, b):
            return
        yield Violation(self.type, p.left, row.get(p.left), ComparisonFailed.render(
            left=p.left, left_value=row.get(p.left), op=p.op, right=p.right, right_value=row.get(p.right)))

    def check_batch(self, cols: Columns) -> pa.ChunkedArray | pa.Array | bool | None:
        p = self.params
        if not cols.has(p.left) or not cols.has(p.right):
            return None
        a, b = cols.numbers(p.left), cols.numbers(p.right)
        numeric = pc.and_(pc.is_valid(a), pc.is_valid(b))
        as_text = _OPS[p.op][1](cols.text(p.left), cols.text(p.right))
        as_number = _OPS[p.op][1](a, b)
        ok = pc.if_else(numeric, as_number, as_text)
        both = pc.and_(cols.present(p.left), cols.present(p.right))
        return pc.or_(pc.invert(both), pc.fill_null(ok, True))


RULES: dict[str, type[Rule]] = {cls.type: cls for cls in (
    RequiredRule, TypeRule, MinimumRule, MaximumRule, MinLengthRule, MaxLengthRule, PatternRule, EnumRule,
    CodeListRule, UniqueRule, CompareRule)}


def register(cls: type[Rule]) -> type[Rule]:
    """Add a rule class (plugins may define their own)."""
    RULES[cls.type] = cls
    return cls


def rule_from_descriptor(descriptor: dict[str, Any]) -> Rule:
    """A rule from its JSON descriptor; Invalid names the descriptor's problem."""
    kind = descriptor.get("type")
    cls = RULES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise Invalid.field("rules", f"unknown rule type {kind!r}; known: {', '.join(sorted(RULES))}")
    try:
        return cls(cls.Params.model_validate(descriptor))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise Invalid.field("rules", f"{kind}: {problems}") from None
