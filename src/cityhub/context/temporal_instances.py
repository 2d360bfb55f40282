"""Raw attribute instances for the temporal API, at most MAX_INSTANCES per entity+attribute.

Order (ETSI GS CIM 009, temporal representation): ascending observedAt, or newest first with lastN. When the
cap cuts an entity+attribute short, the whole answer is trimmed to one time window, every attribute to the
same bound, and the caller learns that window (`Partial`): the NGSI-LD door answers 206 with
`Content-Range: date-time <first>-<last>/<lastN or *>`, and the client asks for the rest with timerel
(`after <last>` ascending, `before <last>` with lastN) without a gap between attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from cityhub.context.models import Observation
from cityhub.context.temporal_aggregates import iso

MAX_INSTANCES = 10_000
O = Observation.__table__  # noqa: E741
COLS = (O.c.entity_id, O.c.attr, O.c.observed_at, O.c.value_num, O.c.value_json)

Rows = dict[tuple[str, str], list[tuple[datetime, Any]]]


@dataclass(frozen=True)
class Partial:
    """The time window a cut answer covers, in the answer's order (newest first with lastN)."""

    first: datetime
    last: datetime
    size: int | None  # lastN when asked, else unknown

    def content_range(self) -> str:
        return f"date-time {iso(self.first)}-{iso(self.last)}/{self.size if self.size else '*'}"


def fetch(db: Any, conds: list[Any], last_n: int | None, series: int,
          cap: int = MAX_INSTANCES) -> tuple[Rows, Partial | None]:
    """Instances matching `conds` per (entity, attribute), in answer order, and the window when cut short.
    `series` is how many (entity, attribute) pairs may match at most as far as the caller knows (entities ×
    attrs asked, or entities when attrs are not given): it sizes the plain read."""
    per_key = min(last_n, cap) if last_n else cap
    # one row past the cap tells a cut answer from one that is exactly full; lastN within the cap cuts nothing
    probe = per_key + 1 if per_key == cap else per_key
    rows = None if last_n else _plain(db, conds, (cap + 1) * max(1, series))
    if rows is None:
        rows = _ranked(db, conds, probe, newest_first=bool(last_n))
    cut = [s for s in rows.values() if len(s) > per_key]
    if not cut:
        return rows, None
    for s in cut:
        del s[per_key:]
    return _trim(rows, cut, bool(last_n), last_n)


def _plain(db: Any, conds: list[Any], budget: int) -> Rows | None:
    """Every matching row in primary-key order (the usual case: half the CPU of ranking them in SQL), or None
    when more than `budget` rows match, so that one long series is read no further than that."""
    stmt = select(*COLS).where(*conds).order_by(O.c.entity_id, O.c.attr, O.c.observed_at).limit(budget + 1)
    rows: Rows = {}
    n = 0
    for eid, attr, when, num, other in db.execute(stmt):
        rows.setdefault((eid, attr), []).append((when, num if num is not None else other))
        n += 1
    return None if n > budget else rows


def _ranked(db: Any, conds: list[Any], probe: int, newest_first: bool) -> Rows:
    """At most `probe` rows per (entity, attribute), ranked in SQL (window functions on both dialects): the
    cap is per series, so a long series cannot starve the entities after it as a single LIMIT would."""
    order = O.c.observed_at.desc() if newest_first else O.c.observed_at.asc()
    rank = func.row_number().over(partition_by=(O.c.entity_id, O.c.attr), order_by=order).label("rk")
    inner = select(*COLS, rank).where(*conds).subquery()
    stmt = select(*[inner.c[c.name] for c in COLS]).where(inner.c.rk <= probe).order_by(
        inner.c.entity_id, inner.c.attr, inner.c.rk)
    rows: Rows = {}
    for eid, attr, when, num, other in db.execute(stmt):
        rows.setdefault((eid, attr), []).append((when, num if num is not None else other))
    return rows


def _trim(rows: Rows, cut: list[list[tuple[datetime, Any]]], newest_first: bool,
          last_n: int | None) -> tuple[Rows, Partial]:
    """Trim every series to the window the shortest-reaching cut series covers; that window is the answer's."""
    if newest_first:
        bound = max(series[-1][0] for series in cut)
        rows = {k: [r for r in s if r[0] >= bound] for k, s in rows.items()}
        first = max(s[0][0] for s in rows.values() if s)
    else:
        bound = min(series[-1][0] for series in cut)
        rows = {k: [r for r in s if r[0] <= bound] for k, s in rows.items()}
        first = min(s[0][0] for s in rows.values() if s)
    return {k: s for k, s in rows.items() if s}, Partial(first=first, last=bound, size=last_n)
