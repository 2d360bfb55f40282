"""Operability: health with a database check, Prometheus metrics that match the catalog, JSON access logs
that carry the request id, and a graceful shutdown that never leaves half an import behind."""

from __future__ import annotations

import io
import json
import logging

from sqlalchemy import create_engine

from cityhub.logs import JsonFormatter

CSV = "구,인구\n중구,40000\n동구,88000\n서구,105000\n".encode()


def test_healthz_checks_the_database(client) -> None:  # noqa: ANN001
    ok = client.get("/healthz")
    assert ok.status_code == 200 and ok.json() == {"status": "ok", "checks": {"database": "ok"}}
    app = client.app
    healthy = app.state.engine
    # a database that stops answering (nothing listens on port 9 of loopback)
    app.state.engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2")
    try:
        down = client.get("/healthz")
    finally:
        app.state.engine.dispose()
        app.state.engine = healthy
    assert down.status_code == 503
    assert down.json()["status"] == "unavailable" and "OperationalError" in down.json()["checks"]["database"]
    assert client.get("/healthz").status_code == 200  # and it recovers with the database


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in metrics")


def test_metrics_report_latency_datastore_rows_and_imports(client, people) -> None:  # noqa: ANN001
    people.org("stats", "통계과")
    steward = people.user("steward@city.test", role="steward", org="stats")
    before = client.get("/metrics").text
    assert _metric(before, "cityhub_datastore_rows") == 0
    imported_before = _metric(before, 'cityhub_imports_total{outcome="ok"}') if 'outcome="ok"' in before else 0
    client.post("/api/v1/datasets", json={"owner_org": "stats", "name": "pop", "title": "인구"},
                headers=steward.headers)
    for name in ("a.csv", "b.csv"):
        up = client.post("/api/v1/datasets/pop/resources", files={"upload": (name, CSV)}, headers=steward.headers)
        assert up.status_code == 201, up.text
    # a failed import counts as failed and adds no rows
    bad = client.post("/api/v1/datasets/pop/resources", files={"upload": ("bad.csv", b"a,b\n1,2,3,4\n")},
                      headers=steward.headers)
    assert bad.status_code in (400, 409, 422)
    text = client.get("/metrics").text
    assert _metric(text, "cityhub_datastore_rows") == 6
    assert _metric(text, "cityhub_datastore_tables") == 2
    assert _metric(text, 'cityhub_imports_total{outcome="ok"}') >= imported_before + 2
    assert 'cityhub_request_seconds_count{method="POST",route="/api/v1/datasets/{id_or_name}/resources",' in text
    resource_id = client.get("/api/v1/datasets/pop").json()["resources"][0]["id"]
    assert client.delete(f"/api/v1/resources/{resource_id}", headers=steward.headers).status_code == 204
    assert _metric(client.get("/metrics").text, "cityhub_datastore_rows") == 3


def test_access_log_lines_are_json_with_the_request_id(sqlite_client) -> None:  # noqa: ANN001
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("cityhub")
    logger.addHandler(handler)
    try:
        answered = sqlite_client.get("/api/v1/datasets", headers={"X-Request-Id": "trace-2026-abc"})
        sqlite_client.get("/healthz", headers={"X-Request-Id": "bad id\nforged: line"})
        sqlite_client.get("/no/such/page")
    finally:
        logger.removeHandler(handler)
    assert answered.headers["x-request-id"] == "trace-2026-abc"
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    access = [line for line in lines if line["logger"] == "cityhub.access"]
    mine = next(line for line in access if line["path"] == "/api/v1/datasets")
    assert mine["request_id"] == "trace-2026-abc" and mine["method"] == "GET" and mine["status"] == 200
    assert mine["level"] == "info" and isinstance(mine["ms"], float)
    health = next(line for line in access if line["path"] == "/healthz")
    assert "\n" not in health["request_id"] and health["request_id"] != "bad id\nforged: line"
    assert next(line for line in access if line["path"] == "/no/such/page")["status"] == 404
