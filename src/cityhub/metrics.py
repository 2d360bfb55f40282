"""Prometheus metrics shared by all domains (one set per process)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

REQUEST_LATENCY = Histogram(
    "cityhub_request_seconds", "HTTP request latency", ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DATASTORE_ROWS = Gauge("cityhub_datastore_rows", "rows held in datastore tables")
IMPORTS = Counter("cityhub_imports_total", "datastore imports", ["outcome"])
IMPORT_ROWS = Counter("cityhub_import_rows_total", "rows imported into the datastore")


def render() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST
