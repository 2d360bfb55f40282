"""What the SQL sandbox costs per query on SQLite: our path against the raw engine, same table, same run.

Ours = sqlglot parse and checks + a fresh read-only connection + authorizer + progress handler +
row cap + JSON-friendly records. Raw = the same SQL on an already open sqlite3 connection.
Also prints how fast a runaway recursive CTE is stopped (the time limit, set to 1 s here).
"""

from __future__ import annotations

import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from cityhub.datastore import sql, sql_sqlite
from cityhub.errors import Invalid

TABLE = "6f1c0b2e-5d7a-4c61-9d0f-2b8e5a7c1d34"
DISTRICTS = ["중구", "서구", "동구", "영도구", "부산진구", "동래구", "남구", "북구", "해운대구", "사하구",
             "금정구", "강서구", "연제구", "수영구", "사상구", "기장군"]
QUERIES = {
    "point lookup": f'SELECT * FROM "{TABLE}" WHERE _id = 4242',
    "100-row page": f'SELECT * FROM "{TABLE}" WHERE district = \'해운대구\' ORDER BY _id LIMIT 100',
    "group by over all rows": f'SELECT district, count(*) AS n, avg(pm10) AS pm10 FROM "{TABLE}" GROUP BY district',
}


def make_db(path: Path, rows: int) -> None:
    rnd = random.Random(3)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f'CREATE TABLE "{TABLE}" (_id INTEGER PRIMARY KEY, district TEXT, pm10 REAL, measured TEXT)')
    conn.executemany(f'INSERT INTO "{TABLE}" (district, pm10, measured) VALUES (?, ?, ?)',
                     ((rnd.choice(DISTRICTS), rnd.uniform(5, 150), f"2025-01-{1 + i % 28:02d}") for i in range(rows)))
    conn.execute(f'CREATE INDEX ix_district ON "{TABLE}" (district, _id)')
    conn.commit()
    conn.close()


def p50_p95(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.95) - 1] * 1000


def sandbox_run(ctx: SimpleNamespace, text: str) -> sql.SqlResult:
    query, _ = sql.check_sql(text, dialect="sqlite", tables={TABLE: TABLE}, functions=sql_sqlite.FUNCTIONS)
    query = sql.CheckedQuery(text=text, tables=query.tables)
    return sql.to_result(sql_sqlite.execute(ctx, query=query, max_rows=ctx.settings.sql_row_cap))


def main(rows: int = 200_000, repeats: int = 100) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        make_db(path, rows)
        settings = SimpleNamespace(database_url=f"sqlite:///{path}", sql_timeout_seconds=1.0, sql_row_cap=10_000)
        ctx = SimpleNamespace(settings=settings, db=SimpleNamespace(scalar=lambda *_: None))
        raw = sqlite3.connect(path)
        print(f"SQL sandbox on SQLite {sqlite3.sqlite_version}, {rows:,} rows, {repeats} runs each (ms, p50 / p95)")
        for label, text in QUERIES.items():
            ours, engine = [], []
            for _ in range(repeats):  # interleaved, so load from other processes hits both alike
                started = time.perf_counter()
                sandbox_run(ctx, text)
                ours.append(time.perf_counter() - started)
                started = time.perf_counter()
                raw.execute(text).fetchall()
                engine.append(time.perf_counter() - started)
            (o50, o95), (r50, r95) = p50_p95(ours), p50_p95(engine)
            print(f"  {label:<24} sandbox {o50:7.2f} / {o95:7.2f}   raw sqlite3 {r50:7.2f} / {r95:7.2f}"
                  f"   overhead p50 {o50 - r50:+.2f} ms")
        forever = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
        started = time.perf_counter()
        try:
            sandbox_run(ctx, forever)
        except Invalid as err:
            print(f"  runaway recursive CTE stopped after {time.perf_counter() - started:.2f} s: {err.message}")
        raw.close()
        print(f"  reader pool: a fresh read-only connection costs {fresh_reader_ms(path):.1f} ms with 2,000 tables "
              "in the database (schema read on open); pooled readers skip it")
    sys.stdout.flush()


def fresh_reader_ms(path: Path, tables: int = 2_000) -> float:
    conn = sqlite3.connect(path)
    for i in range(tables):
        conn.execute(f'CREATE TABLE "t{i:05d}" (_id INTEGER PRIMARY KEY, a TEXT, b REAL, c TEXT)')
    conn.commit()
    conn.close()
    samples = []
    for _ in range(10):
        started = time.perf_counter()
        reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        reader.execute(QUERIES["point lookup"]).fetchall()
        reader.close()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


if __name__ == "__main__":
    main()
