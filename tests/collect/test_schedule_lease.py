"""Several workers on one database: each schedule runs in the worker holding the collect:schedules lease."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from cityhub.app import create_app
from cityhub.collect import schedules
from tests.collect.conftest import READING_FIELDS, Collect
from tests.conftest import People, make_settings


def test_two_workers_run_a_schedule_in_one_of_them(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list = []
    monkeypatch.setattr(schedules, "run_scheduled", lambda factory, *args: ran.append(factory))
    settings = make_settings(tmp_path, collect_scheduler=True, collect_schedule_refresh_seconds=0.2)
    apps = [create_app(settings), create_app(settings)]
    clients = [TestClient(app).__enter__() for app in apps]
    try:
        collect = Collect(clients[0], People(apps[0]))
        cfg = {"url": "http://127.0.0.1:9/items", "record_path": "data.items"}
        collect.source("every-second", "http", cfg, READING_FIELDS, ["id"], schedule_kind="interval",
                       schedule_expr="1", update_frequency="hourly")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(ran) < 4:
            time.sleep(0.1)
        factories = {id(app.state.session_factory): n for n, app in enumerate(apps)}
        workers = {factories[id(f)] for f in ran}
        assert len(ran) >= 4 and len(workers) == 1, (len(ran), workers)  # both schedule it; one runs it
        holder = workers.pop()
        clients.pop(holder).__exit__(None, None, None)  # the holder stops and gives the lease up
        seen = len(ran)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(ran) < seen + 3:
            time.sleep(0.1)
        assert {factories[id(f)] for f in ran[seen + 1:]} == {1 - holder}  # the other worker took over
    finally:
        for client in clients:
            client.__exit__(None, None, None)
