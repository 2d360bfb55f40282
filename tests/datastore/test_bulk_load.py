"""Big-file loading paths on SQLite — preload (ADBC straight into the database file, adopted by the request's
transaction) and the scratch database (ADBC + transfer copy) — give exactly the rows executemany gives, leave
no scratch file, attached database or `_loading_` table, and a failure after the rows leaves nothing.
The index plan builds a (filter, time) index only where some filter value is rare."""

from __future__ import annotations

import subprocess
import sys
import time

import pyarrow as pa
import pytest
import sqlalchemy as sa

from cityhub.context import history_store
from cityhub.datastore import store_sqlite
from cityhub.datastore.infer import TypedColumn, TypedTable
from cityhub.datastore.tables import index_plan
from cityhub.governance import audit_store
from tests.datastore.helpers import leftovers, make_desk

pytest.importorskip("adbc_driver_sqlite")

HEADER = '구명,"select","a ""quoted"" name",측정일시,측정일,값,건수,맑음\n'


def _csv(rows: int) -> bytes:
    districts = ["중구", "서구", "동구", "해운대구"]
    lines = [HEADER]
    for i in range(rows):
        value = "N/A" if i % 7 == 3 else f"{i * 0.5:.1f}"
        lines.append(f"{districts[i % 4]},코드{i % 3},{i},2024-01-{1 + i % 28:02d} {i % 24:02d}:00,"
                     f"2024.1.{1 + i % 28},{value},{i * 3},{'true' if i % 2 else 'FALSE'}\n")
    return "".join(lines).encode()


@pytest.fixture
def desk(sqlite_client, sqlite_people):  # noqa: ANN001, ANN201
    return make_desk(sqlite_client, sqlite_people)


def _all_rows(desk, resource_id):  # noqa: ANN001, ANN202
    body = desk.rows(resource_id, limit=1000, sort="_id")
    return body["fields"], body["records"], body["total"]


def _rows_seen_by_another_process(desk, table: str) -> int:  # noqa: ANN001
    database = desk.client.app.state.engine.url.database
    script = (f"import sqlite3; db = sqlite3.connect({database!r}); "
              f"print(db.execute('SELECT count(*) FROM \"{table}\"').fetchone()[0])")
    return int(subprocess.run([sys.executable, "-c", script], capture_output=True, check=True, text=True).stdout)


def _big_paths(monkeypatch, path: str) -> list[str]:  # noqa: ANN001
    """Send every load down the big-file `path` ("preload" or "scratch"); returns the paths taken."""
    monkeypatch.setattr(store_sqlite, "SCRATCH_MIN_ROWS", 1)
    monkeypatch.setattr(store_sqlite, "PRELOAD_MIN_ROWS", 1)
    used: list[str] = []
    if path == "scratch":
        monkeypatch.setattr(store_sqlite, "can_preload", lambda *_: False)
    for name, label in (("start_preload", "preload"), ("_fill_scratch", "scratch")):
        real = getattr(store_sqlite, name)
        monkeypatch.setattr(store_sqlite, name, lambda *a, _real=real, _label=label, **k: (
            used.append(_label), _real(*a, **k))[1])
    return used


@pytest.mark.parametrize("path", ["preload", "scratch"])
def test_big_load_matches_executemany(desk, monkeypatch, path):  # noqa: ANN001
    content = _csv(300)
    monkeypatch.setattr(store_sqlite, "SCRATCH_MIN_ROWS", 10**9)
    plain = desk.load("plain.csv", content)
    used = _big_paths(monkeypatch, path)
    fast = desk.load("fast.csv", content)
    assert used == [path]
    assert _all_rows(desk, fast) == _all_rows(desk, plain)
    fields, records, total = _all_rows(desk, fast)
    assert total == 300 and records[3]["값"] is None and records[1]["맑음"] is True
    assert {f["id"]: f["type"] for f in fields}["측정일"] == "date" and records[0]["측정일"] == "2024-01-01"
    assert records[2]['a "quoted" name'] == 2 and records[2]["select"] == "코드2"
    left = leftovers(desk.client)
    assert left["tmp"] == [] and left["loading"] == [] and fast in left["tables"]
    assert _rows_seen_by_another_process(desk, fast) == 300  # committed to the file, not only to our cache
    with desk.client.app.state.engine.connect() as conn:  # the pooled connection came back detached
        attached = [row[1] for row in conn.exec_driver_sql("PRAGMA database_list")]
    # no scratch database stays attached (governance's read-audit side file is attached to every connection)
    assert [a for a in attached if a not in ("main", "temp", audit_store.SCHEMA, history_store.SCHEMA)] == []


@pytest.mark.parametrize("path", ["preload", "scratch"])
def test_big_load_failure_after_the_rows_leaves_nothing(desk, monkeypatch, path):  # noqa: ANN001
    used = _big_paths(monkeypatch, path)

    def broken(*_args, **_kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("disk full while building the text index")

    monkeypatch.setattr(store_sqlite, "build_text_index", broken)
    before = leftovers(desk.client)
    with pytest.raises(RuntimeError):
        desk.upload("broken.csv", _csv(50))
    assert used == [path]
    after = leftovers(desk.client)
    assert after["tables"] == before["tables"] and after["resources"] == before["resources"]
    assert after["registered"] == before["registered"] and after["tmp"] == [] and after["loading"] == []
    monkeypatch.undo()
    assert desk.upload("ok.csv", _csv(50)).status_code == 201  # the server keeps serving


def test_preloaded_rows_refused_by_governance_leave_nothing(desk, monkeypatch):  # noqa: ANN001
    """Personal data in a public dataset is refused before any row is loaded: nothing is left."""
    used = _big_paths(monkeypatch, "preload")
    before = leftovers(desk.client)
    people = "성명,연락처,구명\n" + "".join(f"김철수{i},010-1234-{i:04d},중구\n" for i in range(60))
    response = desk.upload("people.csv", people.encode())
    assert response.status_code == 409, response.text
    assert used == [] and "연락처" in response.json()["errors"]
    after = leftovers(desk.client)
    assert after["tables"] == before["tables"] and after["loading"] == [] and after["registered"] == 0


def test_screened_rows_replace_the_preload(desk, monkeypatch):  # noqa: ANN001
    """When governance treats columns on the way in, the treated rows are what gets (pre)loaded."""
    from cityhub.datastore import service
    from cityhub.governance import guard

    used = _big_paths(monkeypatch, "preload")
    real = service._screen

    def treating(ctx, resource, raw):  # noqa: ANN001, ANN202
        ctx.extra[guard.TREATMENTS_KEY] = {"select": "drop"}
        return real(ctx, resource, raw)

    monkeypatch.setattr(service, "_screen", treating)
    resource_id = desk.load("treated.csv", _csv(120))
    assert used == ["preload"]  # screening came first: only the treated rows were loaded
    fields, records, total = _all_rows(desk, resource_id)
    assert total == 120 and "select" not in {f["id"] for f in fields} and records[5]["구명"] == "서구"
    assert leftovers(desk.client)["loading"] == []


def test_startup_sweep_drops_only_old_loading_tables(desk):  # noqa: ANN001
    engine = desk.client.app.state.engine
    old, young = f"_loading_{int(time.time()) - 7200}_a1", f"_loading_{int(time.time())}_b2"
    with engine.connect() as conn:
        for name in (old, young):
            conn.exec_driver_sql(f'CREATE TABLE "{name}" (x INTEGER)')
        conn.commit()
        assert store_sqlite.sweep_loading_tables(conn, 3600) == [old]
    assert leftovers(desk.client)["loading"] == [young]  # maybe another worker's load in progress
    with engine.connect() as conn:
        assert store_sqlite.sweep_loading_tables(conn, 0) == [young]


def _typed(rows: int, counts: dict[str, int]) -> TypedTable:
    columns = [TypedColumn("구명", "text", counts), TypedColumn("시각", "datetime")]
    return TypedTable(columns=columns, table=pa.table({"구명": pa.nulls(rows, pa.string()),
                                                       "시각": pa.nulls(rows, pa.string())}))


def test_index_plan_composite_only_for_rare_values():
    rows = 1_600_000
    even = {f"구{i}": rows // 16 for i in range(16)}
    assert index_plan(_typed(rows, even)) == [["시각"]]
    skewed = {**even, "구0": rows // 16 - 500, "기장군": 500}
    assert index_plan(_typed(rows, skewed)) == [["구명", "시각"], ["시각"]]


@pytest.mark.parametrize("path", ["preload", "scratch"])
def test_common_filter_value_pages_through_the_time_index(desk, monkeypatch, path):  # noqa: ANN001
    _big_paths(monkeypatch, path)
    resource_id = desk.load("even.csv", _csv(4000))
    body = desk.rows(resource_id, 구명="서구", sort="측정일시", limit=100)
    assert body["total"] == 1000 and len(body["records"]) == 100
    times = [r["측정일시"] for r in body["records"]]
    assert times == sorted(times) and {r["구명"] for r in body["records"]} == {"서구"}
    engine = desk.client.app.state.engine
    with engine.connect() as conn:
        plan = conn.exec_driver_sql(
            f'EXPLAIN QUERY PLAN SELECT * FROM "{resource_id}" WHERE "구명" = \'서구\' ORDER BY "측정일시", _id '
            "LIMIT 100").all()
    detail = " ".join(str(row[-1]) for row in plan)
    assert "USING INDEX" in detail and "TEMP B-TREE" not in detail, detail
    assert sa.inspect(engine).get_indexes(resource_id)  # the time indexes came with the rows


def test_rows_held_back_by_screening_are_never_loaded(desk, monkeypatch):  # noqa: ANN001
    """Screening that keeps the columns but holds rows back (a quarantine): only the accepted rows are
    loaded, once (screening decides before the load and records after it)."""
    import dataclasses

    from cityhub.datastore import service

    used = _big_paths(monkeypatch, "preload")
    real = service._screen

    def quarantining(ctx, resource, raw):  # noqa: ANN001, ANN202
        screened = real(ctx, resource, raw)
        return dataclasses.replace(screened, table=screened.table.slice(0, 100))

    monkeypatch.setattr(service, "_screen", quarantining)
    resource_id = desk.load("held.csv", _csv(120))
    assert used == ["preload"]
    _fields, _records, total = _all_rows(desk, resource_id)
    assert total == 100
    assert leftovers(desk.client)["loading"] == []


def test_a_late_value_the_guess_missed_is_typed_over_the_whole_column(desk, monkeypatch):  # noqa: ANN001
    """Rows stream to the loader typed by a guess from the first rows; a later batch it does not cover (text in
    an integer column) sends the file through whole-column typing and a fresh preload, with the same result
    as the plain path and no half-loaded table left."""
    from cityhub.datastore import infer

    monkeypatch.setattr(infer, "SAMPLE", 10)
    monkeypatch.setattr(store_sqlite, "BATCH_ROWS", 50)
    lines = _csv(300).decode().splitlines()
    lines[251] = lines[251].replace(",250,", ",많음,", 1)  # the quoted-name column: integers until line 252
    content = ("\n".join(lines) + "\n").encode()
    monkeypatch.setattr(store_sqlite, "SCRATCH_MIN_ROWS", 10**9)
    plain = desk.load("plain.csv", content)
    used = _big_paths(monkeypatch, "preload")
    fast = desk.load("late.csv", content)
    assert used == ["preload", "preload"]  # the streamed load, given up at the late value; then the whole table
    assert _all_rows(desk, fast) == _all_rows(desk, plain)
    fields, records, _total = _all_rows(desk, fast)
    assert {f["id"]: f["type"] for f in fields}['a "quoted" name'] == "text"
    assert records[250]['a "quoted" name'] == "많음"
    info = desk.client.get(f"/api/v1/datastore/{fast}/fields", headers=desk.headers)
    assert info.status_code == 200 and any("line 252" in w for w in info.json()["warnings"]), info.text
    assert leftovers(desk.client)["loading"] == []
