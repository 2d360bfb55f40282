"""Scheduled upkeep runs in one worker when several share a database (the job lease)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from cityhub import lease
from cityhub.app import create_app
from cityhub.context import jobs
from cityhub.settings import Settings


def _wait_for(check, seconds: float = 10.0) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_lease_is_taken_renewed_refused_and_taken_over_after_expiry(client, app) -> None:  # noqa: ANN001
    factory = app.state.session_factory
    hour = timedelta(hours=1)
    with factory() as db:
        assert lease.take(db, "t:one", "worker-a", hour)
        assert not lease.take(db, "t:one", "worker-b", hour)  # a's lease is live
        assert lease.take(db, "t:one", "worker-a", hour)  # the holder renews
        assert lease.take(db, "t:two", "worker-b", hour)  # another name is another lease
        lease.take(db, "t:one", "worker-a", -hour)  # renewed into the past: as if a stopped renewing
        assert lease.take(db, "t:one", "worker-b", hour)  # expired: b takes over
        assert not lease.take(db, "t:one", "worker-a", hour)
        lease.release(db, "t:one", "worker-a")  # not the holder: changes nothing
        assert not lease.take(db, "t:one", "worker-a", hour)
        lease.release(db, "t:one", "worker-b")
        assert lease.take(db, "t:one", "worker-a", hour)  # released: free at once


def test_two_workers_on_one_database_run_retention_in_one_of_them(settings: Settings,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings.model_copy(update={"context_retention_interval_seconds": 0.2})
    runs: list[str] = []
    monkeypatch.setattr(jobs, "run_retention", lambda app: runs.append(app.state.worker_name))
    apps = {"first": create_app(settings), "second": create_app(settings)}
    clients = {}
    try:
        for name, app in apps.items():
            app.state.worker_name = name
            clients[name] = TestClient(app).__enter__()
        # both workers run the scheduler; the lease lets one of them run the job
        assert _wait_for(lambda: len(runs) >= 8)
        assert len(set(runs)) == 1, runs
        holder = runs[0]
        other = "second" if holder == "first" else "first"
        with apps[other].state.session_factory() as db:
            row = db.get(lease.JobLease, jobs.LEASE)
            assert row is not None and row.holder == apps[holder].state.context_jobs_lease.holder
        # the holder stops (its shutdown releases the lease): the other worker takes the job over
        clients.pop(holder).__exit__(None, None, None)
        seen = len(runs)
        assert _wait_for(lambda: runs[seen:].count(other) >= 3), runs
        assert runs[seen + 1:].count(holder) == 0, runs  # at most a run already under way when it stopped
    finally:
        for c in clients.values():
            c.__exit__(None, None, None)
