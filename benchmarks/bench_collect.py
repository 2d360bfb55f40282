"""Collection numbers: MQTT stored observations vs the broker-only rate, and a 1,000,000-row paged harvest.

(a) MQTT, QoS 0 and QoS 1, on a private Mosquitto (free port, max_queued_messages 0 so nothing is dropped
    silently, max_inflight_messages 0, sys_interval 1). Alternated in the same run, several rounds: two
    broker-only rates (subscribers storing nothing, counting distinct sequence numbers: stock paho, and the
    `mqtt` source's own buffered reader; each round is judged against stock paho, as the issue measured
    its broker-only rate, and, stricter, against the faster of the two) and the stored rate (the
    `mqtt` source: raw landing, mapping, governance screening, keyed upsert into SQLite, manual acks after
    commit; the subscriber in its own process), from the first publish to the commit holding the last
    message. Both listeners are proven subscribed by probe messages before the publisher starts. CPU per
    message counts this process and the subscriber process from the first publish (not the publisher,
    not the subscriber's start-up). The publisher bounds its unacknowledged QoS 1 messages (MQTT ids are
    16-bit: more than 65,535 in flight stalls paho). The runs report the broker's dropped count ($SYS)
    and the sequence gaps they saw. Targets: median stored ≥ 80 % of broker-only at QoS 0, ≥ 60 % at QoS 1.
(b) A 1,000,000-row paged HTTP harvest (pages of 10,000 JSON rows from a server in another process):
    the whole pipeline, with the peak RSS of this process (target ≤ 300 MB); beside it the raw rate of
    only downloading the same pages with httpx.

Run: `python -m benchmarks.bench_collect [messages] [rows] [rounds]`.
"""

from __future__ import annotations

import gc
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

from cityhub.collect.connectors.mqtt import REAPER
from cityhub.collect.connectors.mqtt_reader import client_class


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _MemorySampler(threading.Thread):
    """Peaks of this process's anonymous memory (the heap: what streaming must keep flat) and file-backed
    resident pages (SQLite maps the database file, mmap_size 1 GiB: pages of the file it touched count in
    RSS but are the kernel's file cache, shared and reclaimable), sampled every 50 ms."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = {"RssAnon": 0.0, "RssFile": 0.0}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.05):
            for line in Path("/proc/self/status").read_text().splitlines():
                name, _, value = line.partition(":")
                if name in self.peak:
                    self.peak[name] = max(self.peak[name], int(value.split()[0]) / 1024)


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
    client.max_inflight_messages_set(PUBLISH_INFLIGHT)  # far below the 65,535 message ids MQTT has
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


PUBLISH_INFLIGHT = 2000
# CPU of the publisher processes (reaped children), taken out of the subscribers' figures.
_PUBLISHER_CPU = [0.0]


def _cpu() -> float:
    """CPU seconds of this process and its reaped children (the MQTT subscriber process), publishers excluded."""
    t = os.times()
    return time.process_time() + t.children_user + t.children_system - _PUBLISHER_CPU[0]


def _children_cpu() -> float:
    """CPU seconds so far of the run's live MQTT subscriber process."""
    total = 0.0
    for task in Path("/proc/self/task").iterdir():
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue  # the thread ended meanwhile (a reaper): it has no children left
        for pid in children:
            try:
                if b"mqtt_worker" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                    continue  # the broker and the publisher are children too
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _until_heard(port: int, topic: str, heard) -> int:  # noqa: ANN001
    """Publish probe messages (sensor "probe") until the listener has one: at QoS 0 a message published
    before the subscription is simply gone, and on a loaded machine a subscriber may take seconds to start."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-probe-{uuid.uuid4().hex[:6]}")
    client.connect("127.0.0.1", port)
    client.loop_start()
    sent = 0
    deadline = time.time() + 120
    while not heard() and time.time() < deadline:
        client.publish(topic, orjson.dumps({"sensor": "probe", "seq": sent, "pm10": 0}), qos=1).wait_for_publish(5)
        sent += 1
        time.sleep(0.1)
    client.disconnect()
    client.loop_stop()
    return sent


def broker_only(port: int, count: int, qos: int, *, reader: bool = False) -> dict:
    """A subscriber that stores nothing, counting distinct sequence numbers: the broker-only rate. Stock
    paho (on_message per MQTTMessage), or with `reader` the receive path of the `mqtt` source itself (its
    buffered reader handing over raw PUBLISH packets, QoS 1 acks batched every 20 ms as the source's
    subscriber sends them, but without waiting for a commit): the same subscriber work minus the storage,
    so the stored rate is not judged against a slower receiver than its own."""
    topic = f"bench/{uuid.uuid4().hex[:6]}"
    seen: set[int] = set()
    probed = threading.Event()
    done = threading.Event()
    last = [0.0]

    def heard(payload: bytes) -> None:
        data = orjson.loads(payload)
        if data["sensor"] == "probe":
            probed.set()
            return
        seen.add(data["seq"])
        last[0] = time.time()
        if len(seen) >= count:
            done.set()

    client_id = f"bench-sub-{uuid.uuid4().hex[:6]}"
    acks: list[int] = []
    if reader:
        sub = client_class()(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        sub.manual_ack_set(True)

        def raw(_topic: bytes, qos_: int, mid: int, payload: bytes) -> None:
            heard(payload)
            if qos_:
                acks.append(mid)

        def ack_loop() -> None:  # as the source's subscriber acks: all waiting in one write, every 20 ms
            while not done.wait(0.02):
                n = len(acks)  # the network thread only appends: the first n stay as they are
                taken = acks[:n]
                del acks[:n]
                sub.ack_many(taken)
            sub.ack_many(list(acks))

        sub.on_raw_publish = raw
        sub.on_message = lambda _c, _u, msg: raw(msg._topic, msg.qos, msg.mid, msg.payload)
        threading.Thread(target=ack_loop, daemon=True).start()
    else:
        sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        sub.on_message = lambda _c, _u, msg: heard(msg.payload)
    sub.connect("127.0.0.1", port)
    sub.subscribe(topic, qos)
    sub.loop_start()
    _until_heard(port, topic, probed.is_set)
    cpu = _cpu()
    started = _publish_elsewhere(port, topic, count, qos)
    done.wait(timeout=300)
    cpu = _cpu() - cpu
    sub.disconnect()
    sub.loop_stop()
    return {"rate": len(seen) / max(1e-9, (last[0] - started[0])), "lost": count - len(seen),
            "cpu": cpu * 1e6 / max(1, len(seen))}


def stored(ctx, port: int, count: int, qos: int) -> dict:  # noqa: ANN001
    """The `mqtt` source end to end; the rate runs from the first publish to the commit holding the last message."""
    name = f"mqtt-q{qos}-{uuid.uuid4().hex[:4]}"
    topic = f"bench/{name}"
    fields = [{"name": "sensor", "path": "payload.sensor"}, {"name": "seq", "path": "payload.seq", "type": "integer"},
              {"name": "pm10", "path": "payload.pm10", "type": "number"}]
    # idle_seconds 10: on a loaded machine the publisher process can take seconds to start after the probes,
    # and a run that ended by then would store nothing (the rate is taken at the commit, not the run's end)
    _add_source(ctx, name, "mqtt", {"port": port, "topics": [topic], "qos": qos, "client_id": f"cityhub-{name}",
                                    "idle_seconds": 10.0, "max_seconds": 600, "batch_size": 5000,
                                    "sequence_path": "seq"}, fields, ["sensor", "seq"])
    commits: list[tuple[float, int]] = []  # (time, messages received so far) after each committed batch
    result: dict = {}

    def run() -> None:
        from cityhub.collect.service import run_source

        c = ctx()
        try:
            result["run"] = run_source(c, id_or_name=name,
                                       progress=lambda r: commits.append((time.time(), r.rows_received or 0)))
        finally:
            c.db.close()

    runner = threading.Thread(target=run)
    runner.start()
    _until_heard(port, topic, lambda: bool(commits and commits[-1][1]))
    cpu, worker_before, own = _cpu(), _children_cpu(), time.process_time()
    started = _publish_elsewhere(port, topic, count, qos)[0]
    runner.join()
    for reaper in [t for t in threading.enumerate() if t.name.startswith(REAPER)]:
        reaper.join()  # the subscriber process's CPU is counted once it is reaped
    own = time.process_time() - own  # the pipeline (with the run's end); the rest is the subscriber process
    cpu = _cpu() - cpu - worker_before
    run = result["run"]
    c = ctx()
    from sqlalchemy import column, func, select, table

    from cityhub.collect.models import Source

    source = c.db.scalar(select(Source).where(Source.name == name))
    stored_table = table(source.resource_id, column("sensor"))
    heard = c.db.execute(select(func.count()).select_from(stored_table)
                         .where(stored_table.c.sensor == "probe")).scalar_one()  # of the `probes` sent
    n = c.db.execute(select(func.count()).select_from(stored_table)).scalar_one() - heard
    c.db.close()
    stored_at = next((t for t, received in commits if received >= n + heard), commits[-1][0])
    return {"rate": n / max(1e-9, stored_at - started), "lost": count - n, "cpu": cpu * 1e6 / max(1, n),
            "pipeline_cpu": own * 1e6 / max(1, n), "dropped": run.broker_dropped, "missing": run.messages_missing}


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def mqtt_rounds(ctx, port: int, messages: int, qos: int, target: float, rounds: int) -> None:  # noqa: ANN001
    """Two broker-only subscribers (stock paho; the source's own reader) and ours, in an order that
    rotates each round, `rounds` times. Each round's ratio is against the faster broker-only rate."""
    measures = {"paho": lambda: broker_only(port, messages, qos), "reader": lambda: broker_only(
        port, messages, qos, reader=True), "stored": lambda: stored(ctx, port, messages, qos)}
    order = list(measures)
    ratios, paho_ratios, ours_cpu, paho_cpu, reader_cpu = [], [], [], [], []
    for i in range(rounds):
        got = {name: measures[name]() for name in order[i % 3:] + order[:i % 3]}
        paho, reader, ours = got["paho"], got["reader"], got["stored"]
        ratios.append(ours["rate"] / max(paho["rate"], reader["rate"]))
        paho_ratios.append(ours["rate"] / paho["rate"])
        ours_cpu.append(ours["cpu"])
        paho_cpu.append(paho["cpu"])
        reader_cpu.append(reader["cpu"])
        print(f"mqtt qos{qos} round {i + 1}: broker-only stock paho {paho['rate']:,.0f} msg/s (lost {paho['lost']}, "
              f"{paho['cpu']:.1f} µs CPU/msg), with the source's reader {reader['rate']:,.0f} msg/s (lost "
              f"{reader['lost']}, {reader['cpu']:.1f} µs CPU/msg); stored {ours['rate']:,.0f} obs/s (lost "
              f"{ours['lost']}, {ours['cpu']:.1f} µs CPU/msg, of it {ours['pipeline_cpu']:.1f} in this process; "
              f"the run saw broker drops {ours['dropped']}, sequence gaps {ours['missing']}) = {paho_ratios[-1]:.0%} "
              f"of paho, {ratios[-1]:.0%} of the faster; load average {os.getloadavg()[0]:.1f}")
    ratio, paho_ratio = _median(ratios), _median(paho_ratios)
    # The issue measured its broker-only rate with a stock paho subscriber; the source's own reader storing
    # nothing is faster still, so the ratio against the faster of the two is the stricter figure.
    print(f"mqtt qos{qos}: median stored/broker-only over {rounds} rounds (target ≥ {target:.0%}): against stock "
          f"paho (the issue's broker-only measurement) {paho_ratio:.0%} {'OK' if paho_ratio >= target else 'BELOW'}; "
          f"against the faster of paho and the source's reader storing nothing (stricter) {ratio:.0%} "
          f"{'OK' if ratio >= target else 'BELOW'}; median CPU/msg ours {_median(ours_cpu):.1f} µs (subscriber "
          f"process + pipeline) vs broker-only stock paho {_median(paho_cpu):.1f} µs, with the source's reader "
          f"{_median(reader_cpu):.1f} µs; load average {os.getloadavg()[0]:.1f}")


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
    sampler = _MemorySampler()
    sampler.start()
    t0, cpu0 = time.perf_counter(), time.process_time()
    run = _run(ctx, "million")
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    sampler.stop.set()
    sampler.join()
    server.terminate()
    print(f"http harvest: {run.status}, {run.rows_inserted:,} rows in {run.requests} requests, {seconds:.1f} s "
          f"→ {run.rows_inserted / seconds:,.0f} rows/s stored, {cpu * 1e6 / max(1, run.rows_inserted):.1f} µs "
          f"CPU/row (this process); raw download only: {total / raw_seconds:,.0f} rows/s; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"http harvest: peak RSS {_rss_mb():.0f} MB (before the run {before:.0f} MB; target ≤ 300 MB) "
          f"{'OK' if _rss_mb() <= 300 else 'OVER'}; of it at most {sampler.peak['RssAnon']:.0f} MB anonymous "
          f"(heap) and {sampler.peak['RssFile']:.0f} MB file-backed (SQLite's mapped database file, libraries)")


def main() -> None:
    # `python -m benchmarks.bench_collect [messages] [rows] [rounds]`; under run_all argv holds bench names instead
    numbers = [int(a) for a in sys.argv[1:] if a.isdigit()]
    messages = numbers[0] if numbers else 50_000
    rows = numbers[1] if len(numbers) > 1 else 1_000_000
    rounds = numbers[2] if len(numbers) > 2 else 3
    with tempfile.TemporaryDirectory(prefix="cityhub-bench-collect-") as tmp:
        ctx = _platform(Path(tmp) / "data")
        # As the server does once started (ops: cameras.freeze_after_load): what lives so far leaves the
        # collector's reach, so collections scan only what the runs allocate.
        gc.collect()
        gc.freeze()
        # max_queued_messages 0: unbounded, so a subscriber falling behind loses nothing (Mosquitto's default
        # 1000 drops silently); the runs also report the broker's own dropped count and sequence gaps.
        with Mosquitto(Path(tmp) / "broker", max_queued=0, max_inflight=0, sys_interval=1) as broker:
            print(f"mosquitto: max_queued_messages 0, max_inflight_messages 0; {messages:,} messages per "
                  f"measurement; publisher in-flight QoS 1 bounded to {PUBLISH_INFLIGHT:,}")
            for qos, target in ((0, 0.8), (1, 0.6)):
                mqtt_rounds(ctx, broker.port, messages, qos, target, rounds)
        harvest(ctx, rows)


if __name__ == "__main__":
    main()
