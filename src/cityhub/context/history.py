"""Writing history: every observed attribute value into the narrow observation table, and the
minute/hour/day rollups (count, sum, min, max) updated in the same transaction.

Rollups are additive, so values arriving out of order still give correct aggregates; a value
re-sent for the same entity, attribute and observedAt is stored once and counted once.

The write is a couple of statements whatever the batch size: the readings travel as one JSON
document (SQLite, unpacked by `json_each`) or as column arrays (PostgreSQL, `unnest`), and the
rollups are folded in SQL (`INSERT ... SELECT ... ON CONFLICT DO UPDATE`) from the rows actually
inserted, so Python touches each value once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NamedTuple

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

GRAINS = {"m": "minute", "h": "hour", "d": "day"}
SKIP = {"dateObserved", "dateObservedFrom", "dateObservedTo", "dateIssued", "dateModified", "dateCreated",
        "validFrom", "validTo", "dateLastValueReported"}


class Reading(NamedTuple):
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


def _numeric(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def sqlite_text(ts: datetime) -> str:
    """Exactly how UTCDateTime stores values on SQLite (naive UTC, SQLAlchemy's DATETIME format)."""
    if ts.tzinfo is not UTC:
        ts = ts.astimezone(UTC)
    return ts.replace(tzinfo=None).isoformat(" ", "microseconds")


# Bucket starts computed from the stored text ('YYYY-MM-DD HH:MM:SS.ffffff'), grain by grain.
_SQLITE_BUCKET = ("CASE g.grain WHEN 'm' THEN substr(n.observed_at, 1, 16) || ':00.000000' "
                  "WHEN 'h' THEN substr(n.observed_at, 1, 13) || ':00:00.000000' "
                  "ELSE substr(n.observed_at, 1, 10) || ' 00:00:00.000000' END")
_SQLITE_OBS = (
    "INSERT INTO ctx_observations (entity_id, attr, observed_at, value_num, value_json, entity_type) "
    "SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5 FROM json_each(?) "
    "WHERE true ON CONFLICT DO NOTHING")
# The rows just inserted are the last `inserted` rowids (SQLite hands out max(rowid) + 1 to each inserted
# row, skipped duplicates take none, and the writer holds the write lock), so duplicates are not counted.
# SQLite applies an upsert row by row, so several readings of one bucket need no GROUP BY.
_SQLITE_ROLLUP = (
    "INSERT INTO ctx_rollups (entity_id, attr, grain, bucket, count, sum, min, max, entity_type) "
    f"SELECT n.entity_id, n.attr, g.grain, {_SQLITE_BUCKET}, 1, n.value_num, n.value_num, n.value_num, "
    "n.entity_type FROM ctx_observations AS n, (SELECT 'm' AS grain UNION ALL SELECT 'h' UNION ALL SELECT 'd') AS g "
    "WHERE n.rowid > ? AND n.value_num IS NOT NULL "
    "ON CONFLICT (entity_id, attr, grain, bucket) DO UPDATE SET count = count + excluded.count, "
    "sum = sum + excluded.sum, min = min(min, excluded.min), max = max(max, excluded.max)")

# Observations of the rows in CTE `n` (e, a, t, v, j, et) inserted (duplicates skipped, also within `n`) and
# folded into the rollups from the rows actually inserted, in one statement.
_PG_FOLD = (
    "ins AS (INSERT INTO ctx_observations (entity_id, attr, observed_at, value_num, value_json, entity_type) "
    "SELECT e, a, t, v, j, et FROM n ON CONFLICT DO NOTHING "
    "RETURNING entity_id, attr, observed_at, value_num, entity_type), "
    "roll AS (INSERT INTO ctx_rollups (entity_id, attr, grain, bucket, count, sum, min, max, entity_type) "
    "SELECT i.entity_id, i.attr, g.grain, "
    "date_trunc(g.unit, i.observed_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS b, "
    "count(*), sum(i.value_num), min(i.value_num), max(i.value_num), min(i.entity_type) "
    "FROM ins AS i CROSS JOIN (VALUES ('m', 'minute'), ('h', 'hour'), ('d', 'day')) AS g(grain, unit) "
    "WHERE i.value_num IS NOT NULL GROUP BY i.entity_id, i.attr, g.grain, b "
    "ON CONFLICT (entity_id, attr, grain, bucket) DO UPDATE SET count = ctx_rollups.count + excluded.count, "
    "sum = ctx_rollups.sum + excluded.sum, min = least(ctx_rollups.min, excluded.min), "
    "max = greatest(ctx_rollups.max, excluded.max)) "
    "SELECT count(*) FROM ins")
_PG_RECORD = text(
    "WITH n AS (SELECT * FROM unnest(CAST(:e AS text[]), CAST(:a AS text[]), CAST(:t AS timestamptz[]), "
    "CAST(:v AS float8[]), CAST(CAST(:j AS text[]) AS jsonb[]), CAST(:et AS text[])) AS n(e, a, t, v, j, et)), "
    + _PG_FOLD)
# The same from pending batches (`history_pending`), unpacked in the server: no value passes through Python.
PG_RECORD_PENDING = text(
    "WITH n AS (SELECT r ->> 0 AS e, r ->> 1 AS a, CAST(r ->> 2 AS timestamp) AT TIME ZONE 'UTC' AS t, "
    "CAST(r ->> 3 AS float8) AS v, CAST(r ->> 4 AS jsonb) AS j, r ->> 5 AS et "
    "FROM ctx_history_pending AS p CROSS JOIN LATERAL jsonb_array_elements(CAST(p.readings AS jsonb)) AS r "
    "WHERE p.id = ANY(CAST(:ids AS integer[]))), " + _PG_FOLD)


def record(db: Session, readings: Iterable[Reading]) -> int:
    """Store readings (duplicates ignored) and fold the new numeric ones into the rollups.

    Returns how many readings were new."""
    fresh: dict[tuple[str, str, datetime], Reading] = {}
    for r in readings:
        fresh.setdefault((r.entity_id, r.attr, r.observed_at), r)
    if not fresh:
        return 0
    if db.get_bind().dialect.name == "postgresql":
        return _record_pg(db, fresh.values())
    return _record_sqlite(db, fresh.values())


def sqlite_rows(readings: Iterable[Reading]) -> list[tuple[Any, ...]]:
    """Readings as stored rows: (entity_id, attr, observed_at text, value_num, value_json, entity_type).

    Also the form a pending batch keeps them in (`history_pending`)."""
    stamps: dict[datetime, str] = {}  # a batch shares few observedAt values: format each once
    rows = []
    for eid, etype, attr, when, value in readings:
        stamp = stamps.get(when)
        if stamp is None:
            stamp = stamps[when] = sqlite_text(when)
        kind = type(value)
        if kind is float or kind is int:
            rows.append((eid, attr, stamp, float(value), None, etype))
        else:
            num = _numeric(value)
            rows.append((eid, attr, stamp, num, None if num is not None else orjson.dumps(value).decode(), etype))
    return rows


def _record_sqlite(db: Session, readings: Iterable[Reading]) -> int:
    return record_sqlite_docs(db, [orjson.dumps(sqlite_rows(readings)).decode()])


def record_sqlite_docs(db: Session, docs: list[str]) -> int:
    """Insert the rows of JSON documents (duplicates ignored, also across documents) and fold the new
    numeric ones into the rollups with one statement for all, in `db`'s transaction."""
    return fold_sqlite_docs(db.connection().connection.dbapi_connection, docs)


def fold_sqlite_docs(conn: Any, docs: list[str]) -> int:
    """`record_sqlite_docs` on a DB-API sqlite3 connection (also one holding only the history file,
    `history_store.writing`), in its current transaction, which must hold the history tables' write lock."""
    # The insert is the first statement on the history tables: it takes their write lock with no read
    # snapshot before it, which another writer's commit could have made stale (SQLITE_BUSY_SNAPSHOT, at
    # once, no waiting). The rows inserted got consecutive rowids ending at last_insert_rowid().
    inserted = sum(conn.execute(_SQLITE_OBS, (doc,)).rowcount for doc in docs)
    if inserted:
        last = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
        conn.execute(_SQLITE_ROLLUP, (last - inserted,))
    return inserted


def _record_pg(db: Session, readings: Iterable[Reading]) -> int:
    cols: tuple[list[Any], ...] = ([], [], [], [], [], [])
    e, a, t, v, j, et = cols
    for r in readings:
        num = _numeric(r.value)
        e.append(r.entity_id)
        a.append(r.attr)
        t.append(r.observed_at)
        v.append(num)
        j.append(None if num is not None else orjson.dumps(r.value).decode())
        et.append(r.entity_type)
    return db.execute(_PG_RECORD, {"e": e, "a": a, "t": t, "v": v, "j": j, "et": et}).scalar_one()


@lru_cache(maxsize=4096)
def _stored_stamp(text: str) -> str:
    # a batch repeats the same few observedAt strings: convert each once to the stored form
    from cityhub.context.attrs import observed_instant

    return sqlite_text(observed_instant(text, "observedAt"))


def stored_rows(entity_id: str, entity_type: str, attrs: dict[str, Any], names: Iterable[str],
                fallback: str) -> list[tuple[Any, ...]]:
    """The observations carried by the changed attributes of one entity, straight in the stored row
    form of `sqlite_rows` (no Reading or datetime per value: this runs for every value of a batch).
    `fallback` is the stored text of the time used when neither observedAt nor dateObserved is given."""
    entity_stamp = fallback
    observed = attrs.get("dateObserved")
    if isinstance(observed, dict) and isinstance(observed.get("value"), str):
        try:
            entity_stamp = _stored_stamp(observed["value"])
        except Exception:
            entity_stamp = fallback
    out = []
    for name in names:
        attr = attrs.get(name)
        if type(attr) is not dict or attr.get("type") != "Property" or name in SKIP:
            continue
        stamp = attr.get("observedAt")
        when = entity_stamp if stamp is None else _stored_stamp(stamp)
        value = attr.get("value")
        kind = type(value)
        if kind is float or kind is int:
            out.append((entity_id, name, when, float(value), None, entity_type))
        else:
            num = _numeric(value)
            out.append((entity_id, name, when, num, None if num is not None else orjson.dumps(value).decode(),
                        entity_type))
    return out

