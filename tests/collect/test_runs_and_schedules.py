"""Runs across kill -9 (interrupted, resumed from the cursor, no duplicates, no gaps) and DB schedules."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import text

from tests.collect.conftest import READING_FIELDS, Collect

CITYHUB = str(Path(sys.executable).with_name("cityhub"))


def _progress(collect: Collect, name: str) -> dict | None:
    with collect.app.state.engine.connect() as conn:
        row = conn.execute(text(
            "SELECT r.id, r.status, r.rows_inserted FROM collect_runs r JOIN collect_sources s ON s.id = r.source_id "
            "WHERE s.name = :n ORDER BY r.started_at DESC LIMIT 1"), {"n": name}).mappings().first()
    return dict(row) if row else None


def test_kill_9_during_a_run_then_resume_from_the_cursor(sqlite_collect, rest) -> None:
    server, behaviour = rest
    behaviour.total, behaviour.slow = 200, 0.15
    cfg = {"url": f"{server.url}/items", "record_path": "data.items", "paging": "page", "page_size": 10,
           "total_path": "data.total"}
    src = sqlite_collect.source("killme", "http", cfg, READING_FIELDS, ["id"])
    settings = sqlite_collect.app.state.settings
    env = {**os.environ, "CITYHUB_DATA_DIR": str(settings.data_dir), "CITYHUB_DATABASE_URL": settings.database_url,
           "CITYHUB_LOG_JSON": "true"}
    proc = subprocess.Popen([CITYHUB, "source", "run", "killme"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            state = _progress(sqlite_collect, "killme")
            if state and state["rows_inserted"] >= 50:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the run never got going")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    killed = _progress(sqlite_collect, "killme")
    assert killed["status"] == "running"  # nobody could say otherwise: the process died
    behaviour.calls = 0
    resumed = sqlite_collect.run("killme")
    assert resumed["status"] == "succeeded", resumed
    assert resumed["resumed_from"] == killed["id"]
    first = sqlite_collect.client.get(f"/api/v1/runs/{killed['id']}", headers=sqlite_collect.headers).json()
    assert first["status"] == "interrupted" and "interrupted" in first["error"]
    done_pages = first["rows_inserted"] // 10
    assert behaviour.calls == 20 - done_pages  # only the pages the killed run had not committed
    ids = [r["id"] for r in sqlite_collect.rows(src)]
    assert sorted(ids) == list(range(1, 201))  # no gaps, no duplicates


class _Server:
    """`cityhub serve` in its own process on a loopback port, over the test's data dir and database."""

    def __init__(self, collect: Collect) -> None:
        from tests.fakes.server import free_port

        settings = collect.app.state.settings
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "CITYHUB_DATA_DIR": str(settings.data_dir),
                    "CITYHUB_DATABASE_URL": settings.database_url, "CITYHUB_SECRET_KEY": settings.secret_key,
                    "CITYHUB_LOG_JSON": "true", "CITYHUB_COLLECT_SCHEDULER": "true"}
        self.proc: subprocess.Popen | None = None

    def start(self) -> _Server:
        import httpx

        self.proc = subprocess.Popen([CITYHUB, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                                     env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while time.time() < deadline:
            assert self.proc.poll() is None, "the server exited at start-up"
            try:
                if httpx.get(f"{self.url}/api/v1/connectors", timeout=2).status_code < 500:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError("the server did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def test_server_killed_with_sigkill_mid_run_resumes_after_restart(sqlite_collect, rest) -> None:
    """The platform itself (a `cityhub serve` process) runs a harvest in the background and is killed with
    SIGKILL half-way; restarted, it marks the run interrupted and resumes it from its cursor at once:
    only the pages not yet committed are fetched again, and the table has every row exactly once."""
    import httpx

    server, behaviour = rest
    behaviour.total, behaviour.slow = 200, 0.15
    cfg = {"url": f"{server.url}/items", "record_path": "data.items", "paging": "page", "page_size": 10,
           "total_path": "data.total"}
    src = sqlite_collect.source("killserver", "http", cfg, READING_FIELDS, ["id"])
    platform = _Server(sqlite_collect).start()
    try:
        started = httpx.post(f"{platform.url}/api/v1/sources/killserver/runs", params={"wait": "false"},
                             headers=sqlite_collect.headers, timeout=30)
        assert started.status_code == 201, started.text
        run_id = started.json()["id"]
        deadline = time.time() + 120
        while time.time() < deadline:
            state = _progress(sqlite_collect, "killserver")
            if state and state["rows_inserted"] >= 50:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the run never got going")
        platform.kill()
        killed = _progress(sqlite_collect, "killserver")
        assert killed["id"] == run_id and killed["status"] == "running"  # nobody could say otherwise
        done_pages = killed["rows_inserted"] // 10
        assert 0 < done_pages < 20
        behaviour.calls = 0

        platform.start()  # same data dir and database: start-up recovers and resumes
        deadline = time.time() + 180
        while time.time() < deadline:
            runs = httpx.get(f"{platform.url}/api/v1/sources/killserver/runs", headers=sqlite_collect.headers,
                             timeout=30).json()["items"]
            if runs[0]["id"] != run_id and runs[0]["status"] != "running":
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the interrupted run was not resumed after the restart")
    finally:
        platform.kill()
    resumed, first = runs[0], next(r for r in runs if r["id"] == run_id)
    assert first["status"] == "interrupted" and "interrupted" in first["error"]
    assert resumed["status"] == "succeeded" and resumed["trigger"] == "resume", resumed
    assert resumed["resumed_from"] == run_id
    assert first["rows_inserted"] == done_pages * 10  # the killed run's counters are its committed pages
    assert behaviour.calls == 20 - done_pages  # only the pages the killed run had not committed
    assert resumed["rows_inserted"] == 200 - done_pages * 10
    ids = [r["id"] for r in sqlite_collect.rows(src)]
    assert sorted(ids) == list(range(1, 201))  # no gaps, no duplicates


def test_interval_schedule_runs_from_the_database(tmp_path, rest) -> None:
    from fastapi.testclient import TestClient

    from cityhub.app import create_app
    from tests.conftest import People, make_settings

    server, behaviour = rest
    app = create_app(make_settings(tmp_path, collect_scheduler=True, collect_schedule_refresh_seconds=0.3))
    with TestClient(app) as client:
        collect = Collect(client, People(app))
        cfg = {"url": f"{server.url}/items", "record_path": "data.items", "paging": "page", "page_size": 50}
        collect.source("every-second", "http", cfg, READING_FIELDS, ["id"], schedule_kind="interval",
                       schedule_expr="1", update_frequency="hourly")
        deadline = time.time() + 20
        runs: list = []
        while time.time() < deadline and not runs:
            runs = [r for r in client.get("/api/v1/sources/every-second/runs", headers=collect.headers).json()["items"]
                    if r["status"] == "succeeded"]
            time.sleep(0.2)
        assert runs and runs[0]["trigger"] == "schedule"
        source = client.get("/api/v1/sources/every-second", headers=collect.headers).json()
        assert source["health"]["status"] == "ok" and source["health"]["fresh"] is True
        listing = client.get("/api/v1/sources", headers=collect.headers).json()
        assert [s["name"] for s in listing["items"]] == ["every-second"]
        client.patch("/api/v1/sources/every-second", headers=collect.headers, json={"enabled": False})


def test_sources_are_staff_only(sqlite_collect, sqlite_people) -> None:
    citizen = sqlite_people.user("citizen@city.test")
    assert sqlite_collect.client.get("/api/v1/sources", headers=citizen.headers).status_code == 403
    assert sqlite_collect.client.get("/api/v1/sources").status_code == 401
    other = sqlite_people.user("other@city.test", role="steward", org=sqlite_people.org("other-dept"))
    r = sqlite_collect.client.post("/api/v1/sources", headers=other.headers, json={
        "name": "sneaky", "title": "x", "connector": "http", "dataset": sqlite_collect.dataset()["name"],
        "config": {"url": "http://x"}})
    assert r.status_code == 403
