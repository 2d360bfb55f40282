"""Writing history: every observed attribute value into the narrow observation table, and the
minute/hour/day rollups (count, sum, min, max) updated in the same transaction.

Rollups are additive, so values arriving out of order still give correct aggregates; a value
re-sent for the same entity, attribute and observedAt is stored once and counted once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cityhub.context.models import Observation, Rollup

GRAINS = {"m": "minute", "h": "hour", "d": "day"}
SKIP = {"dateObserved", "dateObservedFrom", "dateObservedTo", "dateIssued", "dateModified", "dateCreated",
        "validFrom", "validTo", "dateLastValueReported"}


@dataclass(frozen=True)
class Reading:
    entity_id: str
    entity_type: str
    attr: str
    observed_at: datetime
    value: Any


def bucket(ts: datetime, grain: str) -> datetime:
    if grain == "m":
        return ts.replace(second=0, microsecond=0)
    if grain == "h":
        return ts.replace(minute=0, second=0, microsecond=0)
    return ts.replace(hour=0, minute=0, second=0, microsecond=0)


def _insert(db: Session, model: type):  # noqa: ANN202
    # Core insert on the Table: the ORM bulk path would run RETURNING row by row.
    maker = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    return maker(model.__table__)


def _numeric(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def record(db: Session, readings: Iterable[Reading]) -> int:
    """Store readings (duplicates ignored) and fold the new numeric ones into the rollups."""
    rows = []
    seen: set[tuple[str, str, datetime]] = set()
    for r in readings:
        key = (r.entity_id, r.attr, r.observed_at)
        if key in seen:
            continue
        seen.add(key)
        num = _numeric(r.value)
        rows.append({"entity_id": r.entity_id, "attr": r.attr, "observed_at": r.observed_at,
                     "value_num": num, "value_json": None if num is not None else r.value,
                     "entity_type": r.entity_type})
    if not rows:
        return 0
    if db.get_bind().dialect.name == "sqlite":
        inserted = _sqlite_fast_insert(db, rows)
        _roll_up(db, inserted)
        return len(inserted)
    stmt = _insert(db, Observation).on_conflict_do_nothing(index_elements=["entity_id", "attr", "observed_at"])
    O = Observation.__table__  # noqa: N806, E741
    stmt = stmt.returning(O.c.entity_id, O.c.attr, O.c.observed_at, O.c.value_num, O.c.entity_type)
    inserted = db.execute(stmt, rows).all()
    _roll_up(db, inserted)
    return len(inserted)


def _sqlite_text(ts: datetime) -> str:
    # exactly how UTCDateTime stores values on SQLite (naive UTC, SQLAlchemy's DATETIME format)
    if ts.tzinfo is not UTC:
        ts = ts.astimezone(UTC)
    return ts.replace(tzinfo=None).isoformat(" ", "microseconds")


def _sqlite_fast_insert(db: Session, rows: list[dict[str, Any]]) -> list[tuple]:
    """Driver-level executemany. Values already stored (same entity, attribute, observedAt) are found
    first with one indexed lookup and skipped; no SAVEPOINT (pysqlite keeps the write lock after one).
    The writer already holds SQLite's write lock here (entity rows were written), so nothing races."""
    conn = db.connection()
    lo = min(r["observed_at"] for r in rows)
    hi = max(r["observed_at"] for r in rows)
    ids = list({r["entity_id"] for r in rows})
    existing: set[tuple[str, str, str]] = set()
    for k in range(0, len(ids), 900):
        chunk = ids[k:k + 900]
        marks = ",".join("?" * len(chunk))
        existing.update(conn.exec_driver_sql(
            f"SELECT entity_id, attr, observed_at FROM ctx_observations WHERE entity_id IN ({marks}) "
            "AND observed_at >= ? AND observed_at <= ?", (*chunk, _sqlite_text(lo), _sqlite_text(hi))).all())
    fresh, params = [], []
    for r in rows:
        stamp = _sqlite_text(r["observed_at"])
        if (r["entity_id"], r["attr"], stamp) in existing:
            continue
        fresh.append((r["entity_id"], r["attr"], r["observed_at"], r["value_num"], r["entity_type"]))
        params.append((r["entity_id"], r["attr"], stamp, r["value_num"],
                       None if r["value_json"] is None else orjson.dumps(r["value_json"]).decode(), r["entity_type"]))
    if params:
        conn.exec_driver_sql(
            "INSERT INTO ctx_observations (entity_id, attr, observed_at, value_num, value_json, entity_type) "
            "VALUES (?, ?, ?, ?, ?, ?)", params)
    return fresh


def _roll_up(db: Session, inserted: list) -> None:
    acc: dict[tuple[str, str, str, datetime], list] = {}
    for entity_id, attr, observed_at, value, entity_type in inserted:
        if value is None:
            continue
        for grain in GRAINS:
            key = (entity_id, attr, grain, bucket(observed_at, grain))
            cur = acc.get(key)
            if cur is None:
                acc[key] = [1, value, value, value, entity_type]
            else:
                cur[0] += 1
                cur[1] += value
                cur[2] = min(cur[2], value)
                cur[3] = max(cur[3], value)
    if not acc:
        return
    rows = [{"entity_id": k[0], "attr": k[1], "grain": k[2], "bucket": k[3], "count": v[0], "sum": v[1],
             "min": v[2], "max": v[3], "entity_type": v[4]} for k, v in acc.items()]
    is_pg = db.get_bind().dialect.name == "postgresql"
    lower, upper = (func.least, func.greatest) if is_pg else (func.min, func.max)
    R = Rollup.__table__  # noqa: N806
    stmt = _insert(db, Rollup)
    ex = stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=["entity_id", "attr", "grain", "bucket"],
        set_={"count": R.c["count"] + ex["count"], "sum": R.c["sum"] + ex["sum"],
              "min": lower(R.c["min"], ex["min"]), "max": upper(R.c["max"], ex["max"])},
    )
    if not is_pg:
        _sqlite_roll_up(db, rows)
        return
    db.execute(stmt, rows)


def _sqlite_roll_up(db: Session, rows: list[dict[str, Any]]) -> None:
    db.connection().exec_driver_sql(
        "INSERT INTO ctx_rollups (entity_id, attr, grain, bucket, count, sum, min, max, entity_type) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (entity_id, attr, grain, bucket) DO UPDATE SET "
        "count = count + excluded.count, sum = sum + excluded.sum, min = min(min, excluded.min), "
        "max = max(max, excluded.max)",
        [(r["entity_id"], r["attr"], r["grain"], _sqlite_text(r["bucket"]), r["count"], r["sum"], r["min"], r["max"],
          r["entity_type"]) for r in rows])


def readings_from(entity_id: str, entity_type: str, attrs: dict[str, Any], names: Iterable[str],
                  fallback_time: datetime) -> list[Reading]:
    """The observations carried by the changed attributes of one entity."""
    from cityhub.context.attrs import parse_time

    entity_time = fallback_time
    observed = attrs.get("dateObserved")
    if isinstance(observed, dict) and isinstance(observed.get("value"), str):
        try:
            entity_time = parse_time(observed["value"], "dateObserved")
        except Exception:
            entity_time = fallback_time
    out = []
    for name in names:
        attr = attrs.get(name)
        if name in SKIP or not isinstance(attr, dict) or attr.get("type") != "Property":
            continue
        when = parse_time(attr["observedAt"], f"{name}.observedAt") if "observedAt" in attr else entity_time
        out.append(Reading(entity_id, entity_type, name, when, attr.get("value")))
    return out
