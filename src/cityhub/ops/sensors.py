"""Sensor alerts become incidents: a bus subscriber on `alert.raised` (high and critical only).

The alert's category/subCategory (FIWARE Alert) map to an incident type; a traffic jam is not an
incident. Repeated or escalating alerts of the same place link to the open incident (duplicate
detection), so a rising river makes one flood incident with several reports.
"""

from __future__ import annotations

import logging
import queue
import threading
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from cityhub.bus import InProcessBus
from cityhub.ctx import Actor, RequestContext
from cityhub.errors import CityhubError
from cityhub.lease import Lease
from cityhub.ops import inbound_retention
from cityhub.ops.alert_recovery import LEASE, claim, claim_key, unopened
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
    and one worker thread opens the incidents, in order. The queue is not the record: each raise is claimed
    in its incident's transaction, and a sweep (`alert_recovery`) queues raises a killed process left."""
    reports: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()

    def on_alert(_topic: str, payload: dict[str, Any]) -> None:
        report = incident_from_alert(payload)
        if report is not None and settings.ops_sensor_incidents:
            reports.put({**report, "_alert": payload.get("id"), "_key": claim_key(payload["id"], payload.get("at"))})

    def open_incident(report: dict[str, Any]) -> None:
        open_report(factory, settings, bus, report)

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
    stop_sweeps = start_sweeps(factory, settings, bus, lambda payload: on_alert("alert.raised", payload))

    def stop() -> None:
        unsubscribe()
        stop_sweeps()
        reports.put(None)  # after what is queued: queued alerts still become incidents
        worker.join(timeout=10)
        if worker.is_alive():  # a long queue: stop after the incident in hand, before the app's engine closes
            cut_short.set()
            worker.join(timeout=10)

    return stop


def open_report(factory: sessionmaker[Session], settings: Settings, bus: InProcessBus,
                report: dict[str, Any]) -> bool:
    """Open (or link) the incident of one queued raise, once: False when its claim was already taken."""
    from cityhub.governance.audit import bind_actor
    from cityhub.ops.schemas import IncidentCreate
    from cityhub.ops.service_incidents import report_incident

    alert, key = report.pop("_alert"), report.pop("_key")
    with factory() as db:
        bind_actor(db, SENSOR_ACTOR, request_id="alert")
        ctx = RequestContext(actor=SENSOR_ACTOR, db=db, settings=settings, bus=bus, request_id="alert")
        if not claim(db, SENSOR_ACTOR.user_id, key, 201):
            db.rollback()
            return False
        try:
            report_incident(ctx, data=IncidentCreate(**report))
            db.commit()
            return True
        except CityhubError as exc:  # e.g. a sensor outside the city: logged, never the writer's problem
            db.rollback()
            log.info("alert not turned into an incident", extra={"alert": alert, "error": exc.message})
        claim(db, SENSOR_ACTOR.user_id, key, 422)  # answered: the sweep does not retry it every minute
        db.commit()
        return False


def sweep(factory: sessionmaker[Session], settings: Settings, bus: InProcessBus, queue_alert: Any) -> int:
    """Queue the qualifying alerts of the window that have no incident yet; returns how many."""
    with factory() as db:
        ctx = RequestContext(actor=SENSOR_ACTOR, db=db, settings=settings, bus=bus, request_id="alert-sweep")
        found = unopened(ctx, SENSOR_ACTOR.user_id)
    for payload in found:
        queue_alert(payload)
    if found:
        log.warning("alerts recovered for incidents", extra={"count": len(found)})
    return len(found)


def start_sweeps(factory: sessionmaker[Session], settings: Settings, bus: InProcessBus, queue_alert: Any) -> Any:
    """Sweep once now (any worker: a restart after kill -9 recovers at once; claims keep it single), then
    on a timer in the worker holding the sweep lease, which also prunes old inbound requests (see
    `inbound_retention`). Returns the stop function."""
    every = settings.ops_alert_sweep_seconds
    lease = Lease(factory, LEASE, ttl=timedelta(seconds=max(3 * every, 30)))
    stopping = threading.Event()

    def run() -> None:
        first = True
        while first or not stopping.wait(every):
            held = lease.hold()
            if settings.ops_sensor_incidents and (first or held):
                try:
                    sweep(factory, settings, bus, queue_alert)
                except Exception:  # noqa: BLE001 — the next sweep tries again
                    log.exception("alert sweep failed")
            if held:  # old idempotency keys and claims go, in one worker (they pile up even with sensors off)
                try:
                    inbound_retention.prune(factory, settings)
                except Exception:  # noqa: BLE001 — the next run tries again
                    log.exception("ops inbound retention failed")
            first = False
            if every <= 0:
                return

    thread = threading.Thread(target=run, name="ops-alert-sweep", daemon=True)
    thread.start()

    def stop() -> None:
        stopping.set()
        thread.join(timeout=10)
        lease.release()

    return stop
