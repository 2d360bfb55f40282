"""bench_context (c): notification latency at a steady update rate driven from a separate process.

A driver process (its own interpreter, so its CPU is not the server's) posts batches of `entities`
AirQualityObserved updates (pm25 and a `sent` marker: two attributes each) on a fixed schedule
(batch k leaves at start + k × interval; a late batch goes at once, never skipped) with a few
threads, so a slow answer does not lower the offered rate. One subscription watches pm25: each
batch is one notification carrying its entities (NGSI-LD batches a subscription's matches).
Latency is from the batch's send time (driver) to the receipt at the subscriber's HTTP endpoint
(a loopback server in the bench process); both read the same wall clock.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

SENDERS = 4


def _threads_cpu() -> dict[str, float]:
    """CPU seconds so far of this process's live threads, summed by the name's kind (Linux /proc)."""
    import re

    from benchmarks.bench_context import _thread_cpu

    out: dict[str, float] = {}
    for name, ms in _thread_cpu().values():
        kind = re.sub(r"[-_ ]?\d+.*$", "", "other" if name == "?" else name) or "other"
        out[kind] = out.get(kind, 0.0) + ms / 1000
    return out


def post_on_schedule(url: str, token: str, count: int, interval: float, senders: int,
                     body_for: Callable[[int], bytes]) -> dict[str, Any]:
    """Batch upserts `body_for(k)` for k < count, request k leaving at start + k × interval (a late one goes at
    once, never skipped) from `senders` threads, so a slow answer does not lower the offered rate. Returns
    {"times": {k: (sent, acked, due)} (wall clock), "elapsed", "cpu" (this process), "errors"}."""
    times: dict[int, tuple[float, float, float]] = {}
    errors: list[str] = []
    start = time.perf_counter() + 0.2
    cpu0 = time.process_time()

    def sender(j: int) -> None:
        with httpx.Client(base_url=url, timeout=60, headers={"Authorization": f"Bearer {token}",
                                                              "Content-Type": "application/json"}) as c:
            for k in range(j, count, senders):
                wait = start + k * interval - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                body = body_for(k)
                sent = time.time()
                due = sent - (time.perf_counter() - (start + k * interval))  # its scheduled time, wall clock
                r = c.post("/ngsi-ld/v1/entityOperations/upsert?options=update", content=body)
                times[k] = (sent, time.time(), due)
                if r.status_code not in (201, 204) and len(errors) < 5:
                    errors.append(f"{r.status_code} {r.text[:200]}")

    threads = [threading.Thread(target=sender, args=(j,)) for j in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"times": times, "elapsed": time.perf_counter() - start, "cpu": time.process_time() - cpu0,
            "errors": errors}


def _drive(url: str, token: str, rate: int, entities: int, seconds: float, out: Any) -> None:
    """The driver process: batches of `entities` (pm25 and a `sent` marker, stamped when they leave)."""
    interval = entities / rate

    def body_for(k: int) -> bytes:
        stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        return orjson.dumps([{"id": f"urn:ngsi-ld:AirQualityObserved:bench-{i:06d}", "type": "AirQualityObserved",
                              "pm25": {"type": "Property", "value": float(k % 30), "observedAt": stamp},
                              "sent": {"type": "Property", "value": k}} for i in range(entities)])

    out.put(post_on_schedule(url, token, int(seconds / interval), interval, SENDERS, body_for))


def run(p: Any, pct: Any, load: Any, peers: str, *, rate: int = 5000, entities: int = 100,
        seconds: float = 25.0) -> None:
    from tests.context.receivers import Receiver

    rate = int(os.environ.get("CITYHUB_BENCH_NOTIFY_RATE", rate))
    seconds = float(os.environ.get("CITYHUB_BENCH_NOTIFY_SECONDS", seconds))
    token = p.client.headers["Authorization"].removeprefix("Bearer ")
    with Receiver() as rx:
        sub = {"type": "Subscription", "entities": [{"type": "AirQualityObserved"}], "watchedAttributes": ["pm25"],
               "q": "pm25>=0", "notification": {"format": "keyValues", "attributes": ["pm25", "sent"],
                                                "endpoint": {"uri": rx.url}}}
        r = p.client.post("/ngsi-ld/v1/subscriptions", content=orjson.dumps(sub))
        assert r.status_code == 201, r.text
        location = r.headers["Location"]
        spawn = mp.get_context("spawn")
        out = spawn.Queue()
        cpu0, wall0, threads0 = time.process_time(), time.perf_counter(), _threads_cpu()
        driver = spawn.Process(target=_drive, args=(str(p.server.url), token, rate, entities, seconds, out))
        driver.start()
        result = out.get(timeout=seconds + 300)
        driver.join(timeout=30)
        time.sleep(2)  # the last notifications
        cpu = time.process_time() - cpu0
        threads = {k: v - threads0.get(k, 0.0) for k, v in _threads_cpu().items()}
        wall = time.perf_counter() - wall0
        times = result["times"]
        latencies, after_ack, after_due = [], [], []
        with rx.lock:
            received = list(rx.received)
        for recv, note in received:
            k = note["data"][0]["sent"]
            latencies.append((recv - times[k][0]) * 1000)
            after_ack.append((recv - times[k][1]) * 1000)
            after_due.append((recv - times[k][2]) * 1000)
        achieved = len(times) * entities / result["elapsed"]
        print(f"(c) notification latency, update request sent (driver process) → subscriber received: "
              f"{len(latencies)} notifications of {len(times)} batches × {entities} entities (2 attributes each), "
              f"{achieved:,.0f} entity updates/s achieved ({2 * achieved:,.0f} attribute updates/s) of {rate:,} entity "
              f"updates/s offered ({len(times) * entities / rate:.0f} s of schedule took {result['elapsed']:.0f} s); "
              f"{load()}")
        if latencies:
            print(f"    p50 {pct(latencies, 50):.0f} ms, p95 {pct(latencies, 95):.0f} ms, "
                  f"p99 {pct(latencies, 99):.0f} ms, max {max(latencies):.0f} ms (target p99 ≤ 200 ms)")
            print(f"    from the batch's scheduled time (a sender still busy with an earlier batch sends late; that "
                  f"delay counted too): p50 {pct(after_due, 50):.0f} ms, p95 {pct(after_due, 95):.0f} ms, "
                  f"p99 {pct(after_due, 99):.0f} ms")
            print(f"    after the upsert was acknowledged (commit → subscriber): p50 {pct(after_ack, 50):.0f} ms, "
                  f"p95 {pct(after_ack, 95):.0f} ms, p99 {pct(after_ack, 99):.0f} ms")
            answered = [(t[1] - t[0]) * 1000 for t in times.values()]
            print(f"    the upsert request itself (sent → acknowledged): p50 {pct(answered, 50):.0f} ms, "
                  f"p95 {pct(answered, 95):.0f} ms, p99 {pct(answered, 99):.0f} ms; "
                  f"{len(latencies) - len({n['data'][0]['sent'] for _, n in received})} notifications sent twice")
        print(f"    CPU: server process (app, history writer, dispatcher, receiver) {cpu / wall * 100:.0f} % of one "
              f"core, {cpu / max(1, len(times) * entities) * 1e6:.0f} µs per entity update; "
              f"driver {result['cpu'] / result['elapsed'] * 100:.0f} %")
        updates = max(1, len(times) * entities)
        top = sorted(threads.items(), key=lambda kv: -kv[1])[:6]
        print("    CPU µs per entity update by thread: " + ", ".join(f"{k} {v / updates * 1e6:.0f}" for k, v in top)
              + " (receiver threads end with their connection: their CPU is in the process figure only)")
        from cityhub.context import history_pending

        with p.app.state.session_factory() as db:
            b = history_pending.backlog(db)
        print(f"    history backlog at the end (write-behind): {b['batches']} batches, {b['readings']:,} readings, "
              f"oldest {b['oldest_seconds']:.1f} s")
        if result["errors"]:
            print(f"    driver errors: {result['errors']}")
        p.client.delete(location)
        print(f"    peers: {peers}")
