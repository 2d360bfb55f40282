"""Personal data on the write paths: findings per resource and column, the treatments that make a
column safe (partial masking, keyed pseudonyms, dropping it), and the rule that a dataset holding
untreated personal data cannot be public.

Which findings block publication: resident registration numbers, card numbers, emails, mobile phone
numbers and personal names always do; a landline number alone is usually an institution's, and a
street address alone a facility's, so those only block when the same table also identifies people.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cityhub.db import utcnow
from cityhub.errors import Conflict
from cityhub.governance import personal
from cityhub.governance.models import PersonalColumn, StandardTerm
from cityhub.settings import Settings

ALWAYS_PERSONAL = frozenset({"rrn", "card", "email", "name"})
MOBILE_RE = r"(?:^|[^0-9])01[016789]-?[0-9]{3,4}-?[0-9]{4}(?:[^0-9]|$)"
TREATMENTS = ("mask", "pseudonymise", "drop")
SYSTEM_TREATER = "system:governance"


@dataclass
class ColumnFinding:
    column: str
    kinds: list[str]
    matches: int
    example: str
    blocking: bool = False


@dataclass
class Screened:
    table: pa.Table
    findings: list[ColumnFinding] = field(default_factory=list)
    treatments: dict[str, str] = field(default_factory=dict)


def pseudonym_key(settings: Settings) -> str:
    """The pseudonymisation key: derived from the platform secret, never stored with the data."""
    return "pseudonym:" + settings.resolved_secret()


def _personal_name_columns(db: Session | None, names: Iterable[str]) -> set[str]:
    """Columns whose name is a standard term for a person's name (e.g. 담당자명, domain 성명V100)."""
    if db is None:
        return set()
    terms = {t for t in db.scalars(select(StandardTerm.name_ko).where(StandardTerm.domain.like("성명%")))}
    return {n for n in names if n in terms}


def scan(table: pa.Table, db: Session | None = None) -> list[ColumnFinding]:
    """Personal data per column of a table, classified as blocking publication or not."""
    by_column: dict[str, ColumnFinding] = {}
    for f in personal.scan_table(table):
        found = by_column.setdefault(f.column, ColumnFinding(f.column, [], 0, f.example))
        found.kinds.append(f.kind)
        found.matches = max(found.matches, f.matches)
    for name in _personal_name_columns(db, table.column_names) - set(by_column):
        values = table.column(name)
        if pa.types.is_string(values.type):
            hits = pc.sum(pc.match_substring_regex(values, personal.KOREAN_NAME)).as_py() or 0
            if hits:
                first = next(v for v in values.to_pylist() if v)
                by_column[name] = ColumnFinding(name, ["name"], hits, personal.mask_name(first))
    for found in by_column.values():
        kinds = set(found.kinds)
        if kinds & ALWAYS_PERSONAL:
            found.blocking = True
        elif "phone" in kinds:
            column = table.column(found.column)
            text = column if pa.types.is_string(column.type) else pc.cast(column, pa.string())
            found.blocking = bool(pc.any(pc.fill_null(pc.match_substring_regex(text, MOBILE_RE), False)).as_py())
    if any(f.blocking for f in by_column.values()):  # addresses next to people are their addresses
        for found in by_column.values():
            if "address" in found.kinds:
                found.blocking = True
    return list(by_column.values())


def _mask_one(kinds: list[str], value: str) -> str:
    for kind in kinds or []:
        value = personal.mask_value(kind, value) or value
    if not kinds:  # nothing detected: keep the first and last character only
        value = value[:1] + "*" * max(len(value) - 2, 1) + value[-1:] if len(value) > 1 else "*"
    return value


def treat_values(values: pa.ChunkedArray | pa.Array, treatment: str, kinds: list[str], key: str) -> pa.Array:
    """A column after masking or pseudonymisation (each distinct value is computed once)."""
    text = values if pa.types.is_string(values.type) else pc.cast(values, pa.string())
    encoded = pc.dictionary_encode(text).combine_chunks() if isinstance(text, pa.ChunkedArray) \
        else pc.dictionary_encode(text)
    distinct = encoded.dictionary.to_pylist()
    if treatment == "mask":
        treated = [None if v is None else _mask_one(kinds, v) for v in distinct]
    else:
        treated = [personal.pseudonymise(v, key) for v in distinct]
    return pc.take(pa.array(treated, pa.string()), encoded.indices)


def apply_treatments(table: pa.Table, treatments: dict[str, str], kinds: dict[str, list[str]], key: str) -> pa.Table:
    """The table with each treated column masked, pseudonymised or dropped."""
    for name, treatment in treatments.items():
        if name not in table.column_names:
            continue
        if treatment == "drop":
            table = table.drop_columns([name])
            continue
        index = table.column_names.index(name)
        table = table.set_column(index, name, treat_values(table.column(name), treatment, kinds.get(name, []), key))
    return table


def treat_row(row: dict[str, Any], treatments: dict[str, str], kinds: dict[str, list[str]], key: str) -> dict:
    """One row (collection, API) with its treated columns masked, pseudonymised or dropped."""
    out = dict(row)
    for name, treatment in treatments.items():
        if name not in out:
            continue
        if treatment == "drop":
            out.pop(name)
        elif out[name] is not None and out[name] != "":
            value = str(out[name])
            out[name] = _mask_one(kinds.get(name, []), value) if treatment == "mask" \
                else personal.pseudonymise(value, key)
    return out


def stored_treatments(db: Session, resource_id: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    """(column → treatment, column → detected kinds) recorded for a resource."""
    treatments, kinds = {}, {}
    for pc_row in db.scalars(select(PersonalColumn).where(PersonalColumn.resource_id == resource_id)):
        kinds[pc_row.column_name] = list(pc_row.kinds or [])
        if pc_row.treatment:
            treatments[pc_row.column_name] = pc_row.treatment
    return treatments, kinds


def record_findings(db: Session, *, dataset_id: str, resource_id: str, findings: list[ColumnFinding],
                    treatments: dict[str, str], treated_by: str | None, replace: bool = True) -> None:
    """Store what a scan found and what was done. `replace`: a whole new upload supersedes earlier
    findings of untreated columns; a collection page only adds to them."""
    existing = {p.column_name: p for p in db.scalars(select(PersonalColumn)
                                                      .where(PersonalColumn.resource_id == resource_id))}
    found = {f.column: f for f in findings}
    now = utcnow()
    for name in set(found) | set(treatments):
        row = existing.get(name) or PersonalColumn(dataset_id=dataset_id, resource_id=resource_id, column_name=name,
                                                   kinds=[], matches=0, blocking=False, detected_at=now)
        if name in found:
            f = found[name]
            row.kinds, row.matches, row.example = sorted(set(row.kinds or []) | set(f.kinds)), f.matches, f.example
            row.blocking = row.blocking or f.blocking
            row.detected_at = now
        if name in treatments and row.treatment != treatments[name]:
            row.treatment, row.treated_by, row.treated_at = treatments[name], treated_by, now
        db.add(row)
    if replace:
        stale = [n for n, p in existing.items() if n not in found and not p.treatment]
        if stale:
            db.execute(delete(PersonalColumn).where(PersonalColumn.resource_id == resource_id,
                                                    PersonalColumn.column_name.in_(stale)))
    db.flush()


def untreated_columns(db: Session, dataset_id: str) -> list[PersonalColumn]:
    """Columns of a dataset holding personal data that blocks publication and is not yet treated."""
    return list(db.scalars(select(PersonalColumn).where(
        PersonalColumn.dataset_id == dataset_id, PersonalColumn.blocking.is_(True),
        PersonalColumn.treatment.is_(None)).order_by(PersonalColumn.column_name)))


def refuse_public(columns: list[PersonalColumn] | list[ColumnFinding]) -> Conflict:
    """The 409 naming every column that must be masked, pseudonymised or dropped first."""
    details: dict[str, list[str]] = {}
    for c in columns:
        name = getattr(c, "column_name", None) or getattr(c, "column", "")
        kinds = ", ".join(c.kinds)
        details[name] = [f"holds personal data ({kinds}, e.g. {c.example}); mask, pseudonymise or drop it"]
    listed = ", ".join(f'"{n}"' for n in details)
    return Conflict(f"personal data in columns {listed}: a public dataset may not hold it unmasked",
                    details=details)
