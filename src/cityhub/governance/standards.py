"""Standards: the city's dictionary of standard terms (modelled on 공통표준용어), code lists, and the
mapping of a dataset's field names onto terms (non-standard names get a warning and the nearest term).

The dictionary and Busan's district code list ship as data files and are loaded by a data migration;
stewards edit them afterwards through the API.
"""

from __future__ import annotations

import csv
import difflib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityhub.auth import policy
from cityhub.ctx import RequestContext
from cityhub.db import utcnow
from cityhub.errors import Conflict, NotFound
from cityhub.governance.models import CodeList, StandardTerm
from cityhub.governance.schemas import (
    CodeListIn,
    CodeListPublic,
    FieldTermMatch,
    StandardTermIn,
    StandardTermPublic,
)

DATA = Path(__file__).parent / "data"
DISTRICTS_CSV = Path(__file__).parents[1] / "demo" / "busan_districts.csv"
# Units and qualifiers in parentheses ("PM10(㎍/㎥)", "예산현액(천원)") are not part of the name.
_QUALIFIER = re.compile(r"\s*[\(\[（].*?[\)\]）]\s*")
_SEPARATORS = re.compile(r"[\s_\-.]+")

policy.declare("standards.manage")


def load_seed_terms() -> list[dict[str, Any]]:
    """The seed dictionary (data/standard_terms.csv) as rows for the data migration."""
    now = utcnow()
    rows = []
    with (DATA / "standard_terms.csv").open(encoding="utf-8") as fh:
        for rec in csv.DictReader(fh):
            rows.append({
                "name_ko": rec["name_ko"], "name_en": rec["name_en"], "abbr": rec["abbr"], "domain": rec["domain"],
                "data_type": rec["data_type"], "length": int(rec["length"]) if rec["length"] else None,
                "scale": int(rec["scale"]) if rec["scale"] else None, "format": rec["format"] or None,
                "description": rec["description"] or None, "personal": rec["personal"] == "1", "updated_at": now,
            })
    return rows


def load_seed_codes() -> list[dict[str, Any]]:
    """Busan's 16 district codes (행정표준코드 시군구), from the demo's district file."""
    with DISTRICTS_CSV.open(encoding="utf-8") as fh:
        codes = [{"code": r["sigungu_code"], "label": r["name_ko"], "label_en": r["name_en"]}
                 for r in csv.DictReader(fh)]
    return [{"name": "busan-district", "title": "부산광역시 구·군 코드", "title_en": "Busan district codes",
             "codes": codes, "updated_at": utcnow()}]


def normalise(name: str) -> str:
    """A field name as compared with terms: qualifiers dropped, separators removed, case folded."""
    return _SEPARATORS.sub("", _QUALIFIER.sub("", name)).casefold()


@dataclass(frozen=True)
class TermIndex:
    terms: tuple[StandardTermPublic, ...]
    by_key: dict[str, StandardTermPublic]

    @classmethod
    def build(cls, terms: list[StandardTermPublic]) -> TermIndex:
        by_key: dict[str, StandardTermPublic] = {}
        for t in terms:
            for key in (t.name_ko, t.name_en, t.abbr):
                by_key.setdefault(normalise(key), t)
        return cls(tuple(terms), by_key)

    def match(self, field_name: str) -> FieldTermMatch:
        """The standard term a field name is, or a warning with the nearest terms."""
        key = normalise(field_name)
        found = self.by_key.get(key)
        if found is not None:
            return FieldTermMatch(field=field_name, standard=True, term=found)
        close = difflib.get_close_matches(key, list(self.by_key), n=3, cutoff=0.5)
        suggestions = []
        for k in close:
            if self.by_key[k] not in suggestions:
                suggestions.append(self.by_key[k])
        message = f'"{field_name}" is not a standard term'
        if suggestions:
            message += f"; nearest: {suggestions[0].name_ko} ({suggestions[0].abbr})"
        return FieldTermMatch(field=field_name, standard=False, suggestions=suggestions, warning=message)


def term_index(db: Session) -> TermIndex:
    """The dictionary, indexed for matching (read per call: stewards may have just edited it)."""
    rows = db.scalars(select(StandardTerm).order_by(StandardTerm.id))
    return TermIndex.build([StandardTermPublic.model_validate(t) for t in rows])


@lru_cache(maxsize=1)
def _seed_index() -> TermIndex:
    return TermIndex.build([StandardTermPublic(id=i, **{k: v for k, v in row.items() if k != "updated_at"})
                            for i, row in enumerate(load_seed_terms(), start=1)])


def match_fields(ctx: RequestContext | None, names: list[str]) -> list[FieldTermMatch]:
    """Map field names onto standard terms (warnings for non-standard names)."""
    index = term_index(ctx.db) if ctx is not None else _seed_index()
    return [index.match(n) for n in names]


# --- steward edits --------------------------------------------------------------------------------


def list_terms(ctx: RequestContext, *, q: str | None = None, limit: int = 500, offset: int = 0
               ) -> tuple[list[StandardTermPublic], int]:
    """Standard terms, optionally filtered by a substring of any name (open to everyone)."""
    terms = ctx.db.scalars(select(StandardTerm).order_by(StandardTerm.id))
    rows = [StandardTermPublic.model_validate(t) for t in terms]
    if q:
        needle = q.casefold()
        rows = [t for t in rows if needle in f"{t.name_ko} {t.name_en} {t.abbr}".casefold()]
    return rows[offset:offset + limit], len(rows)


def create_term(ctx: RequestContext, *, data: StandardTermIn) -> StandardTermPublic:
    """Add a standard term (stewards)."""
    policy.require(ctx, "standards.manage")
    if ctx.db.scalar(select(StandardTerm.id).where(StandardTerm.name_ko == data.name_ko)):
        raise Conflict(f"term {data.name_ko!r} exists", details={"name_ko": ["already in the dictionary"]})
    term = StandardTerm(**data.model_dump(), updated_at=utcnow())
    ctx.db.add(term)
    ctx.db.flush()
    return StandardTermPublic.model_validate(term)


def update_term(ctx: RequestContext, *, term_id: int, data: StandardTermIn) -> StandardTermPublic:
    """Change a standard term (stewards)."""
    policy.require(ctx, "standards.manage")
    term = ctx.db.get(StandardTerm, term_id)
    if term is None:
        raise NotFound(f"term {term_id} not found")
    for key, value in data.model_dump().items():
        setattr(term, key, value)
    term.updated_at = utcnow()
    ctx.db.flush()
    return StandardTermPublic.model_validate(term)


def delete_term(ctx: RequestContext, *, term_id: int) -> None:
    """Remove a standard term (stewards)."""
    policy.require(ctx, "standards.manage")
    term = ctx.db.get(StandardTerm, term_id)
    if term is None:
        raise NotFound(f"term {term_id} not found")
    ctx.db.delete(term)
    ctx.db.flush()


def list_code_lists(ctx: RequestContext) -> list[CodeListPublic]:
    """Every code list (open to everyone)."""
    return [CodeListPublic.model_validate(c) for c in ctx.db.scalars(select(CodeList).order_by(CodeList.name))]


def get_code_list(ctx: RequestContext, *, name: str) -> CodeListPublic:
    """One code list with its codes."""
    found = ctx.db.get(CodeList, name)
    if found is None:
        raise NotFound(f"code list {name!r} not found")
    return CodeListPublic.model_validate(found)


def put_code_list(ctx: RequestContext, *, name: str, data: CodeListIn) -> CodeListPublic:
    """Create or replace a code list (stewards)."""
    policy.require(ctx, "standards.manage")
    found = ctx.db.get(CodeList, name) or CodeList(name=name)
    found.title, found.title_en = data.title, data.title_en
    found.codes = [c.model_dump() for c in data.codes]
    found.updated_at = utcnow()
    ctx.db.add(found)
    ctx.db.flush()
    from cityhub.governance import entity_rules

    entity_rules.forget()  # entity schemas compile code lists in
    return CodeListPublic.model_validate(found)


def codes_of(db: Session, name: str) -> frozenset[str]:
    """The codes of a code list (empty when it does not exist)."""
    found = db.get(CodeList, name)
    return frozenset(str(c["code"]) for c in (found.codes if found else []))
