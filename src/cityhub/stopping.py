"""Open event streams end as soon as the server starts stopping.

uvicorn's graceful shutdown waits for every response in flight before the lifespan's shutdown runs. An
event stream never finishes by itself (it ends after its MAX_STREAM_SECONDS), so a restart with a board or
a patrol unit connected waited out the whole grace period (30 s) and then cancelled streams and uploads
alike. Here the stop is noticed when it starts (SIGTERM/SIGINT, or `begin(app)` from whoever runs the
server in a thread): every stream wrapped in `until_stopping` ends at once, cleanly — its client reconnects
with Last-Event-ID to the next process — while ordinary requests keep their grace period (app._drain).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def install(app: FastAPI) -> None:
    """At lifespan start-up (on the serving loop): the stop event, and the stop signals chained to it.

    uvicorn has installed its own handlers by then (in the main thread only); ours runs first and hands
    the signal on, so uvicorn's shutdown proceeds as before. Servers run in a thread (tests) install no
    handlers and call `begin` themselves."""
    app.state.stopping = asyncio.Event()
    app.state.stopping_loop = asyncio.get_running_loop()
    app.state.stopping_handlers = {}
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in SIGNALS:
        previous = signal.getsignal(sig)
        if not callable(previous):
            continue  # SIG_DFL / SIG_IGN: no server asked for this signal; leave it alone

        def chained(signum: int, frame: Any, previous: Any = previous) -> None:  # noqa: ANN401
            begin(app)
            previous(signum, frame)

        signal.signal(sig, chained)
        app.state.stopping_handlers[sig] = previous


def uninstall(app: FastAPI) -> None:
    """At lifespan end: give the signals back to whoever had them before `install`."""
    for sig, previous in getattr(app.state, "stopping_handlers", {}).items():
        with contextlib.suppress(ValueError):  # not the main thread after all
            signal.signal(sig, previous)
    app.state.stopping_handlers = {}


def begin(app: FastAPI) -> None:
    """Tell open streams to end. Safe from any thread and from a signal handler; a no-op before start-up."""
    loop = getattr(app.state, "stopping_loop", None)
    event = getattr(app.state, "stopping", None)
    if loop is None or event is None or loop.is_closed():
        return
    with contextlib.suppress(RuntimeError):  # the loop closed in between
        loop.call_soon_threadsafe(event.set)


def event_stream(request: Request, source: AsyncIterator[bytes]) -> StreamingResponse:
    """A server-sent event stream of `source`'s chunks that ends when the server starts stopping."""
    return StreamingResponse(until_stopping(request.app, source), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def until_stopping(app: FastAPI, source: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The chunks of `source` until it ends or the server starts stopping; then `source` is closed
    (cancelled where it waits, so its own `finally` leaves its feed)."""
    event: asyncio.Event | None = getattr(app.state, "stopping", None)
    if event is None:  # app served without its lifespan: nothing will ever say stop
        async for chunk in source:
            yield chunk
        return
    stop = asyncio.ensure_future(event.wait())
    step: asyncio.Future | None = None
    try:
        while not event.is_set():
            step = asyncio.ensure_future(_next(source))
            await asyncio.wait((step, stop), return_when=asyncio.FIRST_COMPLETED)
            if not step.done():
                return
            try:
                chunk = step.result()
            except StopAsyncIteration:
                return
            yield chunk
    finally:
        stop.cancel()
        if step is not None and not step.done():
            step.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await step
        elif step is not None and not step.cancelled():
            step.exception()  # a source that ended as the client went: retrieved, not logged as never retrieved
        await source.aclose()  # type: ignore[attr-defined]


async def _next(source: AsyncIterator[bytes]) -> bytes:
    return await source.__anext__()
