"""CKAN package_show throughput with 2 workers (target ≥ 1,500 requests/s on the 2-core box).

Serves a 2,000-dataset catalog with `cityhub serve --workers 2` and, in the same run, the peer: a
bare FastAPI app (2 workers, same SQLite file) whose endpoint reads one dataset row and returns
pre-serialised orjson bytes — the floor any real package_show sits on. Load comes from `wrk` when
installed (else a small threaded Python client, which measures less). Prints requests/s and
latency percentiles for both, and our share of the peer's rate.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from benchmarks import catalog_fixture

DATASETS = 2_000
SECONDS = 8
CONNECTIONS = 16
ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def _start(cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(cmd, env={**os.environ, **env}, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def _wrk(url: str) -> dict[str, float]:
    out = subprocess.run(["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} failed responses")

    def pct(p: str) -> float:
        value, unit = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    return {"rps": rate, "p50": pct("50"), "p99": pct("99")}


def _python_load(url: str) -> dict[str, float]:
    """Fallback without wrk: keep-alive clients in threads (the client itself eats CPU)."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    latencies: list[float] = []
    stop = time.time() + SECONDS
    lock = threading.Lock()

    def worker() -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port)
        mine = []
        while time.time() < stop:
            started = time.perf_counter()
            conn.request("GET", f"{parts.path}?{parts.query}")
            conn.getresponse().read()
            mine.append((time.perf_counter() - started) * 1000)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()
    return {"rps": len(latencies) / SECONDS, "p50": latencies[len(latencies) // 2],
            "p99": latencies[int(len(latencies) * 0.99)]}


def _measure(url: str) -> dict[str, float]:
    return _wrk(url) if shutil.which("wrk") else _python_load(url)


def main() -> None:
    data_dir = Path(tempfile.gettempdir()) / "cityhub-bench-ckan"
    settings = catalog_fixture.build(data_dir, DATASETS)
    db_path = settings.database_url.removeprefix("sqlite:///")
    ours_port, peer_port = _free_port(), _free_port()
    env = {"CITYHUB_DATA_DIR": str(data_dir), "CITYHUB_DATABASE_URL": "", "CITYHUB_ACCESS_LOG": "false",
           "CITYHUB_BENCH_DB": db_path, "PYTHONPATH": str(ROOT)}
    ours = _start([str(BIN / "cityhub"), "serve", "--port", str(ours_port), "--workers", "2"], env)
    peer = _start([str(BIN / "uvicorn"), "benchmarks.ckan_peer:create_app", "--factory", "--port", str(peer_port),
                   "--workers", "2", "--log-level", "warning", "--no-access-log"], env)
    try:
        _wait(f"http://127.0.0.1:{ours_port}/api/3")
        _wait(f"http://127.0.0.1:{peer_port}/ready")
        with urllib.request.urlopen(f"http://127.0.0.1:{ours_port}/api/3/action/package_list?limit=1&offset=777") as r:
            name = re.search(rb'"result":\["([^"]+)"\]', r.read()).group(1).decode()
        ours_url = f"http://127.0.0.1:{ours_port}/api/3/action/package_show?id={name}"
        peer_url = f"http://127.0.0.1:{peer_port}/show?id={name}"
        _measure(ours_url)  # warm both workers
        results = {"ours": [], "peer": []}
        for _ in range(2):  # interleaved, so a noisy neighbour hurts both alike
            results["ours"].append(_measure(ours_url))
            results["peer"].append(_measure(peer_url))
    finally:
        _stop(ours)
        _stop(peer)
    best = {k: max(v, key=lambda r: r["rps"]) for k, v in results.items()}
    load = os.getloadavg()[0]
    print(f"CKAN package_show, {DATASETS:,} datasets, 2 workers, {CONNECTIONS} connections "
          f"({'wrk' if shutil.which('wrk') else 'python client'}; load average {load:.1f} on {os.cpu_count()} cores):")
    for label, key in (("cityhub package_show", "ours"), ("peer: bare FastAPI + 1 SQLite row + orjson", "peer")):
        r = best[key]
        print(f"  {label:44s} {r['rps']:8,.0f} req/s   p50 {r['p50']:6.2f} ms   p99 {r['p99']:6.2f} ms")
    share = best["ours"]["rps"] / best["peer"]["rps"]
    target = "meets" if best["ours"]["rps"] >= 1500 else "below"
    print(f"  ours / peer = {share:.2f}; target 1,500 req/s: {target}")


if __name__ == "__main__":
    main()
