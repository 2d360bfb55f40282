"""Collection numbers: MQTT stored observations vs the broker-only rate, and a 1,000,000-row paged harvest.

(a) MQTT, QoS 0 and QoS 1, on a private Mosquitto (free port, max_queued_messages 0 so nothing is dropped
    silently, max_inflight_messages 0). In the same run: the broker-only rate (a bare paho subscriber
    counting messages) and the stored rate (the `mqtt` source: raw landing, mapping, keyed upsert into
    SQLite, manual acks after commit; the subscriber in its own process). CPU per message counts this process
    and the subscriber process, not the publisher. The publisher bounds its unacknowledged QoS 1 messages (MQTT ids
    are 16-bit: more than 65,535 in flight stalls paho). Drops are detected by counting distinct
    sequence numbers. Targets: stored ≥ 80 % of broker-only at QoS 0, ≥ 60 % at QoS 1.
(b) A 1,000,000-row paged HTTP harvest (pages of 10,000 JSON rows from a server in another process):
    the whole pipeline, with the peak RSS of this process (target ≤ 300 MB); beside it the raw rate of
    only downloading the same pages with httpx.

Run: `python -m benchmarks.bench_collect [messages] [rows]`.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import orjson
import paho.mqtt.client as mqtt
from tests.fakes.mosquitto import Mosquitto
from tests.fakes.server import free_port


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- a platform in a temp dir ------------------------------------------------------------------


def _platform(tmp: Path):  # noqa: ANN202
    from cityhub.bus import make_bus
    from cityhub.cli import SYSTEM
    from cityhub.ctx import RequestContext
    from cityhub.db import make_engine, make_session_factory
    from cityhub.migrations.runner import upgrade
    from cityhub.settings import Settings

    settings = Settings(data_dir=tmp, log_json=True, collect_scheduler=False, secret_key="bench")
    upgrade(settings)
    engine = make_engine(settings)
    factory = make_session_factory(engine)
    bus = make_bus()

    def ctx() -> RequestContext:
        return RequestContext(actor=SYSTEM, db=factory(), settings=settings, bus=bus)

    c = ctx()
    from cityhub.auth.schemas import OrganizationCreate
    from cityhub.auth.service import create_organization
    from cityhub.catalog.schemas import DatasetCreate
    from cityhub.catalog.service import create_dataset

    create_organization(c, data=OrganizationCreate(name="bench", title="bench"))
    create_dataset(c, data=DatasetCreate(name="bench-data", title="bench", owner_org="bench"))
    c.db.commit()
    c.db.close()
    return ctx


def _add_source(ctx, name: str, connector: str, config: dict, fields: list[dict], key: list[str]) -> None:  # noqa: ANN001
    from cityhub.collect.schemas import SourceCreate
    from cityhub.collect.service import create_source

    c = ctx()
    create_source(c, data=SourceCreate(name=name, title=name, connector=connector, dataset="bench-data",
                                       config=config, fields=fields, key=key))
    c.db.commit()
    c.db.close()


def _run(ctx, name: str):  # noqa: ANN001, ANN202
    from cityhub.collect.service import run_source

    c = ctx()
    try:
        return run_source(c, id_or_name=name)
    finally:
        c.db.close()


# --- MQTT --------------------------------------------------------------------------------------


def _publish(port: int, topic: str, count: int, qos: int, started: list[float]) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{uuid.uuid4().hex[:6]}")
    client.max_inflight_messages_set(2000)  # far below the 65,535 message ids MQTT has
    client.max_queued_messages_set(20_000)
    client.connect("127.0.0.1", port)
    client.loop_start()
    started.append(time.time())
    pending = []
    for i in range(count):
        pending.append(client.publish(topic, orjson.dumps({"sensor": f"s{i % 50}", "seq": i, "pm10": i % 97}),
                                      qos=qos))
        if len(pending) >= 10_000:  # bound what paho holds unacknowledged
            for info in pending:
                info.wait_for_publish(timeout=60)
            pending.clear()
    for info in pending:
        info.wait_for_publish(timeout=60)
    client.disconnect()
    client.loop_stop()


def _publish_process(port: int, topic: str, count: int, qos: int, queue) -> None:  # noqa: ANN001
    started: list[float] = []
    _publish(port, topic, count, qos, started)
    queue.put((started[0], time.process_time()))


def _publish_elsewhere(port: int, topic: str, count: int, qos: int) -> list[float]:
    """The publisher runs in its own process so it does not share a GIL with either subscriber."""
    mp = multiprocessing.get_context("spawn")
    queue = mp.Queue()
    proc = mp.Process(target=_publish_process, args=(port, topic, count, qos, queue), daemon=True)
    proc.start()
    started, cpu = queue.get(timeout=300)
    proc.join(timeout=300)
    _PUBLISHER_CPU[0] += cpu
    return [started]


# CPU of the publisher processes (reaped children), taken out of the subscribers' figures.
_PUBLISHER_CPU = [0.0]


def _cpu() -> float:
    """CPU seconds of this process and its reaped children (the MQTT subscriber process), publishers excluded."""
    t = os.times()
    return time.process_time() + t.children_user + t.children_system - _PUBLISHER_CPU[0]


def broker_only(port: int, count: int, qos: int) -> tuple[float, int, float]:
    topic = f"bench/{uuid.uuid4().hex[:6]}"
    seen: set[int] = set()
    done = threading.Event()
    last = [0.0]

    def on_message(_c, _u, msg) -> None:  # noqa: ANN001
        seen.add(orjson.loads(msg.payload)["seq"])
        last[0] = time.time()
        if len(seen) >= count:
            done.set()

    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-sub-{uuid.uuid4().hex[:6]}")
    sub.on_message = on_message
    sub.connect("127.0.0.1", port)
    sub.subscribe(topic, qos)
    sub.loop_start()
    time.sleep(0.3)
    cpu = _cpu()
    started = _publish_elsewhere(port, topic, count, qos)
    done.wait(timeout=120)
    cpu = _cpu() - cpu
    sub.disconnect()
    sub.loop_stop()
    return len(seen) / max(1e-9, (last[0] - started[0])), count - len(seen), cpu * 1e6 / max(1, len(seen))


def stored(ctx, port: int, count: int, qos: int) -> tuple[float, int, float]:  # noqa: ANN001
    name = f"mqtt-q{qos}-{uuid.uuid4().hex[:4]}"
    topic = f"bench/{name}"
    fields = [{"name": "sensor", "path": "payload.sensor"}, {"name": "seq", "path": "payload.seq", "type": "integer"},
              {"name": "pm10", "path": "payload.pm10", "type": "number"}]
    _add_source(ctx, name, "mqtt", {"port": port, "topics": [topic], "qos": qos, "client_id": f"cityhub-{name}",
                                    "idle_seconds": 30.0, "max_seconds": 300, "batch_size": 5000,
                                    "max_messages": count}, fields, ["sensor", "seq"])
    _run(ctx, name)  # registers the persistent session
    result: dict = {}
    runner = threading.Thread(target=lambda: result.update(run=_run(ctx, name)))
    cpu = _cpu()
    runner.start()
    time.sleep(0.5)
    started = _publish_elsewhere(port, topic, count, qos)
    runner.join()
    cpu = _cpu() - cpu
    run = result["run"]
    c = ctx()
    from sqlalchemy import func, select, table

    from cityhub.collect.models import Source

    source = c.db.scalar(select(Source).where(Source.name == name))
    n = c.db.execute(select(func.count()).select_from(table(source.resource_id))).scalar_one()
    c.db.close()
    # The run stops as soon as max_messages are stored: from first publish to its end is the stored rate.
    return n / max(1e-9, run.ended_at.timestamp() - started[0]), count - n, cpu * 1e6 / max(1, n)


# --- 1M-row HTTP harvest -----------------------------------------------------------------------


def _serve_pages(port: int, total: int, page_size: int) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    def rows(request: Request) -> Response:
        page = int(request.query_params.get("page", 1))
        start = (page - 1) * page_size
        chunk = [{"id": i, "station": f"st-{i % 500}", "value": f"{(i % 1000) / 10:.1f}",
                  "measured": f"2025-05-{1 + i % 28:02d} {1 + i % 24:02d}:00"}
                 for i in range(start + 1, min(total, start + page_size) + 1)]
        return Response(orjson.dumps({"data": {"items": chunk, "total": total}}), media_type="application/json")

    uvicorn.run(Starlette(routes=[Route("/rows", rows)]), host="127.0.0.1", port=port, log_level="error")


def harvest(ctx, total: int) -> None:  # noqa: ANN001
    page_size = 10_000
    port = free_port()
    server = multiprocessing.get_context("spawn").Process(target=_serve_pages, args=(port, total, page_size),
                                                           daemon=True)
    server.start()
    url = f"http://127.0.0.1:{port}/rows"
    for _ in range(100):
        try:
            httpx.get(url, params={"page": 999_999})
            break
        except httpx.TransportError:
            time.sleep(0.1)
    t0 = time.perf_counter()
    pages = (total + page_size - 1) // page_size
    with httpx.Client(timeout=60) as client:
        for page in range(1, pages + 1):
            client.get(url, params={"page": page, "size": page_size}).raise_for_status()
    raw_seconds = time.perf_counter() - t0

    fields = [{"name": "id", "type": "integer"}, {"name": "station"}, {"name": "value", "type": "number"},
              {"name": "measured", "type": "datetime"}]
    _add_source(ctx, "million", "http", {"url": url, "record_path": "data.items", "paging": "page",
                                         "page_size": page_size, "total_path": "data.total"}, fields, ["id"])
    before = _rss_mb()
    t0 = time.perf_counter()
    run = _run(ctx, "million")
    seconds = time.perf_counter() - t0
    server.terminate()
    print(f"http harvest: {run.status}, {run.rows_inserted:,} rows in {run.requests} requests, {seconds:.1f} s "
          f"→ {run.rows_inserted / seconds:,.0f} rows/s stored; raw download only: {total / raw_seconds:,.0f} rows/s")
    print(f"http harvest: peak RSS {_rss_mb():.0f} MB (before the run {before:.0f} MB; target ≤ 300 MB) "
          f"{'OK' if _rss_mb() <= 300 else 'OVER'}")


def main() -> None:
    # `python -m benchmarks.bench_collect [messages] [rows]`; under run_all argv holds bench names instead
    numbers = [int(a) for a in sys.argv[1:] if a.isdigit()]
    messages = numbers[0] if numbers else 50_000
    rows = numbers[1] if len(numbers) > 1 else 1_000_000
    with tempfile.TemporaryDirectory(prefix="cityhub-bench-collect-") as tmp:
        ctx = _platform(Path(tmp) / "data")
        with Mosquitto(Path(tmp) / "broker", max_queued=0, max_inflight=0) as broker:
            for qos, target in ((0, 0.8), (1, 0.6)):
                peer, peer_lost, peer_cpu = broker_only(broker.port, messages, qos)
                ours, lost, our_cpu = stored(ctx, broker.port, messages, qos)
                ratio = ours / peer
                print(f"mqtt qos{qos}: broker-only {peer:,.0f} msg/s (lost {peer_lost}, {peer_cpu:.1f} µs CPU/msg); "
                      f"stored {ours:,.0f} obs/s (lost {lost}, {our_cpu:.1f} µs CPU/msg) = {ratio:.0%} of broker-only "
                      f"(target ≥ {target:.0%}) {'OK' if ratio >= target and lost == 0 else 'BELOW'}; "
                      f"load average {os.getloadavg()[0]:.1f}")
        harvest(ctx, rows)


if __name__ == "__main__":
    main()
