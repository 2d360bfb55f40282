"""Catalog numbers: search p95 with 150,000 datasets, and package_show requests/s with 2 workers.

(a) Search: the service function `search_datasets` (anonymous caller, page of 20, full items) and
    HTTP `/api/v1/datasets?q=…` on one uvicorn worker, for Korean and English queries, with and
    without facets; beside them the raw engine: the bare FTS5 MATCH of the words (top 20 by bm25,
    no visibility, no items) on an open sqlite3 connection. Target: p95 ≤ 25 ms. Broad words take
    the rules of catalog/search_broad.py (title hits first then newest above 1,000 matches, facets
    estimated from a fixed sample above 3,000, counted from the codes held in memory).
(b) package_show: `cityhub serve --workers 2` and the peer (a bare FastAPI endpoint reading one
    SQLite row, also 2 workers) run side by side and are loaded by wrk (or a multi-process httpx
    client when wrk is missing) in alternating rounds; medians of the rounds, and the servers' CPU
    milliseconds per request (less sensitive to other load on the machine). Target: ≥ 1,500 req/s.

Each figure is printed as wall and CPU time (p50/p95) with the load average: on a shared machine load
inflates wall time, not CPU time.

The 150k-dataset fixture is cached in $CITYHUB_BENCH_DIR (default: the temp dir) between runs.
Run: `python -m benchmarks.bench_catalog [N]`.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from benchmarks import catalog_fixture
from cityhub.bus import make_bus
from cityhub.catalog import ngrams, search_sqlite
from cityhub.catalog.schemas import DatasetSearch
from cityhub.catalog.service import search_datasets
from cityhub.ctx import ANONYMOUS, RequestContext
from cityhub.db import make_engine, make_session_factory
from cityhub.settings import Settings

QUERIES = ("교통", "대기질", "미세먼지", "해운대구", "공영주차장", "복지시설", "인구 통계", "부산교통공사", "도서관",
           "parking", "air quality", "bus", "population", "budget", "library", "CCTV")
ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def p50_p95(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- (a) search -------------------------------------------------------------------------------------


def _service_search(settings: Settings) -> Callable[[str | None, bool], int]:
    factory = make_session_factory(make_engine(settings))
    bus = make_bus("")

    def run(q: str | None, facets: bool) -> int:
        with factory() as db:  # a fresh session per call, as each request gets
            ctx = RequestContext(actor=ANONYMOUS, db=db, settings=settings, bus=bus)
            return search_datasets(ctx, query=DatasetSearch(q=q, facets=facets, limit=20)).total

    return run


def _raw_match(db_path: Path) -> Callable[[str], None]:
    conn = sqlite3.connect(db_path)

    def run(q: str) -> None:
        match = search_sqlite.match_expression(ngrams.query_phrases(q))
        conn.execute("SELECT dataset_id FROM dataset_fts WHERE dataset_fts MATCH ? ORDER BY rank LIMIT 20",
                     (match,)).fetchall()

    return run


def bench_search(settings: Settings, repeats: int) -> None:
    ours = _service_search(settings)
    raw = _raw_match(settings.data_dir / "cityhub.db")
    totals = {q: ours(q, False) for q in QUERIES}
    print("  matches per query (anonymous): " + ", ".join(f"{q} {n:,}" for q, n in totals.items()))
    for facets in (False, True):
        mine, mine_cpu, engine, engine_cpu = [], [], [], []
        for _ in range(repeats):
            for q in QUERIES:  # interleaved, so load from other processes hits both alike
                _timed(lambda q=q, f=facets: ours(q, f), mine, mine_cpu)
                _timed(lambda q=q: raw(q), engine, engine_cpu)
        label = "with facets   " if facets else "without facets"
        print(f"  service search_datasets {label}  {_figures(mine, mine_cpu)}")
        print(f"    raw FTS5 MATCH top-20 (same run)     {_figures(engine, engine_cpu)}")
    browse, browse_cpu = [], []
    for _ in range(repeats):
        _timed(lambda: ours(None, True), browse, browse_cpu)
    print(f"  service browse (no q, facets)           {_figures(browse, browse_cpu)}")


def _timed(call: Callable[[], object], wall: list[float], cpu: list[float]) -> None:
    """Wall and CPU time of one call (SQLite runs in this process, so its work is in the CPU figure)."""
    started, cpu_started = time.perf_counter(), time.process_time()
    call()
    wall.append(time.perf_counter() - started)
    cpu.append(time.process_time() - cpu_started)


def _figures(wall: list[float], cpu: list[float]) -> str:
    """Wall and CPU p50/p95 and the load average: load inflates wall time, not CPU time."""
    (w50, w95), (c50, c95) = p50_p95(wall), p50_p95(cpu)
    return (f"wall p50 {w50:6.1f} ms p95 {w95:6.1f} ms | CPU p50 {c50:5.1f} ms p95 {c95:5.1f} ms | "
            f"load {os.getloadavg()[0]:.1f}")


def bench_search_http(server: Server, repeats: int) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for facets in (False, True):
            samples = []
            cpu_before = _cpu_seconds(server.proc.pid)
            for _ in range(repeats):
                for q in QUERIES:
                    started = time.perf_counter()
                    r = client.get("/api/v1/datasets", params={"q": q, "facets": str(facets).lower()})
                    samples.append(time.perf_counter() - started)
                    r.raise_for_status()
            cpu_ms = (_cpu_seconds(server.proc.pid) - cpu_before) * 1000 / len(samples)
            p50, p95 = p50_p95(samples)
            label = "with facets   " if facets else "without facets"
            print(f"  HTTP /api/v1/datasets?q=… {label} wall p50 {p50:6.1f} ms p95 {p95:6.1f} ms | server CPU "
                  f"{cpu_ms:5.1f} ms/request (mean) | load {os.getloadavg()[0]:.1f}   (1 worker)")


# --- servers ------------------------------------------------------------------------------------------


class Server:
    """A uvicorn process group on a free loopback port, stopped (SIGTERM, then SIGKILL) on exit."""

    def __init__(self, args: list[str], env: dict[str, str], ready_path: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [a.replace("{port}", str(self.port)) for a in args]
        self.env = {**os.environ, **env}
        self.ready_path = ready_path
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        # Logs go to a file: an unread pipe fills up and stalls the server mid-benchmark.
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(self.args, env=self.env, cwd=ROOT, start_new_session=True,
                                     stdout=self.log, stderr=self.log)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"server exited: {self.log.read().decode(errors='replace')[-2000:]}")
            try:
                if httpx.get(self.url + self.ready_path, timeout=1).status_code < 500:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("server did not start")

    def __exit__(self, *exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def cityhub_server(settings: Settings, workers: int) -> Server:
    env = {"CITYHUB_DATA_DIR": str(settings.data_dir), "CITYHUB_DATABASE_URL": settings.database_url,
           "CITYHUB_SECRET_KEY": "bench", "CITYHUB_LOG_JSON": "true",
           # `serve` upgrades once before forking; workers migrating again at start-up would race.
           "CITYHUB_RUN_MIGRATIONS_ON_START": "false"}
    return Server([str(BIN / "cityhub"), "serve", "--host", "127.0.0.1", "--port", "{port}",
                   "--workers", str(workers)], env, "/healthz")


def peer_server(db_path: Path, workers: int) -> Server:
    return Server([str(BIN / "uvicorn"), "benchmarks.peer_sqlite_row:app", "--host", "127.0.0.1", "--port", "{port}",
                   "--workers", str(workers), "--log-level", "warning", "--no-access-log"],
                  {"BENCH_SQLITE_PATH": str(db_path)}, "/docs")


# --- (b) package_show ------------------------------------------------------------------------------------


def requests_per_second(url: str, seconds: int = 10, connections: int = 32) -> tuple[float, str]:
    """Sustained requests/s against one URL (wrk if installed, else httpx in several processes)."""
    if shutil.which("wrk"):
        subprocess.run(["wrk", "-t2", "-c8", "-d2s", url], capture_output=True, check=True)  # warm-up
        out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url],
                             capture_output=True, text=True, check=True).stdout
        rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        if errors:
            raise RuntimeError(f"{url}: {errors.group(1)} error responses")
        p99 = re.search(r"99%\s+(\S+)", out)
        return rate, f"wrk -c{connections}, p99 {p99.group(1) if p99 else '?'}"
    return _httpx_rate(url, seconds), "httpx ×4 processes"


def _httpx_worker(url: str, seconds: float, out) -> None:  # noqa: ANN001
    n, end = 0, time.time() + seconds
    with httpx.Client(timeout=30) as client:
        while time.time() < end:
            client.get(url).raise_for_status()
            n += 1
    out.put(n)


def _httpx_rate(url: str, seconds: int) -> float:
    import multiprocessing as mp

    queue = mp.Queue()
    procs = [mp.Process(target=_httpx_worker, args=(url, seconds, queue)) for _ in range(4)]
    for p in procs:
        p.start()
    total = sum(queue.get() for _ in procs)
    for p in procs:
        p.join()
    return total / seconds


def _cpu_seconds(root_pid: int) -> float:
    """User+system CPU of a server process and its workers (Linux /proc): what a request costs, whatever
    else the machine is doing."""
    pids = [root_pid]
    children = Path(f"/proc/{root_pid}/task/{root_pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return ticks / os.sysconf("SC_CLK_TCK")


def _round(server: Server, url: str, seconds: int) -> tuple[float, float, str]:
    before = _cpu_seconds(server.proc.pid)
    rate, how = requests_per_second(url, seconds)
    spent = _cpu_seconds(server.proc.pid) - before
    return rate, spent * 1000 / max(1.0, rate * seconds), how


def bench_package_show(settings: Settings, rounds: int = 3, seconds: int = 6) -> None:
    """Ours and the peer both running, loaded in alternating rounds, so load from other processes on
    the machine hits both alike; medians of the rounds, plus CPU milliseconds per request."""
    db_path = settings.data_dir / "cityhub.db"
    with sqlite3.connect(db_path) as conn:
        name = conn.execute("SELECT name FROM datasets WHERE access_level = 'public' AND state = 'active' "
                            "ORDER BY name LIMIT 1 OFFSET 1000").fetchone()[0]
    ours, theirs, how = [], [], ""
    with cityhub_server(settings, 2) as server, peer_server(db_path, 2) as peer:
        url = f"{server.url}/api/3/action/package_show?id={name}"
        assert httpx.get(url).json()["success"] is True
        for _ in range(rounds):
            rate, cpu_ms, how = _round(server, url, seconds)
            ours.append((rate, cpu_ms))
            theirs.append(_round(peer, f"{peer.url}/row?name={name}", seconds)[:2])
    (o_rate, o_cpu), (t_rate, t_cpu) = (tuple(statistics.median(x) for x in zip(*r, strict=True))
                                        for r in (ours, theirs))
    print(f"  package_show, 2 workers: {o_rate:8,.0f} req/s, {o_cpu:.2f} CPU ms/request "
          f"(median of {rounds} rounds, {how})   target ≥ 1,500")
    print(f"  peer: bare FastAPI reading one SQLite row, 2 workers: {t_rate:8,.0f} req/s, {t_cpu:.2f} CPU ms/request"
          f"   ours/peer {o_rate / t_rate:.2f}")
    print("    rounds ours/peer req/s: " + ", ".join(f"{a:,.0f}/{b:,.0f}" for (a, _), (b, _) in
                                                     zip(ours, theirs, strict=True))
          + f"   load {os.getloadavg()[0]:.1f}")


def main(n: int = 150_000, repeats: int = 15) -> None:
    base = Path(os.environ.get("CITYHUB_BENCH_DIR") or tempfile.gettempdir())
    started = time.perf_counter()
    settings = catalog_fixture.build(base / f"cityhub-bench-catalog-{n}", n)
    print(f"catalog with {n:,} datasets (fixture ready in {time.perf_counter() - started:.0f} s), "
          f"{len(QUERIES)} queries × {repeats}; target search p95 ≤ 25 ms")
    bench_search(settings, repeats)
    with cityhub_server(settings, 1) as server:
        bench_search_http(server, max(3, repeats // 3))
    bench_package_show(settings)
    sys.stdout.flush()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 150_000)
