"""bench_context (a, steady): batch upserts offered at a fixed rate for a while, from a separate process.

Part (a) sends its 30 requests back to back: that measures how fast updates are acknowledged, and the
history backlog left at the end. This part asks whether history keeps up with a steady stream: a driver
process (its own interpreter, so its CPU is not the server's) posts 1,000 AirQualityObserved × 10 attributes
per request on a fixed schedule (request k leaves at start + k × interval; a late one goes at once, never
skipped) with two threads; the bench samples the write-behind backlog every 0.5 s. Reported: the rate
achieved, the backlog's largest and last readings and oldest age, and the rate counting the time until every
reading was in history and rollups.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

SENDERS = 2
ENTITIES = 1000


def _drive(url: str, token: str, bodies: list[bytes], interval: float, out: Any) -> None:
    """The driver process: one prepared body per interval (context_notify.post_on_schedule)."""
    from benchmarks.context_notify import post_on_schedule

    out.put(post_on_schedule(url, token, len(bodies), interval, SENDERS, bodies.__getitem__))


def _bodies(station: Any, measurands: dict, stations: int, requests: int, base: datetime) -> list[bytes]:
    rng = random.Random(5)
    out = []
    for k in range(requests):
        when = base + timedelta(minutes=k // (stations // ENTITIES) + 1)
        start = (k * ENTITIES) % stations
        out.append(orjson.dumps([{a: v for a, v in station(i, when, rng).items() if a != "location"}
                                 for i in range(start, start + ENTITIES)]))
    return out


def run(p: Any, station: Any, measurands: dict, load: Any, settle_wait: Any, *, rate: int = 50_000,
        seconds: float = 40.0, stations: int = 10_000) -> None:
    """`rate` attribute updates/s offered for `seconds` to `stations` stations that already exist."""
    from cityhub.context import history_pending

    rate = int(os.environ.get("CITYHUB_BENCH_STEADY_RATE", rate))  # e.g. 40000: the rate history keeps up with?
    per_request = ENTITIES * len(measurands)
    requests = max(1, int(rate * seconds / per_request))
    bodies = _bodies(station, measurands, stations, requests, datetime.now(UTC) - timedelta(hours=1))
    token = p.client.headers["Authorization"].removeprefix("Bearer ")
    spawn = mp.get_context("spawn")
    out = spawn.Queue()
    samples: list[tuple[int, float]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            with p.app.state.session_factory() as db:
                b = history_pending.backlog(db)
            samples.append((int(b["readings"]), float(b["oldest_seconds"])))
            done.wait(0.5)

    from benchmarks.context_notify import _threads_cpu

    watcher = threading.Thread(target=sample, daemon=True)
    threads0, wall0 = _threads_cpu(), time.perf_counter()
    cpu0 = time.process_time()
    driver = spawn.Process(target=_drive, args=(str(p.server.url), token, bodies, per_request / rate, out))
    driver.start()
    watcher.start()
    result = out.get(timeout=seconds + 600)
    driver.join(timeout=30)
    done.set()
    watcher.join()
    drain = settle_wait(p)
    cpu = time.process_time() - cpu0
    wall = time.perf_counter() - wall0
    threads = sorted(((k, v - threads0.get(k, 0.0)) for k, v in _threads_cpu().items()), key=lambda kv: -kv[1])
    sent = len(result["times"]) * per_request
    achieved = sent / result["elapsed"]
    answered = sorted((t[1] - t[0]) * 1000 for t in result["times"].values())
    peak = max(samples, default=(0, 0.0))
    last = samples[-1] if samples else (0, 0.0)
    print(f"(a) steady: {rate:,} attribute updates/s offered for {seconds:.0f} s from a driver process "
          f"({len(result['times'])} requests × {ENTITIES:,} entities × {len(measurands)} attrs): {achieved:,.0f}/s "
          f"acknowledged; {sent / (result['elapsed'] + drain):,.0f}/s counting until history and rollups held every "
          f"reading ({drain:.1f} s after the last answer); {load()}")
    quarters = [samples[min(len(samples) - 1, len(samples) * q // 4)][0] for q in (1, 2, 3)] if samples else []
    print(f"    write-behind backlog sampled every 0.5 s: largest {peak[0]:,} readings, oldest up to "
          f"{max((s[1] for s in samples), default=0.0):.1f} s; at a quarter, half and three quarters of the run "
          f"{', '.join(f'{q:,}' for q in quarters)}; at the last answer {last[0]:,} readings: "
          + ("history kept up (within 2 s of the answers)" if last[0] <= 2 * rate else
             f"history fell behind, {last[0] / rate:.1f} s of updates at the end"))
    print(f"    request answered in p50 {answered[len(answered) // 2]:.0f} ms, max {answered[-1]:.0f} ms; server "
          f"process CPU {cpu / sent * 1e6:.1f} µs per update ({cpu / (result['elapsed'] + drain) * 100:.0f} % of one "
          f"core), driver {result['cpu'] / result['elapsed'] * 100:.0f} %"
          + (f"; driver errors: {result['errors']}" if result["errors"] else ""))
    print("    CPU by thread, % of one core over the run (history writer, request workers, …): "
          + ", ".join(f"{k} {v / wall * 100:.0f} %" for k, v in threads[:5]))
