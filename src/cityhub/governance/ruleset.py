"""A dataset's rules, compiled once from its Table Schema and rule descriptors, run over rows or tables."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.orm import Session

from cityhub.governance.models import DatasetSchema
from cityhub.governance.validation import Columns, Rule, Violation, rule_from_descriptor

# Frictionless types checked by a `type` rule (strings and structured types are not).
CHECKED_TYPES = ("integer", "number", "boolean", "date", "datetime", "year", "yearmonth", "time")


def schema_descriptors(table_schema: dict[str, Any], codes: Callable[[str], Iterable[str]]) -> list[dict[str, Any]]:
    """Rule descriptors for a Frictionless Table Schema (types, constraints, code lists, primary key)."""
    out: list[dict[str, Any]] = []
    for f in table_schema.get("fields", []):
        name, c = f["name"], f.get("constraints") or {}
        if c.get("required"):
            out.append({"type": "required", "field": name})
        if f.get("type") in CHECKED_TYPES:
            out.append({"type": "type", "field": name, "field_type": f["type"]})
        for key, kind in (("minimum", "minimum"), ("maximum", "maximum"), ("minLength", "min_length"),
                          ("maxLength", "max_length")):
            if c.get(key) is not None:
                out.append({"type": kind, "field": name, "value": c[key]})
        if c.get("pattern"):
            out.append({"type": "pattern", "field": name, "pattern": c["pattern"]})
        if c.get("enum"):
            out.append({"type": "enum", "field": name, "values": c["enum"]})
        if c.get("unique"):
            out.append({"type": "unique", "fields": [name]})
        if f.get("codeList"):
            out.append({"type": "code_list", "field": name, "code_list": f["codeList"],
                        "codes": sorted(codes(f["codeList"]))})
    key = table_schema.get("primaryKey")
    if key:
        out.append({"type": "unique", "fields": [key] if isinstance(key, str) else list(key)})
    return out


@dataclass
class Rejected:
    index: int
    row: dict[str, Any]
    violations: list[Violation]


@dataclass
class RuleSet:
    rules: list[Rule] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.rules)

    def validate_rows(self, rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Rejected]]:
        """Row-at-a-time: (accepted rows, rejected rows with every violation)."""
        accepted, rejected = [], []
        for i, row in enumerate(rows):
            found = [v for rule in self.rules for v in rule.validate_row(row)]
            if found:
                rejected.append(Rejected(i, row, found))
            else:
                accepted.append(row)
        for rule in self.rules:
            list(rule.validate_end())
        return accepted, rejected

    def check_table(self, table: pa.Table) -> tuple[pa.Table, list[Rejected]]:
        """Vectorised over a whole table: (accepted rows, rejected rows with the rules they broke)."""
        cols = Columns(table)
        # Rules of one field share its derived columns; fields run in parallel (Arrow's kernels release
        # the GIL), multi-field rules after them.
        by_field: dict[str, list[Rule]] = {}
        multi: list[Rule] = []
        for rule in self.rules:
            if len(rule.fields()) == 1:
                by_field.setdefault(rule.fields()[0], []).append(rule)
            else:
                multi.append(rule)

        def run(rules: list[Rule]) -> list[tuple[Rule, Any]]:
            return [(rule, rule.check_batch(cols)) for rule in rules]

        with ThreadPoolExecutor(max_workers=4) as pool:
            results = [pair for group in pool.map(run, by_field.values()) for pair in group]
        results += run(multi)
        masks = [(rule, pc.fill_null(mask, False)) for rule, mask in results if mask is not None and mask is not True]
        if not masks:
            return table, []
        ok = masks[0][1]
        for _, mask in masks[1:]:
            ok = pc.and_(ok, mask)
        if pc.all(ok).as_py():
            return table, []
        bad = pc.indices_nonzero(pc.invert(ok))
        rows = table.take(bad).to_pylist()
        # Which rules each refused row broke, read once per rule for just those rows.
        broke = [(rule, pc.take(mask, bad).to_pylist()) for rule, mask in masks]
        rejected = []
        for n, (index, row) in enumerate(zip(bad.to_pylist(), rows, strict=True)):
            found = [v for rule, fine in broke if not fine[n] and (v := rule.explain(row)) is not None]
            rejected.append(Rejected(index, row, found))
        return table.filter(ok), rejected


def compile_rules(db: Session, table_schema: dict[str, Any], descriptors: list[dict[str, Any]]) -> RuleSet:
    """Rules for a schema plus extra descriptors; code lists are read from the database."""
    from cityhub.governance.standards import codes_of

    all_descriptors = schema_descriptors(table_schema, lambda name: codes_of(db, name)) + list(descriptors)
    return RuleSet([rule_from_descriptor(d) for d in all_descriptors])


def ruleset_for(db: Session, dataset_id: str) -> RuleSet:
    """The dataset's rules (empty when it has no schema)."""
    found = db.get(DatasetSchema, dataset_id)
    if found is None:
        return RuleSet()
    return compile_rules(db, found.table_schema or {}, found.rules or [])
