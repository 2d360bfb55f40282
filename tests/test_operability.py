"""Operability: health with a database check, Prometheus metrics that match the catalog, JSON access logs
that carry the request id, and a graceful shutdown that never leaves half an import behind."""

from __future__ import annotations

import functools
import http.client
import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, inspect

from cityhub.app import create_app
from cityhub.logs import JsonFormatter
from cityhub.settings import Settings
from tests.conftest import People, free_port

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


def test_shutdown_drain_waits_for_requests_in_flight_but_not_forever(sqlite_client) -> None:  # noqa: ANN001
    import asyncio

    from cityhub.app import _drain

    app = sqlite_client.app

    async def finish_later() -> float:
        app.state.in_flight += 1
        loop = asyncio.get_running_loop()
        loop.call_later(0.3, lambda: setattr(app.state, "in_flight", app.state.in_flight - 1))
        started = time.monotonic()
        await _drain(app, grace_seconds=10)
        return time.monotonic() - started

    assert 0.25 < asyncio.run(finish_later()) < 5  # returned as soon as the request finished
    app.state.in_flight += 1  # a request that never ends: the drain gives up after its grace period
    try:
        started = time.monotonic()
        asyncio.run(_drain(app, grace_seconds=0.3))
        assert 0.25 < time.monotonic() - started < 5
    finally:
        app.state.in_flight -= 1


def test_startup_sweep_removes_only_old_unreferenced_uploads(client, people) -> None:  # noqa: ANN001
    from cityhub.recovery import sweep_orphan_uploads

    people.org("ops", "운영과")
    steward = people.user("s@ops.test", role="steward", org="ops")
    client.post("/api/v1/datasets", json={"owner_org": "ops", "name": "kept", "title": "보관"}, headers=steward.headers)
    kept = client.post("/api/v1/datasets/kept/resources", files={"upload": ("a.pdf", b"%PDF kept")},
                       headers=steward.headers).json()
    settings = client.app.state.settings
    files = settings.files_dir
    old_orphan, young_orphan = files / "ab" / ("ab" + "0" * 62), files / "cd" / ("cd" + "1" * 62)
    for path in (old_orphan, young_orphan):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"left by an import that never committed")
    stale_tmp = settings.data_dir / "tmp" / "upload-stale"
    stale_tmp.write_bytes(b"half an upload")
    an_hour_ago = time.time() - 7200
    for path in (old_orphan, stale_tmp, files / kept["sha256"][:2] / kept["sha256"]):
        os.utime(path, (an_hour_ago, an_hour_ago))
    assert sweep_orphan_uploads(settings, client.app.state.session_factory) == 2
    assert not old_orphan.exists() and not stale_tmp.exists()
    assert young_orphan.exists()  # another worker may still be importing it
    assert (files / kept["sha256"][:2] / kept["sha256"]).exists()
    assert client.get(f"/api/v1/resources/{kept['id']}/file").content == b"%PDF kept"


# --- graceful shutdown of a real `cityhub serve` --------------------------------------------------------


UUID_TABLE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@functools.cache
def _rows_csv(n: int) -> bytes:
    lines = ["번호,구,측정값,측정일"]
    lines += [f"{i},{'중구' if i % 2 else '해운대구'},{i * 0.5},2024-01-{i % 28 + 1:02d}" for i in range(n)]
    return ("\n".join(lines) + "\n").encode()


class Serve:
    """`cityhub serve` in a subprocess with its own data dir and database, stderr kept for inspection."""

    def __init__(self, settings: Settings, tmp_path: Path, grace: float) -> None:
        self.settings = settings
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "CITYHUB_DATA_DIR": str(settings.data_dir),
                    "CITYHUB_DATABASE_URL": settings.database_url, "CITYHUB_SECRET_KEY": "test-secret",
                    "CITYHUB_SHUTDOWN_GRACE_SECONDS": str(grace), "CITYHUB_COLLECT_SCHEDULER": "false"}
        self.cli = str(Path(sys.executable).parent / "cityhub")
        self.log_path = tmp_path / "serve.log"

    def start(self) -> None:
        self.log = self.log_path.open("ab")
        self.proc = subprocess.Popen([self.cli, "serve", "--port", str(self.port)], env=self.env,
                                     stdout=self.log, stderr=self.log)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.proc.kill()
        raise AssertionError("cityhub serve did not come up: " + self.log_path.read_text())

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.kill()
        code = self.proc.wait(timeout=30)
        self.log.close()
        return code


def _slow_upload(url: str, token: str, content: bytes, chunks: int, pause: float, progress: list[int],
                 outcome: dict) -> None:
    """POST a multipart upload a chunk at a time, like a slow mobile link."""
    boundary = "cityhub-" + uuid.uuid4().hex
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="upload"; filename="rows.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    parsed = urlsplit(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
    try:
        conn.putrequest("POST", "/api/v1/datasets/shutdown-test/resources")
        conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
        conn.putheader("Content-Length", str(len(head) + len(content) + len(tail)))
        conn.putheader("Authorization", f"Bearer {token}")
        conn.putheader("X-Request-Id", "slow-upload-1")
        conn.endheaders()
        conn.send(head)
        step = -(-len(content) // chunks)
        for i in range(0, len(content), step):
            conn.send(content[i:i + step])
            progress.append(i)
            time.sleep(pause)
        conn.send(tail)
        response = conn.getresponse()
        outcome["status"] = response.status
        outcome["body"] = response.read().decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as exc:
        outcome["error"] = repr(exc)
    finally:
        conn.close()


def _upload_during_sigterm(settings: Settings, tmp_path: Path, *, grace: float, rows: int, chunks: int,
                           pause: float, signal_after_chunks: int, then_wait: float = 0.0,
                           sig: int = signal.SIGTERM) -> tuple[dict, Serve]:
    with TestClient(create_app(settings)) as client:  # accounts and the dataset, made in-process (fast)
        people = People(client.app)
        people.org("ops", "운영과")
        token = people.user("s@ops.test", role="steward", org="ops").token
        made = client.post("/api/v1/datasets", headers={"Authorization": f"Bearer {token}"},
                           json={"owner_org": "ops", "name": "shutdown-test", "title": "종료 시험"})
        assert made.status_code == 201, made.text
    server = Serve(settings, tmp_path, grace)
    server.start()
    progress: list[int] = []
    outcome: dict = {}
    uploader = threading.Thread(target=_slow_upload, args=(server.url, token, _rows_csv(rows), chunks, pause,
                                                          progress, outcome))
    uploader.start()
    while len(progress) < signal_after_chunks and uploader.is_alive():
        time.sleep(0.01)
    time.sleep(then_wait)
    server.proc.send_signal(sig)
    uploader.join(timeout=180)
    # A hang guard, not a timing: an import past the grace period still runs to its commit or rollback in
    # its worker thread before the process can exit, which on a loaded 2-core machine took over 60 s.
    outcome["exit_code"] = server.proc.wait(timeout=240)
    server.stop()
    # uvicorn re-raises the SIGTERM after its graceful shutdown, so the exit code is -15; the app's own
    # last line proves the lifespan's shutdown (drain, hooks, engine disposal) ran to the end.
    log = [json.loads(line) for line in server.log_path.read_text().splitlines() if line.startswith("{")]
    outcome["stopped"] = any(line["message"] == "stopped" for line in log)
    outcome["log"] = log
    return outcome, server


def _what_is_left(settings: Settings) -> tuple[list[dict], list[str], list[Path]]:
    """Resources of the test dataset, datastore tables in the database, and stored files, after a restart
    (whose recovery sweep may remove uploads nothing references; no age limit here)."""
    restarted = settings.model_copy(update={"orphan_upload_min_age_seconds": 0})
    with TestClient(create_app(restarted)) as client:
        resources = client.get("/api/v1/datasets/shutdown-test").json()["resources"]
        for res in resources:
            res["total"] = client.get(f"/api/v1/datastore/{res['id']}", params={"limit": 0}).json()["total"]
        tables = [t for t in inspect(client.app.state.engine).get_table_names() if UUID_TABLE.match(t)]
    stored = [p for p in (settings.data_dir / "files").rglob("*") if p.is_file()]
    return resources, tables, stored


def test_sigterm_lets_an_upload_in_flight_finish(settings: Settings, tmp_path: Path) -> None:
    outcome, server = _upload_during_sigterm(settings, tmp_path, grace=30, rows=50_000, chunks=20, pause=0.05,
                                             signal_after_chunks=4)
    assert outcome["exit_code"] in (0, -signal.SIGTERM) and outcome["stopped"], outcome
    assert outcome.get("status") == 201, outcome  # acknowledged after SIGTERM arrived ...
    resources, tables, stored = _what_is_left(settings)
    assert len(resources) == 1 and resources[0]["row_count"] == 50_000 and resources[0]["total"] == 50_000
    assert tables == [resources[0]["id"]] and len(stored) == 1  # ... and kept, with every row
    access = [line for line in outcome["log"]
              if line.get("request_id") == "slow-upload-1" and line["logger"] == "cityhub.access"]
    assert access and access[0]["status"] == 201


def test_sigterm_past_the_grace_period_leaves_nothing_behind(settings: Settings, tmp_path: Path) -> None:
    outcome, _ = _upload_during_sigterm(settings, tmp_path, grace=1, rows=50_000, chunks=40, pause=0.1,
                                        signal_after_chunks=3)
    assert outcome["exit_code"] in (0, -signal.SIGTERM) and outcome["stopped"], outcome
    assert "status" not in outcome or outcome["status"] >= 500, outcome  # never acknowledged ...
    resources, tables, stored = _what_is_left(settings)
    assert resources == [] and tables == [] and stored == []  # ... and nothing half-written remains
    assert not list((settings.data_dir / "tmp").glob("upload-*"))


@pytest.mark.parametrize("how", ["sigterm-past-grace", "sigkill"])
def test_an_import_cut_short_commits_all_or_nothing(settings: Settings, tmp_path: Path, how: str) -> None:
    """The body has arrived and the import is running when the process is told to stop (SIGTERM with a 1 s
    grace) or dies (SIGKILL): afterwards the resource exists with every row, or nothing exists at all."""
    sig = signal.SIGKILL if how == "sigkill" else signal.SIGTERM
    outcome, _ = _upload_during_sigterm(settings, tmp_path, grace=1, rows=150_000, chunks=4, pause=0,
                                        signal_after_chunks=4, then_wait=0.2, sig=sig)
    if how == "sigkill":
        assert outcome["exit_code"] == -signal.SIGKILL and "status" not in outcome, outcome
    else:
        assert outcome["exit_code"] in (0, -signal.SIGTERM) and outcome["stopped"], outcome
    resources, tables, stored = _what_is_left(settings)
    if outcome.get("status") == 201 or resources:
        # Complete. Acknowledged (201), or committed in the worker thread while the cancelled request could
        # no longer answer (a 500 the client may retry): either way every row is there.
        assert len(resources) == 1 and resources[0]["total"] == 150_000 and tables == [resources[0]["id"]], outcome
    else:  # cut short: the transaction rolled back and the restart swept the unreferenced upload
        assert resources == [] and tables == [] and stored == [], outcome


def test_sigterm_ends_open_event_streams_without_waiting_out_the_grace_period(sqlite_settings, tmp_path) -> None:  # noqa: ANN001
    """An event stream never ends by itself: on SIGTERM it is ended cleanly (its client reconnects to the
    next process with Last-Event-ID) instead of holding the restart for the whole grace period and then
    being cancelled. The grace period here (300 s) is longer than the wait below, which only guards a hang."""
    server = Serve(sqlite_settings, tmp_path, grace=300)
    server.start()
    lines: list[str] = []
    outcome: dict = {}

    def listen() -> None:
        try:
            with httpx.stream("GET", f"{server.url}/api/v1/context/events",
                              timeout=httpx.Timeout(10, read=600)) as r:
                for line in r.iter_lines():
                    lines.append(line)
            outcome["ended"] = "cleanly"
        except httpx.HTTPError as exc:
            outcome["ended"] = repr(exc)

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    deadline = time.monotonic() + 60
    while ": connected" not in lines and time.monotonic() < deadline:
        time.sleep(0.02)
    assert ": connected" in lines
    server.proc.send_signal(signal.SIGTERM)
    try:
        code = server.proc.wait(timeout=120)
    finally:
        server.stop()
    listener.join(timeout=30)
    assert code in (0, -signal.SIGTERM) and outcome.get("ended") == "cleanly", outcome
    log = server.log_path.read_text()
    stopped = [json.loads(line) for line in log.splitlines() if line.startswith("{") and '"stopped"' in line]
    assert "timeout graceful shutdown exceeded" not in log and stopped, log[-2000:]


def test_metrics_are_for_the_scraper_only(sqlite_settings) -> None:  # noqa: ANN001
    from fastapi.testclient import TestClient

    from cityhub.app import create_app

    sqlite_settings.metrics_token = "scrape-me"
    with TestClient(create_app(sqlite_settings)) as c:
        assert c.get("/metrics").status_code == 403
        assert c.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
        ok = c.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
        assert ok.status_code == 200 and "cityhub_request_seconds" in ok.text
