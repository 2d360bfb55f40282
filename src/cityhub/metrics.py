"""Prometheus metrics shared by all domains (one set per process)."""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select

REQUEST_LATENCY = Histogram(
    "cityhub_request_seconds", "HTTP request latency", ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DATASTORE_ROWS = Gauge("cityhub_datastore_rows", "rows held in datastore tables")
IMPORTS = Counter("cityhub_imports_total", "datastore imports", ["outcome"])
IMPORT_ROWS = Counter("cityhub_import_rows_total", "rows imported into the datastore")
DATASTORE_TABLES = Gauge("cityhub_datastore_tables", "resources whose rows live in the datastore")
IN_FLIGHT = Gauge("cityhub_requests_in_flight", "HTTP requests being served by this process")

log = logging.getLogger("cityhub.metrics")
# Domains' scrape-time gauges: each called with the session factory at every scrape (see refresh_from_database).
REFRESHERS: list[Any] = []


def refresh_from_database(session_factory: Any) -> None:
    """Set the datastore gauges from the catalog at scrape time: one cheap aggregate over `resources`,
    so every worker reports the same truth and nothing is kept in process memory."""
    from cityhub.catalog.models import Resource

    try:
        with session_factory() as db:
            rows, tables = db.execute(
                select(func.coalesce(func.sum(Resource.row_count), 0), func.count())
                .where(Resource.datastore_active.is_(True), Resource.state == "active")
            ).one()
    except Exception as exc:  # noqa: BLE001 - a scrape still answers (the gauges keep their last value)
        log.warning("metrics: could not read datastore totals", extra={"error": str(exc)[:300]})
        return
    DATASTORE_ROWS.set(int(rows or 0))
    DATASTORE_TABLES.set(int(tables or 0))
    for refresh in REFRESHERS:
        try:
            refresh(session_factory)
        except Exception as exc:  # noqa: BLE001 - one domain's gauges failing must not fail the scrape
            log.warning("metrics: a refresher failed", extra={"error": str(exc)[:300]})


def render() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST
