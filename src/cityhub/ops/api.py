"""The ops domain's HTTP doors (one router per sub-resource, all under /api/v1/ops) and its background work:
the agency delivery dispatcher and the sensor-alert subscriber."""

from __future__ import annotations

import importlib
import logging
import threading
from typing import Any

from fastapi import APIRouter, FastAPI

SUB_ROUTERS = (
    "cityhub.ops.api_incidents",
    "cityhub.ops.api_agencies",
    "cityhub.ops.api_video",
    "cityhub.ops.api_linked",
    "cityhub.ops.api_directives",
    "cityhub.ops.api_stream",
)

router = APIRouter()
for _name in SUB_ROUTERS:
    try:
        router.include_router(importlib.import_module(_name).router)
    except ModuleNotFoundError as exc:  # a sub-resource not written yet
        if exc.name != _name:
            raise


log = logging.getLogger("cityhub.ops")


def _sync_cameras(app: FastAPI) -> None:
    from cityhub.ctx import RequestContext
    from cityhub.ops import cameras
    from cityhub.ops.sensors import SENSOR_ACTOR

    try:
        with app.state.session_factory() as db:
            ctx = RequestContext(actor=SENSOR_ACTOR, db=db, settings=app.state.settings, bus=app.state.bus)
            cameras.sync(ctx)
            db.commit()
            cameras.freeze_after_load(ctx)
    except Exception:  # a missing index only means fewer cameras until the next batch
        log.exception("camera index sync at start-up failed")


def install(app: FastAPI) -> None:
    """Start the delivery dispatcher (woken after each commit that queued deliveries) and the alert subscriber."""
    unsubscribers: list[Any] = []

    def start(app: FastAPI) -> None:
        from cityhub.ops import cameras, sensors
        from cityhub.ops.dispatcher import AgencyDispatcher
        from cityhub.ops.service_agencies import WAKE_TOPIC
        from cityhub.ops.stream import Feed

        dispatcher = AgencyDispatcher(app.state.session_factory, app.state.settings)
        app.state.ops_dispatcher = dispatcher
        unsubscribers.append(app.state.bus.subscribe(WAKE_TOPIC, dispatcher.notify))
        app.state.ops_feed = Feed()
        unsubscribers.append(app.state.bus.subscribe("incident.*", app.state.ops_feed.hear))
        unsubscribers.append(sensors.subscribe(app.state.bus, app.state.session_factory, app.state.settings))
        unsubscribers.append(app.state.bus.subscribe(
            "observation.batch", cameras.on_batch(app.state.session_factory, app.state.settings, app.state.bus)))
        # Cameras written while this process was down (or by another process) join the index.
        threading.Thread(target=_sync_cameras, args=(app,), name="ops-camera-sync", daemon=True).start()
        dispatcher.start()
        dispatcher.notify()  # rows left pending by a previous process (kill -9) go out now

    def stop(app: FastAPI) -> None:
        for unsubscribe in unsubscribers:
            unsubscribe()
        dispatcher = getattr(app.state, "ops_dispatcher", None)
        if dispatcher is not None:
            dispatcher.stop()

    app.state.startup_hooks.append(start)
    app.state.shutdown_hooks.append(stop)
