"""Datastore figures: CSV import rows/s end to end, and a filtered, sorted 100-row page with its total.

Peers measured in the same run:
- raw engine: Python `csv` + sqlite3 `executemany` into a bare table (no types, no indexes);
- Datasette (from .venv-peers, `make peers`) serving the very same SQLite table over its JSON API;
- for queries outside the import's index plan: the same SQL on a bare sqlite3 connection (SQLite's plan).

Targets (Foundation issue): import >= 500,000 rows/s; page p95 <= 30 ms on 10,000,000 rows, total
included; faster than Datasette. `--rows` scales the table down for a quick run.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
DISTRICTS = ["중구", "서구", "동구", "영도구", "부산진구", "동래구", "남구", "북구", "해운대구", "사하구",
             "금정구", "강서구", "연제구", "수영구", "사상구", "기장군"]


def generate_csv(path: Path, rows: int) -> None:
    """district, time, value, count, station: written by DuckDB in a second or two per million rows."""
    import duckdb

    names = ", ".join(f"'{d}'" for d in DISTRICTS)
    duckdb.sql(f"""
        COPY (SELECT [{names}][(i % 16) + 1] AS district,
                     TIMESTAMP '2024-01-01' + to_seconds(i * 3) AS time,
                     round(random() * 150, 1) AS value,
                     (i * 7) % 1000 AS count,
                     'ST-' || lpad(CAST(i % 500 AS VARCHAR), 3, '0') AS station
              FROM range({rows}) t(i)) TO '{path}' (HEADER, DELIMITER ',')""")


def raw_engine_rate(path: Path, rows: int, workdir: Path) -> float:
    """Python csv + executemany (the issue's 220k rows/s reference), on up to 2M rows."""
    limit = min(rows, 2_000_000)
    db = sqlite3.connect(workdir / "raw.db")
    db.execute("CREATE TABLE t (district TEXT, time TEXT, value REAL, count INTEGER, station TEXT)")
    started = time.perf_counter()
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        next(reader)
        batch: list[list[str]] = []
        for n, row in enumerate(reader):
            if n >= limit:
                break
            batch.append(row)
            if len(batch) == 100_000:
                db.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?)", batch)
                batch.clear()
        db.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?)", batch)
    db.commit()
    elapsed = time.perf_counter() - started
    db.close()
    return limit / elapsed


def adbc_rate(path: Path, workdir: Path) -> float | None:
    """pyarrow.csv + ADBC SQLite ingest into a bare table (no types decided, no indexes): the C-level floor."""
    try:
        import adbc_driver_sqlite.dbapi as adbc
    except ImportError:
        return None
    import pyarrow.csv as pacsv

    started = time.perf_counter()
    table = pacsv.read_csv(path)
    with adbc.connect(str(workdir / "adbc.db"), autocommit=True) as conn, conn.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.adbc_ingest("t", table, mode="create")
    return table.num_rows / (time.perf_counter() - started)


def duckdb_rate(path: Path, workdir: Path) -> float:
    """DuckDB read_csv into its own table (the issue's 1.75M rows/s reference)."""
    import duckdb

    started = time.perf_counter()
    with duckdb.connect(str(workdir / "peer.duckdb")) as conn:
        conn.execute("SET enable_progress_bar = false")
        conn.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{path}')")
        rows = conn.execute("SELECT count(*) FROM t").fetchone()[0]
    return rows / (time.perf_counter() - started)


def own_cpu_seconds() -> float:
    """CPU time of this process and its finished children (the datastore's loader process)."""
    return time.process_time() + loader_cpu_seconds()


def loader_cpu_seconds() -> float:
    """CPU time of finished children: the datastore's loader processes."""
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return children.ru_utime + children.ru_stime


def import_through_cityhub(csv_path: Path, data_dir: Path) -> tuple[str, float, float, dict[str, float]]:
    """create_dataset + create_resource (upload, hash, store, load, index) as the CLI does it."""
    from cityhub.auth.schemas import OrganizationCreate
    from cityhub.auth.service import create_organization
    from cityhub.catalog import service as catalog
    from cityhub.catalog.schemas import DatasetCreate, ResourceCreate
    from cityhub.cli import system_ctx
    from cityhub.datastore.service import PROGRESS_KEY
    from cityhub.settings import Settings

    settings = Settings(data_dir=data_dir, log_json=True)
    stages: dict[str, float] = {}
    marks: dict[str, float] = {}

    def report(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        marks.setdefault(stage, now)
        stages[stage] = now - marks[stage]

    with system_ctx(settings) as ctx:
        create_organization(ctx, data=OrganizationCreate(name="bench", title="벤치마크"))
        dataset = catalog.create_dataset(ctx, data=DatasetCreate(name="bench-obs", title="측정", owner_org="bench"))
    with system_ctx(settings) as ctx:
        ctx.extra[PROGRESS_KEY] = report
        started, cpu, loader = time.perf_counter(), own_cpu_seconds(), loader_cpu_seconds()
        with csv_path.open("rb") as fh:
            resource = catalog.create_resource(ctx, dataset=dataset.id, data=ResourceCreate(name="obs.csv"),
                                               upload=fh, filename="obs.csv")
    elapsed = time.perf_counter() - started  # includes the commit
    stages["loader CPU"] = loader_cpu_seconds() - loader
    return resource.id, elapsed, own_cpu_seconds() - cpu, stages


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not come up")


def cpu_seconds(pid: int) -> float:
    """User+system CPU of a server process so far (Linux /proc): what requests cost whatever the load."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(client: httpx.Client, urls: list[str]) -> list[float]:
    samples = []
    for url in urls:
        started = time.perf_counter()
        response = client.get(url)
        samples.append(time.perf_counter() - started)
        response.raise_for_status()
    return samples


def p50_p95(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000


def serve_cityhub(data_dir: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "CITYHUB_DATA_DIR": str(data_dir), "CITYHUB_LOG_JSON": "true"}
    return subprocess.Popen([str(ROOT / ".venv/bin/cityhub"), "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def serve_datasette(db: Path, port: int) -> subprocess.Popen | None:
    binary = ROOT / ".venv-peers/bin/datasette"
    if not binary.exists():
        return None
    return subprocess.Popen([str(binary), "serve", str(db), "--port", str(port), "--host", "127.0.0.1",
                             "--setting", "sql_time_limit_ms", "60000", "--setting", "suggest_facets", "off"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def query_urls(base: str, rid: str, n: int, rnd: random.Random, *, datasette: bool) -> list[str]:
    urls = []
    for _ in range(n):
        district = rnd.choice(DISTRICTS)
        if datasette:
            urls.append(f"{base}/cityhub/{rid}.json?district={district}&_sort=time&_size=100")
        else:
            urls.append(f"{base}/api/v1/datastore/{rid}?district={district}&sort=time&limit=100")
    return urls


def measure_queries(data_dir: Path, rid: str, queries: int, peer_queries: int) -> None:
    rnd = random.Random(7)
    ours_port, peer_port = free_port(), free_port()
    ours = serve_cityhub(data_dir, ours_port)
    peer = None
    try:
        base = f"http://127.0.0.1:{ours_port}"
        wait_up(f"{base}/healthz", ours)
        with httpx.Client(timeout=120) as client:
            first = client.get(query_urls(base, rid, 1, rnd, datasette=False)[0]).json()
            assert len(first["records"]) == 100 and first["total"] > 0, first
            timed(client, query_urls(base, rid, 10, rnd, datasette=False))
            cpu_before = cpu_seconds(ours.pid)
            ours_p50, ours_p95 = p50_p95(timed(client, query_urls(base, rid, queries, rnd, datasette=False)))
            cpu_ms = (cpu_seconds(ours.pid) - cpu_before) * 1000 / queries
        print(f"cityhub  district=X sorted by time, 100 rows + total: p50 {ours_p50:.1f} ms, p95 {ours_p95:.1f} ms"
              f"  (target p95 <= 30 ms; total {first['total']:,}, estimated={first['total_was_estimated']}); "
              f"server CPU {cpu_ms:.1f} ms/request; load average {os.getloadavg()[0]:.1f}")
        peer = serve_datasette(data_dir / "cityhub.db", peer_port)
        if peer is None:
            print("datasette: not installed (make peers) — no ratio")
            return
        peer_base = f"http://127.0.0.1:{peer_port}"
        wait_up(f"{peer_base}/-/versions.json", peer)
        with httpx.Client(timeout=300) as client:
            sample = client.get(query_urls(peer_base, rid, 1, rnd, datasette=True)[0]).json()
            assert len(sample["rows"]) == 100, sample
            peer_p50, peer_p95 = p50_p95(timed(client, query_urls(peer_base, rid, peer_queries, rnd,
                                                                  datasette=True)))
        print(f"datasette same query with its count:            p50 {peer_p50:.1f} ms, p95 {peer_p95:.1f} ms"
              f"  (count {sample.get('filtered_table_rows_count')})")
        print(f"ratio cityhub/datasette p95: {ours_p95 / peer_p95:.3f} "
              f"(below 1 means we are faster; Datasette takes {peer_p95 / ours_p95:.1f}x our time)")
    finally:
        for proc in (ours, peer):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)


# Queries outside the import's index plan (filters and sorts it did not foresee), answered once the
# background column indexes exist (datastore/column_indexes.py) and read as datastore/query_plan.py
# chooses; beside each, the raw engine: the same SQL (page + count) on a bare sqlite3 connection with
# the same indexes and SQLite's own plan.
OFF_PLAN = {
    "two filters, no row holds both": ({"district": "중구", "station": "ST-002"}, "time"),
    "two filters, 5,000 rows hold both": ({"district": "중구", "station": "ST-004"}, "time"),
    "narrow range of a number, by time": ({"value": {"gte": 149.9}}, "time"),
    "sort by a number, no filter": ({}, "value desc"),
    "district + range of count, by value": ({"district": "중구", "count": {"lt": 3}}, "value"),
}


def build_column_indexes(data_dir: Path) -> None:
    """What the server's background builder does after a load (on SQLite only up to
    column_indexes.SQLITE_MAX_ROWS; bigger tables by `cityhub dataset index-columns`), here at once and timed."""
    from cityhub.datastore import column_indexes
    from cityhub.db import make_engine
    from cityhub.settings import Settings

    engine = make_engine(Settings(data_dir=data_dir, log_json=True))
    with engine.connect() as conn:
        work = column_indexes.pending(conn, min_age_seconds=0, any_size=True)
    for resource_id, columns in work:
        for column in columns:
            started = time.perf_counter()
            column_indexes.build_one(engine, resource_id, column, any_size=True)
            print(f"  background index on {column}: {time.perf_counter() - started:.1f} s (SQLite write lock held "
                  f"throughout); load average {os.getloadavg()[0]:.1f}")
    engine.dispose()


def _raw_sql(rid: str, filters: dict, sort: str) -> tuple[str, str, list]:
    where, params = [], []
    for name, spec in filters.items():
        for op, value in (spec.items() if isinstance(spec, dict) else [("eq", spec)]):
            where.append(f'"{name}" {dict(eq="=", gte=">=", gt=">", lt="<", lte="<=")[op]} ?')
            params.append(value)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return (f'SELECT * FROM "{rid}"{clause} ORDER BY {sort}, _id LIMIT 100',
            f'SELECT count(*) FROM (SELECT 1 FROM "{rid}"{clause} LIMIT 100001)', params)


def measure_off_plan(data_dir: Path, rid: str, repeats: int) -> None:
    build_column_indexes(data_dir)
    port = free_port()
    ours = serve_cityhub(data_dir, port)
    raw = sqlite3.connect(data_dir / "cityhub.db")
    try:
        base = f"http://127.0.0.1:{port}"
        wait_up(f"{base}/healthz", ours)
        with httpx.Client(timeout=120) as client:
            for label, (filters, sort) in OFF_PLAN.items():
                url = f"{base}/api/v1/datastore/{rid}?filters={json.dumps(filters)}&sort={sort}&limit=100"
                timed(client, [url])  # warm
                cpu_before = cpu_seconds(ours.pid)
                p50, p95 = p50_p95(timed(client, [url] * repeats))
                cpu_ms = (cpu_seconds(ours.pid) - cpu_before) * 1000 / repeats
                page, count, params = _raw_sql(rid, filters, sort)
                walls, cpus = [], []
                for _ in range(max(2, repeats // 10)):
                    started, cpu = time.perf_counter(), time.process_time()
                    raw.execute(page, params).fetchall()
                    raw.execute(count, params).fetchone()
                    walls.append(time.perf_counter() - started)
                    cpus.append(time.process_time() - cpu)
                r50, _ = p50_p95(walls)
                print(f"  {label:36s} cityhub wall p50 {p50:6.1f} p95 {p95:6.1f} ms, server CPU {cpu_ms:5.1f} ms/req"
                      f" | raw SQLite, own plan: wall p50 {r50:7.1f} ms, CPU {statistics.median(cpus) * 1000:7.1f} ms"
                      f" | load {os.getloadavg()[0]:.1f}")
    finally:
        raw.close()
        ours.terminate()
        ours.wait(timeout=30)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=int(os.environ.get("CITYHUB_BENCH_DATASTORE_ROWS", 10_000_000)))
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--peer-queries", type=int, default=20)
    args = parser.parse_args(argv if argv is not None else [])
    with tempfile.TemporaryDirectory(prefix="bench-datastore-") as tmp:
        workdir = Path(tmp)
        csv_path = workdir / "obs.csv"
        started = time.perf_counter()
        generate_csv(csv_path, args.rows)
        size = csv_path.stat().st_size
        print(f"load average at start {os.getloadavg()[0]:.1f} (2 cores shared: wall figures are noisy)")
        print(f"generated {args.rows:,} rows ({size / 1e6:.0f} MB CSV) in {time.perf_counter() - started:.1f} s")
        raw = raw_engine_rate(csv_path, args.rows, workdir)
        adbc, duck = adbc_rate(csv_path, workdir), duckdb_rate(csv_path, workdir)
        for leftover in ("raw.db", "adbc.db", "peer.duckdb"):
            (workdir / leftover).unlink(missing_ok=True)
        rid, elapsed, cpu, stages = import_through_cityhub(csv_path, workdir / "data")
        # stage figures are wall seconds; "loader CPU" is the loader process's share of the CPU figure
        breakdown = ", ".join(f"{k} {v:.1f} s" for k, v in stages.items())
        print(f"cityhub import end to end (upload+hash+parse+types+screen+load+indexes+commit): {elapsed:.1f} s = "
              f"{args.rows / elapsed:,.0f} rows/s  [{breakdown}]  (target >= 500,000 rows/s); CPU {cpu:.1f} s "
              f"(= {args.rows / cpu:,.0f} rows per CPU-second); load average {os.getloadavg()[0]:.1f}")
        print(f"raw engine, Python csv + executemany (no types, no indexes): {raw:,.0f} rows/s")
        if adbc is not None:
            print(f"raw engine, pyarrow.csv + ADBC SQLite ingest (no types, no indexes): {adbc:,.0f} rows/s")
        print(f"raw engine, DuckDB read_csv into its own table: {duck:,.0f} rows/s")
        measure_queries(workdir / "data", rid, args.queries, args.peer_queries)
        print("queries outside the import's index plan (after the background column indexes):")
        measure_off_plan(workdir / "data", rid, max(5, args.queries // 10))


if __name__ == "__main__":
    main(sys.argv[1:])
