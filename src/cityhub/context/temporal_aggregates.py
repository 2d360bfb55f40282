"""Temporal aggregates from rollups: the minute/hour/day buckets kept on write, combined into the asked periods.

Aggregates never scan raw values: buckets are combined into the asked period (PT15M from minutes, PT6H
from hours, P7D from days, ...). A bucket belongs to a period, and to a time window, by its start time.

A 300-station month at daily resolution is 9,000 rollup rows, all read by one indexed range query
(the rollups' key: entity, attribute, grain, bucket). What costs is per row, so: the rows come as the
driver's plain tuples, a bucket's period is worked out once per distinct bucket, when each bucket is a
period of its own the database gives each method's value (nothing to fold in Python), and for the HTTP door
(`encoded`) each entity's series is turned into JSON (orjson) as soon as it is complete, so thousands of
small lists never live at once (they made the garbage collector walk the heap: 70–100 ms outliers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import chain, groupby
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Float, String, cast, func, select, type_coerce

from cityhub.context.models import Rollup

if TYPE_CHECKING:
    from cityhub.context.temporal import TemporalQuery
    from cityhub.ctx import RequestContext

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
R = Rollup.__table__
GRAIN_SECONDS = {"m": 60, "h": 3600, "d": 86400}
FETCH_ROWS = 1_000  # rows taken from the driver at a time: a batch is freed before the next comes


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def grain(period: timedelta | None, tq: TemporalQuery) -> str:
    """The coarsest rollup whose buckets tile the period (or, with no period, suit the window's length)."""
    if period is None or period == timedelta(0):
        span = (tq.end_time_at - tq.time_at) if (tq.time_at and tq.end_time_at) else None
        if span is not None and span <= timedelta(days=2):
            return "m"
        return "h" if span is not None and span <= timedelta(days=60) else "d"
    seconds = int(period.total_seconds())
    if seconds % 86400 == 0:
        return "d"
    if seconds % 3600 == 0:
        return "h"
    return "m"


def to_time(raw: Any) -> datetime:
    """A raw bucket value (text on SQLite, datetime on PostgreSQL) as an aware UTC datetime."""
    value = raw if isinstance(raw, datetime) else datetime.fromisoformat(raw)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def origin(tq: TemporalQuery) -> datetime:
    """Where the periods start: at timeAt when the window starts there (after/between), as NGSI-LD counts
    aggregation periods from the start of the asked interval; floored to the rollup grain so every
    bucket lies in one period. Otherwise (no window, or `before`) at the epoch."""
    if tq.time_at is None or tq.timerel not in ("after", "between"):
        return EPOCH
    step = timedelta(seconds=GRAIN_SECONDS[grain(tq.aggr_period, tq)])
    return EPOCH + step * ((tq.time_at - EPOCH) // step)


class Spans(dict):
    """raw bucket → (period start, period end) as ISO text, memoized per bucket and shared per period (a
    300-station month has 9,000 rows but 31 buckets), so rows of one period carry the very same tuple.
    A dict: a known bucket is a plain subscript, no Python call per row."""

    def __init__(self, tq: TemporalQuery) -> None:
        super().__init__()
        assert tq.aggr_period is not None
        self.period, self.start0 = tq.aggr_period, origin(tq)
        self.by_start: dict[datetime, tuple[str, str]] = {}

    def __missing__(self, raw: Any) -> tuple[str, str]:
        period, start0 = self.period, self.start0
        start = start0 + period * int((to_time(raw) - start0).total_seconds() // period.total_seconds())
        hit = self.by_start.get(start)
        if hit is None:
            hit = self.by_start[start] = (iso(start), iso(start + period))
        self[raw] = hit
        return hit


def periods(rows: Iterable[tuple], span: Callable[[Any], Any]) -> Iterator[list]:
    """Fold rollup rows into periods: rows come ordered by entity, attribute and bucket, so the buckets of
    one period are adjacent. Yields [entity, attr, span, count, sum, min, max, last bucket]."""
    cur: list | None = None
    for eid, attr, raw, n, total, lo, hi in rows:
        sp = span(raw)
        if cur is not None and cur[2] is sp and cur[1] == attr and cur[0] == eid:
            cur[3] += n
            cur[4] += total
            cur[5] = lo if lo < cur[5] else cur[5]
            cur[6] = hi if hi > cur[6] else cur[6]
            cur[7] = raw
            continue
        if cur is not None:
            yield cur
        cur = [eid, attr, sp, n, total, lo, hi, raw]
    if cur is not None:
        yield cur


METHOD_VALUE: dict[str, Callable[[int, float, float, float], Any]] = {
    "avg": lambda n, total, lo, hi: total / n if n else None, "min": lambda n, total, lo, hi: lo,
    "max": lambda n, total, lo, hi: hi, "sum": lambda n, total, lo, hi: total,
    "totalCount": lambda n, total, lo, hi: n}


# each method's value of one bucket, worked out by the database (avg: the same IEEE division as in Python)
METHOD_SQL = {"avg": R.c["sum"] / cast(R.c["count"], Float), "min": R.c["min"], "max": R.c["max"],
              "sum": R.c["sum"], "totalCount": R.c["count"]}
_ENTITY_ATTR = itemgetter(0, 1)


def _rows(ctx: RequestContext, stmt: Any) -> Iterator[tuple]:
    """The statement's rows as the driver's tuples, a batch at a time (no Row object per rollup row)."""

    def batches() -> Iterator[list[tuple]]:
        result = ctx.db.execute(stmt)
        try:
            while batch := result.cursor.fetchmany(FETCH_ROWS):
                yield batch
        finally:
            result.close()

    return chain.from_iterable(batches())


def _statement(tq: TemporalQuery, ids: list[str], time_filter: Callable[[Any, TemporalQuery], list[Any]],
               g: str, values: list[Any], dialect: str) -> Any:
    conds = [R.c.entity_id.in_(ids), R.c.grain == g, *time_filter(R.c.bucket, tq)]
    if tq.attrs:
        conds.append(R.c.attr.in_(tq.attrs))
    # the bucket comes back as text (no per-row datetime, whose hash with a ZoneInfo costs on PostgreSQL):
    # each distinct one is converted once. Ordered as the rollups' key: SQLite's key search needs no sort
    # (PostgreSQL 15 sorts the rows of an IN-list index scan: ~2 ms for 9,000)
    bucket = type_coerce(R.c.bucket, String) if dialect == "sqlite" else cast(R.c.bucket, String)
    return select(R.c.entity_id, R.c.attr, bucket, *values).where(*conds).order_by(
        R.c.entity_id, R.c.attr, R.c.bucket)


def _encode(slot: dict[str, Any] | None, methods: list[str]) -> None:
    """An attribute's finished series as JSON spliced into the response (orjson.Fragment)."""
    if slot is not None:
        for m in methods:
            slot[m] = orjson.Fragment(orjson.dumps(slot[m]))


def aggregates(ctx: RequestContext, tq: TemporalQuery, ids: list[str],
               time_filter: Callable[[Any, TemporalQuery], list[Any]]) -> dict[str, dict[str, Any]]:
    """{entity: {attr: {"type": "Property", method: [[value, start, end], ...]}}} from one range query over
    the rollups of all entities, then one pass over the ordered rows."""
    g, dialect = grain(tq.aggr_period, tq), ctx.db.get_bind().dialect.name
    if not tq.aggr_period:
        return _whole_window(ctx, tq, _window_statement(tq, ids, time_filter, g))
    if tq.aggr_period == timedelta(seconds=GRAIN_SECONDS[g]):
        values = [METHOD_SQL[m] for m in tq.aggr_methods]
        return _bucket_periods(ctx, tq, _statement(tq, ids, time_filter, g, values, dialect))
    numbers = [R.c["count"], R.c["sum"], R.c["min"], R.c["max"]]
    rows = _rows(ctx, _statement(tq, ids, time_filter, g, numbers, dialect))
    values = [METHOD_VALUE[m] for m in tq.aggr_methods]
    out: dict[str, dict[str, Any]] = {}
    key: tuple[str, str] | None = None
    slot: dict[str, Any] | None = None
    lists: list[list] = []
    for eid, attr, span, n, total, lo, hi, _ in periods(rows, Spans(tq).__getitem__):
        if key != (eid, attr):
            if tq.encoded:
                _encode(slot, tq.aggr_methods)
            key = (eid, attr)
            slot = out.setdefault(eid, {}).setdefault(attr, {"type": "Property"})
            lists = [slot.setdefault(m, []) for m in tq.aggr_methods]
        for value, into in zip(values, lists, strict=True):
            into.append([value(n, total, lo, hi), *span])
    if tq.encoded:
        _encode(slot, tq.aggr_methods)
    return out


def _window_statement(tq: TemporalQuery, ids: list[str], time_filter: Callable[[Any, TemporalQuery], list[Any]],
                      g: str) -> Any:
    """No aggrPeriodDuration: one period over the whole window, summed up by the database (a month of 300
    stations is 216,000 hour buckets but 300 result rows)."""
    conds = [R.c.entity_id.in_(ids), R.c.grain == g, *time_filter(R.c.bucket, tq)]
    if tq.attrs:
        conds.append(R.c.attr.in_(tq.attrs))
    return select(R.c.entity_id, R.c.attr, func.sum(R.c["count"]), func.sum(R.c["sum"]), func.min(R.c["min"]),
                  func.max(R.c["max"]), func.max(R.c.bucket)).where(*conds).group_by(
        R.c.entity_id, R.c.attr).order_by(R.c.entity_id, R.c.attr)


def _whole_window(ctx: RequestContext, tq: TemporalQuery, stmt: Any) -> dict[str, dict[str, Any]]:
    """The window's one period per entity and attribute; with no end asked, it ends after the last bucket."""
    values = [METHOD_VALUE[m] for m in tq.aggr_methods]
    start = iso(tq.time_at or EPOCH)
    out: dict[str, dict[str, Any]] = {}
    for eid, attr, n, total, lo, hi, last in _rows(ctx, stmt):
        span = (start, iso(tq.end_time_at or to_time(last) + timedelta(minutes=1)))
        slot = out.setdefault(eid, {})[attr] = {"type": "Property"}
        for m, value in zip(tq.aggr_methods, values, strict=True):
            series = [[value(n, total, lo, hi), *span]]
            slot[m] = orjson.Fragment(orjson.dumps(series)) if tq.encoded else series
    return out


def _bucket_periods(ctx: RequestContext, tq: TemporalQuery, stmt: Any) -> dict[str, dict[str, Any]]:
    """`aggregates` when each bucket is a period of its own (P1D from days, PT1H from hours): nothing to
    fold, the database gives each method's value per row, and each entity's rows are one group."""
    span = Spans(tq)
    out: dict[str, dict[str, Any]] = {}
    for (eid, attr), group in groupby(_rows(ctx, stmt), key=_ENTITY_ATTR):
        rows = list(group)
        spans = [span[row[2]] for row in rows]
        slot = out.setdefault(eid, {})[attr] = {"type": "Property"}
        for k, m in enumerate(tq.aggr_methods, start=3):
            series = [[row[k], *sp] for row, sp in zip(rows, spans, strict=True)]
            slot[m] = orjson.Fragment(orjson.dumps(series)) if tq.encoded else series
    return out
