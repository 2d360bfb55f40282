"""Every search row's facet codes held in process memory, checked against a token in the database.

Why: a broad word search's facet pass read each match's code blob through a join of the FTS5 matches
to `dataset_facet_codes` (10 ms of 14 for `교통`'s 20,000 matches), and decoding the codes that
occurred took another SQL round trip. With the codes of all rows in one numpy array (150,000 rows:
about 6 MB), a facet pass is the bare FTS5 match (its rowids) and one numpy gather + bincount; the
match's rowids also give the total, so the separate count query goes too.

Correctness never depends on this memory. Two values in `dataset_facet_counts` (access level "~",
outside every real level, so no count ever includes them) say what the rows are:
- `~high_water`, the highest row key ever given out. `reindex` gives each changed dataset a new key
  above it (`next_key`) in the same transaction, so keys are never reused and a row's codes never
  change under its key: a worker seeing a higher mark loads just the rows above what it holds.
  Removed rows need nothing: their keys no longer match in the index, so they are never counted.
- `~generation`, a random number set whenever keys are renumbered or codes rewritten (`search.rebuild`,
  `search_codes.rebuild`): a worker seeing another generation reloads everything.
Each search reads both (one indexed read), so a change committed by any worker is seen by the next
search in every worker. Value codes are never renumbered (search_codes.py), so their names are cached
for good and only unseen codes are looked up.
"""

from __future__ import annotations

import secrets
import threading
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cityhub.catalog.search_codes import DTYPE, FacetValue
from cityhub.catalog.search_facets import FacetCount

TOKEN_LEVEL = "~"  # not an access level: stored counts never read it
HIGH_WATER, GENERATION = "~high_water", "~generation"


def _set(db: Session, name: str, n: int) -> None:
    make = sqlite.insert if db.get_bind().dialect.name == "sqlite" else postgresql.insert
    stmt = make(FacetCount).values(access_level=TOKEN_LEVEL, field=name, value="", n=n)
    db.execute(stmt.on_conflict_do_update(index_elements=["access_level", "field", "value"], set_={"n": n}))


def _get(db: Session, name: str) -> int | None:
    return db.scalar(select(FacetCount.n).where(FacetCount.access_level == TOKEN_LEVEL, FacetCount.field == name,
                                                FacetCount.value == ""))


def next_key(db: Session) -> int:
    """A search row key never given out before (and the new high-water mark, in the caller's transaction)."""
    from cityhub.catalog.search_docs import DatasetSearchDoc

    used = max(_get(db, HIGH_WATER) or 0, db.scalar(select(func.max(DatasetSearchDoc.doc))) or 0)
    _set(db, HIGH_WATER, used + 1)
    return used + 1


def renumbered(db: Session) -> None:
    """Keys or codes were rewritten wholesale: every worker reloads (a new generation, the mark follows)."""
    from cityhub.catalog.search_docs import DatasetSearchDoc

    _set(db, GENERATION, secrets.randbits(31))
    _set(db, HIGH_WATER, db.scalar(select(func.max(DatasetSearchDoc.doc))) or 0)


@dataclass
class _Held:
    generation: int | None = None
    high_water: int = -1
    starts: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))  # by key: offset into codes
    lengths: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int32))
    codes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    names: dict[int, tuple[str, str]] = field(default_factory=dict)  # value code -> (field, value)


_held: dict[str, _Held] = {}  # per database (a process may serve several, as the test suite does)
_lock = threading.Lock()


def _token(raw) -> tuple[int | None, int]:  # noqa: ANN001 — a DB-API connection
    rows = dict(raw.execute("SELECT field, n FROM dataset_facet_counts WHERE access_level = ? AND field IN (?, ?)",
                            (TOKEN_LEVEL, HIGH_WATER, GENERATION)).fetchall())
    if HIGH_WATER not in rows:  # no key given out by next_key yet: the rows as they stand
        rows[HIGH_WATER] = raw.execute("SELECT max(doc) FROM dataset_facet_codes").fetchone()[0]
    return rows.get(GENERATION), rows[HIGH_WATER] or 0


def _load(raw, held: _Held, above: int, upto: int) -> None:  # noqa: ANN001
    rows = raw.execute("SELECT doc, codes FROM dataset_facet_codes WHERE doc > ? AND doc <= ? ORDER BY doc",
                       (above, upto)).fetchall()
    size = max(upto, held.high_water, 0) + 1
    starts = np.zeros(size, dtype=np.int64)
    lengths = np.zeros(size, dtype=np.int32)
    keep = min(len(held.starts), size)
    starts[:keep], lengths[:keep] = held.starts[:keep], held.lengths[:keep]
    if rows:
        keys = np.fromiter((k for k, _ in rows), dtype=np.int64, count=len(rows))
        blobs = [b or b"" for _, b in rows]
        sizes = np.fromiter((len(b) // 4 for b in blobs), dtype=np.int32, count=len(rows))
        starts[keys] = len(held.codes) + np.concatenate(([0], np.cumsum(sizes[:-1], dtype=np.int64)))
        lengths[keys] = sizes
        held.codes = np.concatenate((held.codes, np.frombuffer(b"".join(blobs), dtype=DTYPE).astype(np.int32)))
    held.starts, held.lengths = starts, lengths


def _current(db: Session) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """This database's rows as the token says they are (loading what is new since last time): starts and
    lengths by key, and the codes, taken together so a load by another thread cannot mix them.
    Read after the caller's match, so every key it matched is at or below the mark."""
    raw = db.connection().connection.driver_connection
    generation, high_water = _token(raw)
    key = str(db.get_bind().url)
    with _lock:
        held = _held.get(key)
        if held is None or held.generation != generation or high_water < held.high_water:
            held = _Held(generation=generation, names=held.names if held is not None else {})
            _load(raw, held, -1, high_water)
        elif high_water > held.high_water:
            _load(raw, held, held.high_water, high_water)
        held.high_water = high_water
        _held[key] = held
        return held.starts, held.lengths, held.codes


def count(db: Session, keys: np.ndarray) -> tuple[int, dict[int, int]]:
    """Rows and per-code counts of the rows with these keys (as search_codes.count does from blobs)."""
    starts, all_lengths, codes = _current(db)
    rows = len(keys)
    keys = keys[(keys >= 0) & (keys < len(starts))]
    lengths = all_lengths[keys].astype(np.int64)
    total = int(lengths.sum())
    if not total:
        return rows, {}
    # Positions of every code of every row: each row's start, then counting up within the row.
    ends = np.cumsum(lengths)
    positions = np.arange(total, dtype=np.int64) + np.repeat(starts[keys] - (ends - lengths), lengths)
    counts = np.bincount(codes[positions])
    present = np.flatnonzero(counts)
    return rows, dict(zip(present.tolist(), counts[present].tolist(), strict=True))


def decode(db: Session, counts: dict[int, int], fields: list[str]) -> dict[str, Counter]:
    """Per-field value counts from per-code counts, names from memory (codes are never renumbered)."""
    held = _held[str(db.get_bind().url)]
    missing = [c for c in counts if c not in held.names]
    if missing:
        for start in range(0, len(missing), 5_000):
            rows = db.execute(select(FacetValue.code, FacetValue.field, FacetValue.value)
                              .where(FacetValue.code.in_(missing[start:start + 5_000])))
            held.names.update({code: (f, v) for code, f, v in rows})
    out: dict[str, Counter] = {f: Counter() for f in fields}
    for code, n in counts.items():
        name = held.names.get(code)
        if name is not None and name[0] in out:
            out[name[0]][name[1]] += n
    return out


def tally(db: Session, keys: np.ndarray, fields: list[str]) -> tuple[int, dict[str, Counter]]:
    """Total and per-field counts of the rows with these keys."""
    total, counts = count(db, keys)
    return total, decode(db, counts, fields)

