"""SQLite: history (observations, rollups) lives in `<main>-history.db`, under a write lock of its own, so
batch upserts are acknowledged while history is being expanded; a database that had history in the main
file has it moved across once; expansion interrupted between the two files' commits counts nothing twice."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from cityhub.app import create_app
from cityhub.context import history, history_pending, history_store
from cityhub.context.models import PendingHistory
from tests.conftest import People, make_settings
from tests.context.conftest import NGSI, air

EID = "urn:ngsi-ld:AirQualityObserved:busan-0001"


def _iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def _reading(pm25: float, when: datetime) -> dict:
    body = air(1, pm25=pm25)
    body["pm25"]["observedAt"] = body["pm10"]["observedAt"] = _iso(when)
    return body


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as con:
        return {n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _day_count(client: TestClient) -> int:
    r = client.get(f"{NGSI}/temporal/entities/{EID}", params={"attrs": "pm25", "aggrMethods": "totalCount",
                                                              "aggrPeriodDuration": "P1D"})
    assert r.status_code == 200, r.text
    return sum(a[0] for a in r.json()["pm25"]["totalCount"])


def test_history_lives_in_its_own_file_and_upserts_do_not_wait_for_its_lock(sqlite_client, sqlite_writer):
    c, h = sqlite_client, sqlite_writer.headers
    main = c.app.state.settings.data_dir / "cityhub.db"
    side = Path(history_store.side_path(str(main)))
    when = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
    assert c.post(f"{NGSI}/entityOperations/upsert", json=[_reading(5.0, when)], headers=h).status_code == 201
    # while something holds history's write lock (an expansion, a retention run), a batch is still acknowledged
    with history_store.writing(str(side)):
        r = c.post(f"{NGSI}/entityOperations/upsert?options=update",
                   json=[_reading(6.0, when + timedelta(minutes=1))], headers=h)
        assert r.status_code == 204, r.text
    r = c.get(f"{NGSI}/temporal/entities/{EID}", params={"attrs": "pm25"})
    assert [i["value"] for i in r.json()["pm25"]] == [5.0, 6.0]
    assert {"ctx_observations", "ctx_rollups"} <= _tables(side)
    assert not {"ctx_observations", "ctx_rollups"} & _tables(main)
    assert "ctx_entities" in _tables(main)


def test_history_kept_in_the_main_file_is_moved_to_its_own_once(tmp_path: Path):
    from cityhub.migrations.runner import upgrade

    settings = make_settings(tmp_path)
    upgrade(settings)  # Alembic makes the history tables in the main file, as before this change
    main = settings.data_dir / "cityhub.db"
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    stamp = history.sqlite_text(day + timedelta(hours=3))
    with sqlite3.connect(main) as con:
        con.execute("INSERT INTO ctx_observations VALUES (?, 'pm25', ?, 41.0, NULL, 'AirQualityObserved')",
                    (EID, stamp))
        con.execute("INSERT INTO ctx_rollups VALUES (?, 'pm25', 'd', ?, 1, 41.0, 41.0, 41.0, 'AirQualityObserved')",
                    (EID, history.sqlite_text(day)))
    with TestClient(create_app(settings)) as c:
        h = People(c.app).user("w@city.test", role="operator").headers
        assert _day_count(c) == 1
        r = c.get(f"{NGSI}/temporal/entities/{EID}", params={"attrs": "pm25"})
        assert [i["value"] for i in r.json()["pm25"]] == [41.0]
        when = datetime.now(UTC) - timedelta(minutes=3)
        assert c.post(f"{NGSI}/entityOperations/upsert", json=[_reading(7.0, when)], headers=h).status_code == 201
        assert _day_count(c) == 2
    assert not {"ctx_observations", "ctx_rollups"} & _tables(main)
    with TestClient(create_app(settings)) as c:  # and again: nothing moved twice
        assert _day_count(c) == 2


def test_expansion_cut_between_its_two_commits_counts_nothing_twice(sqlite_client, sqlite_writer):
    c, h = sqlite_client, sqlite_writer.headers
    c.app.state.context_history_writer.stop()
    when = datetime.now(UTC) - timedelta(minutes=4)
    assert c.post(f"{NGSI}/entityOperations/upsert", json=[_reading(9.0, when)], headers=h).status_code == 201
    db = c.app.state.session_factory()
    try:
        docs = [d for (d,) in db.execute(PendingHistory.__table__.select().with_only_columns(
            PendingHistory.__table__.c.readings))]
        side = history_store.side_of(db.connection())
    finally:
        db.close()
    assert side and docs
    with history_store.writing(side) as own:  # history committed, then the process died: the row is still pending
        assert history.fold_sqlite_docs(own, docs) == 2
    db = c.app.state.session_factory()
    try:
        assert history_pending.pending_count(db) == 2
        history_pending.settle(db)
        assert history_pending.pending_count(db) == 0
    finally:
        db.close()
    assert _day_count(c) == 1
