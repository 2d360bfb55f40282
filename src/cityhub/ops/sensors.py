"""Sensor alerts become incidents: a bus subscriber on `alert.raised` (high and critical only).

The alert's category/subCategory (FIWARE Alert) map to an incident type; a traffic jam is not an
incident. Repeated or escalating alerts of the same place link to the open incident (duplicate
detection), so a rising river makes one flood incident with several reports.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from cityhub.bus import InProcessBus
from cityhub.ctx import Actor, RequestContext
from cityhub.errors import CityhubError
from cityhub.settings import Settings

log = logging.getLogger("cityhub.ops.sensors")
SENSOR_ACTOR = Actor(user_id="system:sensors", email="sensors@cityhub.local", role="admin", city_member=True)
# (category, subCategory) -> (incident type, subtype)
ALERT_TYPES: dict[tuple[str, str], tuple[str, str | None]] = {
    ("naturalDisaster", "flood"): ("disaster", "flood"),
    ("naturalDisaster", "earthquake"): ("disaster", "earthquake"),
    ("naturalDisaster", "landslide"): ("disaster", "landslide"),
    ("weather", "heavySnow"): ("disaster", "heavy_snow"),
    ("weather", "typhoon"): ("disaster", "typhoon"),
    ("environment", "airPollution"): ("environment", "air_pollution"),
    ("environment", "waterPollution"): ("environment", "water_pollution"),
    ("traffic", "carAccident"): ("traffic_accident", "collision"),
    ("security", "buildingFire"): ("fire", "building"),
}
SEVERITY = {"high": "high", "critical": "critical"}


def incident_from_alert(payload: dict[str, Any]) -> dict[str, Any] | None:
    """The incident report an alert stands for, or None when it is not an incident."""
    kind = ALERT_TYPES.get((payload.get("category"), payload.get("subCategory")))
    severity = SEVERITY.get(payload.get("severity") or "")
    loc = payload.get("location") or {}
    if kind is None or severity is None or loc.get("type") != "Point":
        return None
    lon, lat = loc["coordinates"][:2]
    return {"type": kind[0], "subtype": kind[1], "severity": severity, "source": "sensor",
            "source_ref": payload.get("id"), "location": {"lon": lon, "lat": lat},
            "description": f"{payload.get('rule')}: {payload.get('attribute')} = {payload.get('value')} "
                           f"(threshold {payload.get('threshold')}) at {payload.get('source')}"}


def subscribe(bus: InProcessBus, factory: sessionmaker[Session], settings: Settings) -> Any:
    """Subscribe the alert → incident handler; returns the unsubscribe function.

    The bus calls subscribers in the writer's thread after its commit: opening an incident there (camera
    search, deliveries, duplicate check) would hold the sensor upsert's response for milliseconds per
    alert, and an air-quality episode raises hundreds at once. So the subscriber only queues the report
    and one worker thread opens the incidents, in order."""
    from cityhub.governance.audit import bind_actor
    from cityhub.ops.schemas import IncidentCreate
    from cityhub.ops.service_incidents import report_incident

    reports: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()

    def on_alert(_topic: str, payload: dict[str, Any]) -> None:
        report = incident_from_alert(payload)
        if report is not None and settings.ops_sensor_incidents:
            reports.put({**report, "_alert": payload.get("id")})

    def open_incident(report: dict[str, Any]) -> None:
        alert = report.pop("_alert")
        with factory() as db:
            bind_actor(db, SENSOR_ACTOR, request_id="alert")
            ctx = RequestContext(actor=SENSOR_ACTOR, db=db, settings=settings, bus=bus, request_id="alert")
            try:
                report_incident(ctx, data=IncidentCreate(**report))
                db.commit()
            except CityhubError as exc:  # e.g. a sensor outside the city: logged, never the writer's problem
                db.rollback()
                log.info("alert not turned into an incident", extra={"alert": alert, "error": exc.message})

    cut_short = threading.Event()  # shutdown waited long enough: leave the rest (the engine is going away)

    def work() -> None:
        while (report := reports.get()) is not None:
            if cut_short.is_set():
                log.warning("alerts left unopened at shutdown", extra={"left": reports.qsize() + 1})
                return
            try:
                open_incident(report)
            except Exception:  # the worker outlives one bad alert
                log.exception("alert → incident failed", extra={"alert": report.get("_alert")})

    worker = threading.Thread(target=work, name="ops-alert-incidents", daemon=True)
    worker.start()
    unsubscribe = bus.subscribe("alert.raised", on_alert)

    def stop() -> None:
        unsubscribe()
        reports.put(None)  # after what is queued: queued alerts still become incidents
        worker.join(timeout=10)
        if worker.is_alive():  # a long queue: stop after the incident in hand, before the app's engine closes
            cut_short.set()
            worker.join(timeout=10)

    return stop
