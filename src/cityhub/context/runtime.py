"""Start-up and shutdown of the context domain's background work.

- the notification dispatcher (woken by `context.notify` after a commit, polling otherwise);
- the history writer: expands acknowledged batches into observations and rollups (`history_pending`);
- the live feed: bus events (`observation.batch`, `alert.*`) fanned out to SSE listeners;
- scheduled upkeep (`jobs.py`): history retention and the catalog link's dataset refresh.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from cityhub.context.subscriptions import NOTIFY_TOPIC

FEED_TOPICS = ("observation.batch", "alert.*")


class LiveFeed:
    """Fans bus events out to SSE listeners (each an asyncio queue on the server's loop)."""

    def __init__(self) -> None:
        self.listeners: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue]] = set()
        self.lock = threading.Lock()
        # The feed is open to anyone: governance trims what concerns non-public entity types.
        self.public_view: Callable[[str, dict[str, Any]], dict[str, Any] | None] = lambda _t, p: p

    def listen(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Queue]:
        entry = (asyncio.get_running_loop(), asyncio.Queue(maxsize=1000))
        with self.lock:
            self.listeners.add(entry)
        return entry

    def leave(self, entry: tuple[asyncio.AbstractEventLoop, asyncio.Queue]) -> None:
        with self.lock:
            self.listeners.discard(entry)

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        with self.lock:
            targets = list(self.listeners)
        if not targets:
            return
        payload = self.public_view(topic, payload)
        if payload is None:
            return
        for loop, queue in targets:
            try:
                loop.call_soon_threadsafe(_offer, queue, (topic, payload))
            except RuntimeError:  # the listener's loop is gone
                self.leave((loop, queue))


def _offer(queue: asyncio.Queue, item: tuple[str, dict[str, Any]]) -> None:
    if not queue.full():  # a slow page drops events rather than growing memory
        queue.put_nowait(item)


def install(app: FastAPI) -> None:
    """Register the dispatcher and the live feed on the app's lifespan."""
    feed = LiveFeed()
    app.state.context_feed = feed
    unsubscribers: list[Any] = []

    def start(app: FastAPI) -> None:
        from cityhub.context.notifier import Dispatcher
        from cityhub.governance.live_access import PublicFeedFilter

        feed.public_view = PublicFeedFilter(app.state.session_factory)
        for topic in FEED_TOPICS:
            unsubscribers.append(app.state.bus.subscribe(topic, feed.publish))
        dispatcher = Dispatcher(app.state.session_factory, app.state.settings)
        app.state.context_dispatcher = dispatcher
        unsubscribers.append(app.state.bus.subscribe(NOTIFY_TOPIC, dispatcher.notify))
        dispatcher.start()
        from cityhub.context.history_pending import HistoryWriter

        writer = HistoryWriter(app.state.session_factory)
        app.state.context_history_writer = writer
        unsubscribers.append(app.state.bus.subscribe("observation.batch", writer.wake))
        writer.start()

    def stop(app: FastAPI) -> None:
        for unsubscribe in unsubscribers:
            unsubscribe()
        unsubscribers.clear()
        dispatcher = getattr(app.state, "context_dispatcher", None)
        if dispatcher is not None:
            dispatcher.stop()
        writer = getattr(app.state, "context_history_writer", None)
        if writer is not None:
            writer.stop()

    app.state.startup_hooks.append(start)
    app.state.shutdown_hooks.append(stop)
    from cityhub import metrics
    from cityhub.context.history_pending import refresh_metrics

    if refresh_metrics not in metrics.REFRESHERS:  # one per process, however many apps (tests make several)
        metrics.REFRESHERS.append(refresh_metrics)
    from cityhub.context import jobs, mqtt_ingest

    jobs.install(app)
    mqtt_ingest.install(app)
