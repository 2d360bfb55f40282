"""The board's live feed: bus events → a bounded replay log in the database → batched SSE messages.

Bus handlers only queue what they hear (they run in the writer's thread, right after its commit).
One flusher task per process, on the server's event loop, flushes as soon as it is woken, and at most once
per FLUSH_SECONDS (the first event of a quiet spell goes out at once; a burst waits for the window): it
writes the queued events to `board_events` in one transaction, reads back every row newer than the last it
delivered (rows another worker wrote too), and hands the same batch to every connected board. A board
therefore gets at most a few messages a second however busy the city is, and each message carries the
id of its newest row: a reconnecting EventSource sends it back as Last-Event-ID and is replayed the rows
it missed from the table. Sensor batches are folded into one `sensors` event per flush.

Several workers: each process writes what its own bus delivered (the in-process bus delivers only that
process's events) and reads everything from the table, so a board on any worker sees every worker's
events, within POLL_SECONDS when they come from another worker. Nothing else lives only in memory: the
cursor is the table's id, and sparkline samples are keyed by the minute (the first worker's sample wins).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from cityhub.board.models import BoardEvent
from cityhub.db import utcnow

log = logging.getLogger("cityhub.board")
E = BoardEvent.__table__

TOPICS = ("incident.*", "directive.*", "alert.*", "observation.batch", "project.*")
FLUSH_SECONDS = 0.2
POLL_SECONDS = 0.5  # look for rows written by other workers even when this one heard nothing (boards connected)
IDLE_POLL_SECONDS = 5.0  # no board connected to this worker: only the sampler and what it heard to write
KEEP_ROWS = 20_000
KEEP_AGE = timedelta(hours=24)
REPLAY_MAX = 2_000
SAMPLE_SECONDS = 60.0
# What citizens may see of an event (no incidents, directives or camera ids; projects only when public).
PUBLIC_TOPICS = ("sensors", "alert.raised", "alert.cleared", "project.changed")


def scope_of(topic: str, payload: dict[str, Any]) -> str:
    if topic == "project.changed":
        return "public" if payload.get("access_level", "public") == "public" else "staff"
    return "public" if topic in PUBLIC_TOPICS else "staff"


def slim(topic: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Keep what a board draws; alerts lose their source ids (a camera or sensor id is not for citizens)."""
    if topic.startswith("alert."):
        keep = ("id", "type", "severity", "category", "subCategory", "district", "attribute", "value", "at",
                "location", "description")
        return {k: v for k, v in payload.items() if k in keep}
    return payload


@dataclass(eq=False)
class Listener:
    queue: asyncio.Queue
    public: bool


@dataclass(eq=False)
class Hub:
    session_factory: Any
    pending: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    sensor_types: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    listeners: set[Listener] = field(default_factory=set)  # type: ignore[assignment]
    last_id: int = 0
    loop: asyncio.AbstractEventLoop | None = None
    wake: asyncio.Event | None = None
    task: asyncio.Task | None = None
    flushes: int = 0
    sampler: Any = None  # records the minute figures for sparklines (set at start-up)
    sampled_at: float = 0.0

    # --- bus side (any thread) ---------------------------------------------------------------------

    def hear(self, topic: str, payload: dict[str, Any]) -> None:
        with self.lock:
            if topic == "observation.batch":
                for t, n in (payload.get("types") or {}).items():
                    self.sensor_types[t] = self.sensor_types.get(t, 0) + n
            else:
                self.pending.append((topic, payload))
        loop, wake = self.loop, self.wake
        if loop is not None and wake is not None:
            try:
                loop.call_soon_threadsafe(wake.set)
            except RuntimeError:
                pass

    # --- loop side ----------------------------------------------------------------------------------

    def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.wake = asyncio.Event()
        self.last_id = self._max_id()
        self.task = self.loop.create_task(self._run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        await asyncio.to_thread(self._write_and_read)  # what was heard last is kept for the next process

    def listen(self, public: bool) -> Listener:
        listener = Listener(asyncio.Queue(maxsize=64), public)
        self.listeners.add(listener)
        if self.task is None or self.task.done():
            self.start()
        return listener

    def leave(self, listener: Listener) -> None:
        self.listeners.discard(listener)

    async def _run(self) -> None:
        assert self.wake is not None and self.loop is not None
        flushed = 0.0
        while True:
            try:
                await asyncio.wait_for(self.wake.wait(),
                                       timeout=POLL_SECONDS if self.listeners else IDLE_POLL_SECONDS)
            except TimeoutError:
                pass
            # the batching window: at most one flush per FLUSH_SECONDS; an event after a quiet spell goes at once
            wait = FLUSH_SECONDS - (self.loop.time() - flushed)
            if wait > 0:
                await asyncio.sleep(wait)
            self.wake.clear()
            flushed = self.loop.time()
            try:
                rows = await asyncio.to_thread(self._write_and_read)
            except Exception:  # noqa: BLE001 - a database hiccup must not end the feed
                log.exception("board flush failed")
                rows = []
            if rows:
                self._fan_out(rows)
            await self._maybe_sample()

    async def _maybe_sample(self) -> None:
        now = time.monotonic()
        if self.sampler is None or now - self.sampled_at < SAMPLE_SECONDS:
            return
        self.sampled_at = now
        try:
            await asyncio.to_thread(self.sampler)
        except Exception:  # noqa: BLE001 - a sparkline gap is better than a dead feed
            log.exception("board sample failed")

    def _fan_out(self, rows: list[dict[str, Any]]) -> None:
        public_rows = [r for r in rows if r["scope"] == "public"]
        for listener in list(self.listeners):
            batch = public_rows if listener.public else rows
            if not batch:
                continue
            if listener.queue.full():  # a stalled board: drop its oldest batch, it resyncs by id
                listener.queue.get_nowait()
            listener.queue.put_nowait(batch)

    # --- database side (worker thread) ------------------------------------------------------------

    def _drain(self) -> list[dict[str, Any]]:
        with self.lock:
            pending, self.pending = self.pending, []
            sensors, self.sensor_types = self.sensor_types, {}
        now = utcnow()
        rows = [{"at": now, "topic": t, "scope": scope_of(t, p), "payload": slim(t, p)} for t, p in pending]
        if sensors:
            rows.append({"at": now, "topic": "sensors", "scope": "public", "payload": {"types": sensors}})
        return rows

    def _write_and_read(self) -> list[dict[str, Any]]:
        rows = self._drain()
        with self.session_factory() as db:
            if rows:
                db.execute(insert(E), rows)
                db.commit()
            fresh = read_since(db, self.last_id, limit=REPLAY_MAX)
            self.flushes += 1
            if self.flushes % 240 == 0:
                prune(db)
                db.commit()
        if fresh:
            self.last_id = fresh[-1]["id"]
        return fresh

    def _max_id(self) -> int:
        with self.session_factory() as db:
            return db.scalar(select(func.max(E.c.id))) or 0


def read_since(db: Any, after: int, *, limit: int = REPLAY_MAX, public: bool = False) -> list[dict[str, Any]]:
    """Logged events newer than `after`, oldest first, as plain dicts."""
    stmt = select(E.c.id, E.c.at, E.c.topic, E.c.scope, E.c.payload).where(E.c.id > after)
    if public:
        stmt = stmt.where(E.c.scope == "public")
    rows = db.execute(stmt.order_by(E.c.id).limit(limit)).all()
    return [{"id": r.id, "at": r.at.isoformat(), "topic": r.topic, "scope": r.scope, "payload": r.payload}
            for r in rows]


def oldest_id(db: Any) -> int:
    return db.scalar(select(func.min(E.c.id))) or 0


def prune(db: Any) -> None:
    """Keep the log bounded: the newest KEEP_ROWS rows, none older than KEEP_AGE."""
    top = db.scalar(select(func.max(E.c.id))) or 0
    db.execute(delete(E).where((E.c.id <= top - KEEP_ROWS) | (E.c.at < utcnow() - KEEP_AGE)))


def record_sample(app: Any) -> None:
    """Once a minute: the sparkline sample, and the demo's synthetic water complaints catch up with the clock
    (a no-op unless the demo made that dataset)."""
    from cityhub.board.service import take_sample
    from cityhub.board.water import sync_demo
    from cityhub.ctx import ANONYMOUS, RequestContext

    with app.state.session_factory() as db:
        try:
            sync_demo(RequestContext(ANONYMOUS, db, app.state.settings, app.state.bus))
            db.commit()
        except IntegrityError:  # another worker added the same complaints at the same moment
            db.rollback()
    with app.state.session_factory() as db:
        take_sample(RequestContext(ANONYMOUS, db, app.state.settings, app.state.bus))
        try:
            db.commit()
        except IntegrityError:  # another worker wrote this minute's sample at the same moment: theirs stands
            db.rollback()


def install(app: Any) -> None:
    """One hub per process: subscribe to the bus at start-up, stop the flusher at shutdown."""
    unsubscribers: list[Any] = []

    def start(app: Any) -> None:
        hub = Hub(app.state.session_factory)
        hub.sampler = lambda: record_sample(app)
        app.state.board_hub = hub
        for topic in TOPICS:
            unsubscribers.append(app.state.bus.subscribe(topic, hub.hear))
        hub.start()

    def stop(app: Any) -> None:
        for unsubscribe in unsubscribers:
            unsubscribe()
        unsubscribers.clear()
        hub = getattr(app.state, "board_hub", None)
        if hub is not None and hub.task is not None:
            hub.task.cancel()
        if hub is not None:
            try:
                hub._write_and_read()
            except Exception:  # noqa: BLE001
                log.exception("board: final flush failed")

    app.state.startup_hooks.append(start)
    app.state.shutdown_hooks.append(stop)
