"""Threshold rules as data: list, create or replace, delete; the alert evaluator reads the enabled ones.

Rules live in `ctx_threshold_rules` (the Korean PM10/PM2.5 bands, congestion and river levels are seeded
by the migration). Every write batch evaluates them, so the evaluator keeps them per database for a few
seconds; an edit through this module drops that copy at once (other workers see it within the TTL).
"""

from __future__ import annotations

import time
import weakref
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from sqlalchemy import select

from cityhub.auth import policy
from cityhub.context.alerts import ORDER, ThresholdRule
from cityhub.context.models import ThresholdRuleRow
from cityhub.context.problems import BadRequestData, ResourceNotFound
from cityhub.ctx import RequestContext
from cityhub.db import utcnow

CACHE_SECONDS = 5.0
_cache: weakref.WeakKeyDictionary[Any, tuple[float, tuple[ThresholdRule, ...]]] = weakref.WeakKeyDictionary()


class RuleIn(BaseModel):
    """A threshold rule as stewards write it."""

    entity_type: str = Field(min_length=1, max_length=256)
    attr: str = Field(min_length=1, max_length=256)
    direction: Literal["above", "below"]
    lines: list[tuple[float, str]] = Field(min_length=1, max_length=5)
    hysteresis: float = Field(default=0.0, ge=0)
    category: str = Field(min_length=1, max_length=64)
    sub_category: str = Field(min_length=1, max_length=64)
    description: str = ""
    line_attrs: list[str] = Field(default_factory=list)
    enabled: bool = True

    @field_validator("lines")
    @classmethod
    def _severities(cls, lines: list[tuple[float, str]]) -> list[tuple[float, str]]:
        for _, severity in lines:
            if severity not in ORDER:
                raise ValueError(f"severity {severity!r} is not one of {', '.join(ORDER)}")
        return lines

    @model_validator(mode="after")
    def _ordered(self) -> RuleIn:
        values = [line for line, _ in self.lines]
        wanted = sorted(values) if self.direction == "above" else sorted(values, reverse=True)
        if values != wanted or len(set(values)) != len(values):
            raise ValueError("lines go from the mildest to the most severe (rising for above, falling for below)")
        if len(self.line_attrs) > len(self.lines):
            raise ValueError("line_attrs can override at most one attribute per line")
        return self


def _to_rule(row: ThresholdRuleRow) -> ThresholdRule:
    return ThresholdRule(row.name, row.entity_type, row.attr, row.direction,
                         tuple((float(line), str(sev)) for line, sev in row.lines), float(row.hysteresis),
                         row.category, row.sub_category, row.description, tuple(row.line_attrs or ()))


def _public(row: ThresholdRuleRow) -> dict[str, Any]:
    return {"name": row.name, "entity_type": row.entity_type, "attr": row.attr, "direction": row.direction,
            "lines": [list(x) for x in row.lines], "hysteresis": row.hysteresis, "category": row.category,
            "sub_category": row.sub_category, "description": row.description,
            "line_attrs": list(row.line_attrs or []), "enabled": row.enabled,
            "modified_at": row.modified_at.isoformat()}


def active_rules(ctx: RequestContext) -> tuple[ThresholdRule, ...]:
    """The enabled rules of this database (cached a few seconds: evaluated on every write batch)."""
    engine = ctx.db.get_bind()
    hit = _cache.get(engine)
    now = time.monotonic()
    if hit is not None and hit[0] > now:
        return hit[1]
    rows = ctx.db.execute(select(ThresholdRuleRow).where(ThresholdRuleRow.enabled.is_(True))
                          .order_by(ThresholdRuleRow.name)).scalars()
    rules = tuple(_to_rule(r) for r in rows)
    _cache[engine] = (now + CACHE_SECONDS, rules)
    return rules


def list_rules(ctx: RequestContext) -> list[dict[str, Any]]:
    """Every threshold rule, enabled or not."""
    policy.require(ctx, "context.read", None)
    return [_public(r) for r in ctx.db.execute(select(ThresholdRuleRow).order_by(ThresholdRuleRow.name)).scalars()]


def put_rule(ctx: RequestContext, *, name: str, data: RuleIn) -> tuple[dict[str, Any], bool]:
    """Create or replace the rule `name`; returns it and whether it was created."""
    policy.require(ctx, "context.rules", None)
    if not name or len(name) > 128 or not all(c.isalnum() or c in "-_." for c in name):
        raise BadRequestData.field("name", "letters, digits, - _ . (at most 128)")
    row = ctx.db.get(ThresholdRuleRow, name)
    created = row is None
    if row is None:
        row = ThresholdRuleRow(name=name)
        ctx.db.add(row)
    values = data.model_dump()
    values["lines"] = [[line, sev] for line, sev in data.lines]
    for key, value in values.items():
        setattr(row, key, value)
    row.modified_at = utcnow()
    ctx.db.flush()
    _cache.clear()
    return _public(row), created


def delete_rule(ctx: RequestContext, *, name: str) -> None:
    """Remove a rule (alerts it raised stay as they are)."""
    policy.require(ctx, "context.rules", None)
    row = ctx.db.get(ThresholdRuleRow, name)
    if row is None:
        raise ResourceNotFound(f"threshold rule {name} does not exist")
    ctx.db.delete(row)
    ctx.db.flush()
    _cache.clear()
