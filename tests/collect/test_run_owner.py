"""Two workers on one database: start-up recovery leaves a live worker's runs alone and takes over a dead
worker's runs once its owner lease (renewed by a heartbeat) has expired."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from cityhub import lease
from cityhub.app import create_app
from cityhub.collect import owner, runs, service
from cityhub.collect.models import Run, Source
from cityhub.db import utcnow
from tests.collect.conftest import READING_FIELDS, Collect


def _status(app, run_id: str) -> str:  # noqa: ANN001
    with app.state.session_factory() as db:
        return db.get(Run, run_id).status


def _recover(app) -> list[str]:  # noqa: ANN001
    with app.state.session_factory() as db:
        marked = service.recover(db)
        db.commit()
    return marked


def _lease_expiry(app, holder: str):  # noqa: ANN001, ANN202
    with app.state.session_factory() as db:
        return db.scalar(select(lease.T.c.expires_at).where(lease.T.c.name == owner.PREFIX + holder))


def test_recovery_spares_a_live_workers_run_and_takes_a_dead_ones(collect: Collect,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # The lease is long and the heartbeat quick, so a slow machine never lets a live worker's lease lapse;
    # the dead worker's lease running out is written into the table instead of waited for.
    monkeypatch.setattr(owner, "HEARTBEAT_SECONDS", 0.2)
    src = collect.source("shared", "http", {"url": "http://127.0.0.1:9/items"}, READING_FIELDS, ["id"])
    first = collect.app
    with first.state.session_factory() as db:  # worker 1 is collecting (a run in progress)
        run = runs.start_run(db, db.get(Source, src["id"]), trigger="manual")
        db.commit()
        run_id, holder = run.id, run.worker
    assert holder == owner.owner_for(first.state.engine).holder

    second = create_app(first.state.settings)  # worker 2 starts on the same database
    with TestClient(second):
        assert _status(second, run_id) == "running"  # start-up recovery left worker 1's run alone
        claimed = _lease_expiry(second, holder)
        deadline = time.monotonic() + 30
        while _lease_expiry(second, holder) <= claimed:  # worker 1's heartbeat renews its lease
            assert time.monotonic() < deadline, "the run owner's heartbeat never renewed its lease"
            time.sleep(0.1)
        assert run_id not in _recover(second) and _status(second, run_id) == "running"
        r = collect.client.post(f"/api/v1/sources/{src['name']}/runs", headers=collect.headers)
        assert r.status_code == 409, r.text  # and the source's concurrency limit still counts it

        owner.owner_for(first.state.engine).stop(release=False)  # worker 1 dies (no clean release)
        assert run_id not in _recover(second)  # not before its lease has run out
        with second.state.session_factory() as db:  # ... which it now has (OWNER_TTL later)
            db.execute(update(lease.T).where(lease.T.c.name == owner.PREFIX + holder)
                       .values(expires_at=utcnow() - timedelta(seconds=1)))
            db.commit()
        assert run_id in _recover(second)
        assert _status(second, run_id) == "interrupted"
