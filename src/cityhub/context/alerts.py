"""Thresholds: rules per entity type and attribute raise and clear `Alert` entities.

Rules are data (`ctx_threshold_rules`, edited through `rules.py`); the seeded defaults are the Korean
PM10/PM2.5 bands (PM2.5 bad > 35, very bad > 75 µg/m³; PM10 bad > 80, very bad > 150), traffic
congestion below 15 km/h, and river warning/alarm levels (an entity's own `warningLevel`/`alarmLevel`
when it has them). A level only goes down once the value has moved back past the line by the rule's
hysteresis, so a value hovering at the line does not make alerts flap.
Raising (or escalating) publishes `alert.raised`; clearing publishes `alert.cleared`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cityhub.context.store import Change, load
from cityhub.ctx import RequestContext
from cityhub.db import utcnow


@dataclass(frozen=True)
class ThresholdRule:
    name: str
    entity_type: str
    attr: str
    direction: str  # "above": value > line; "below": value < line
    lines: tuple[tuple[float, str], ...]  # (line, severity), mildest first
    hysteresis: float
    category: str
    sub_category: str
    description: str
    line_attrs: tuple[str, ...] = ()  # entity attributes overriding the lines (river gauges)

    def lines_for(self, attrs: dict[str, Any]) -> list[tuple[float, str]]:
        out = list(self.lines)
        for i, name in enumerate(self.line_attrs):
            own = attrs.get(name)
            if isinstance(own, dict) and isinstance(own.get("value"), (int, float)):
                out[i] = (float(own["value"]), out[i][1])
        return out


ORDER = ("informational", "low", "medium", "high", "critical")


def alert_id(rule: ThresholdRule, source_id: str) -> str:
    short = source_id.removeprefix("urn:ngsi-ld:")
    return f"urn:ngsi-ld:Alert:{rule.name}:{short}"


def _beyond(rule: ThresholdRule, value: float, line: float) -> bool:
    return value > line if rule.direction == "above" else value < line


def level(rule: ThresholdRule, value: float, lines: list[tuple[float, str]], current: int) -> int:
    """The band index the value is in (-1: none), keeping `current` within the hysteresis margin."""
    raw = -1
    for i, (line, _) in enumerate(lines):
        if _beyond(rule, value, line):
            raw = i
    margin = rule.hysteresis if rule.direction == "above" else -rule.hysteresis
    for i in range(current, raw, -1):
        if _beyond(rule, value, lines[i][0] - margin):
            return i
    return raw


def _value(attrs: dict[str, Any], name: str) -> float | None:
    attr = attrs.get(name)
    if not isinstance(attr, dict):
        return None
    v = attr.get("value")
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _current_level(alert: dict[str, Any] | None, lines: list[tuple[float, str]]) -> int:
    if not alert or _text(alert, "status") != "active":
        return -1
    severity = _text(alert, "severity")
    for i, (_, sev) in enumerate(lines):
        if sev == severity:
            return i
    return -1


def _text(attrs: dict[str, Any], name: str) -> Any:
    attr = attrs.get(name)
    return attr.get("value") if isinstance(attr, dict) else None


def _prop(value: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value}


def _alert_attrs(rule: ThresholdRule, change: Change, value: float, line: float, severity: str,
                 previous: dict[str, Any] | None, now: datetime) -> dict[str, Any]:
    stamp = now.isoformat().replace("+00:00", "Z")
    active = previous is not None and _text(previous, "status") == "active"
    issued = _text(previous, "dateIssued") if active else None
    attrs = {
        "category": _prop(rule.category), "subCategory": _prop(rule.sub_category), "severity": _prop(severity),
        "status": _prop("active"), "description": _prop(rule.description),
        "alertSource": {"type": "Relationship", "object": change.id},
        "attribute": _prop(rule.attr), "value": {"type": "Property", "value": value, "observedAt": stamp},
        "threshold": _prop(line), "dateIssued": _prop(issued or stamp), "validFrom": _prop(issued or stamp),
    }
    if "location" in change.attrs:
        attrs["location"] = change.attrs["location"]
    return attrs


def _calm_side(rule: ThresholdRule) -> float | None:
    """The bound a value stays within to lie beyond none of the rule's lines (None: the lines come from the
    entity). Beyond none and no alert stored means nothing to raise and nothing to clear."""
    if rule.line_attrs:
        return None
    if rule.direction == "above":
        return min((line for line, _ in rule.lines), default=math.inf)
    return max((line for line, _ in rule.lines), default=-math.inf)


def _candidates(rules: tuple[ThresholdRule, ...], changes: list[Change]) -> list[tuple[Any, ...]]:
    """(rule, change, value, alert id, calm) for each changed attribute a rule watches, in change then rule order."""
    by_type: dict[str, list[tuple[ThresholdRule, float | None, bool]]] = {}
    for rule in rules:
        by_type.setdefault(rule.entity_type, []).append((rule, _calm_side(rule), rule.direction == "above"))
    out = []
    for change in changes:
        mine = by_type.get(change.type)  # one dict lookup for a type no rule watches
        if mine is None or change.deleted or change.type == "Alert":
            continue
        for rule, bound, above in mine:
            if rule.attr in change.changed:
                value = _value(change.attrs, rule.attr)
                if value is not None:
                    calm = bound is not None and (value <= bound if above else value >= bound)
                    out.append((rule, change, value, alert_id(rule, change.id), calm))
    return out


def evaluate(ctx: RequestContext, changes: list[Change]) -> list[Change]:
    """Alert changes following from entity changes (raise, escalate, clear)."""
    from cityhub.context.rules import active_rules

    candidates = _candidates(active_rules(ctx), changes)
    if not candidates:
        return []
    # Every stored alert where the reading crosses a line; where it is calm, only a still active one (to clear):
    # once most stations have had an alert, their cleared ones are not read and parsed on every batch.
    loud = [c[3] for c in candidates if not c[4]]
    calm = [c[3] for c in candidates if c[4]]
    existing = load(ctx, loud) if loud else {}
    if calm:
        existing.update(load(ctx, calm, status="active"))
    now = utcnow()
    out: list[Change] = []
    for rule, change, value, aid, calm in candidates:
        stored = existing.get(aid)
        if stored is None and calm:
            continue  # the everyday reading: no alert to raise, none to clear
        prev_attrs = stored.attrs if stored else None
        lines = rule.lines_for(change.attrs)
        current = _current_level(prev_attrs, lines)
        new = level(rule, value, lines, current)
        if new == current:
            continue
        if new >= 0:
            line, severity = lines[new]
            attrs = _alert_attrs(rule, change, value, line, severity, prev_attrs, now)
            out.append(Change(aid, "Alert", attrs, set(attrs), created=stored is None, previous=prev_attrs))
            if new > current:
                ctx.publish("alert.raised", {
                    "id": aid, "source": change.id, "sourceType": change.type, "rule": rule.name,
                    "attribute": rule.attr, "value": value, "threshold": line, "severity": severity,
                    "category": rule.category, "subCategory": rule.sub_category,
                    "location": (change.attrs.get("location") or {}).get("value"), "at": now.isoformat()})
        else:
            attrs = {**(prev_attrs or {}), "status": _prop("cleared"), "validTo": _prop(now.isoformat()),
                     "value": _prop(value)}
            out.append(Change(aid, "Alert", attrs, {"status", "validTo", "value"}, previous=prev_attrs))
            ctx.publish("alert.cleared", {"id": aid, "source": change.id, "rule": rule.name, "value": value,
                                          "at": now.isoformat()})
    return out
