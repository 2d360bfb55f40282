"""Big-file loading paths: the SQLite scratch-database load (ADBC + transfer copy) gives exactly the rows
executemany gives, leaves no scratch file or attached database, and a failure after the copy leaves nothing.
The index plan builds a (filter, time) index only where some filter value is rare."""

from __future__ import annotations

import pyarrow as pa
import pytest
import sqlalchemy as sa

from cityhub.datastore import store_sqlite
from cityhub.datastore.infer import TypedColumn, TypedTable
from cityhub.datastore.tables import index_plan
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


def test_scratch_load_matches_executemany(desk, monkeypatch):  # noqa: ANN001
    content = _csv(300)
    monkeypatch.setattr(store_sqlite, "SCRATCH_MIN_ROWS", 10**9)
    plain = desk.load("plain.csv", content)
    monkeypatch.setattr(store_sqlite, "SCRATCH_MIN_ROWS", 1)
    used: list[str] = []
    real = store_sqlite._fill_scratch
    monkeypatch.setattr(store_sqlite, "_fill_scratch", lambda *a, **k: (used.append("scratch"), real(*a, **k)))
    fast = desk.load("fast.csv", content)
    assert used == ["scratch"]
    assert _all_rows(desk, fast) == _all_rows(desk, plain)
    fields, records, total = _all_rows(desk, fast)
    assert total == 300 and records[3]["값"] is None and records[1]["맑음"] is True
    assert {f["id"]: f["type"] for f in fields}["측정일"] == "date" and records[0]["측정일"] == "2024-01-01"
    assert records[2]['a "quoted" name'] == 2 and records[2]["select"] == "코드2"
    assert leftovers(desk.client)["tmp"] == []
    with desk.client.app.state.engine.connect() as conn:  # the pooled connection came back detached
        attached = [row[1] for row in conn.exec_driver_sql("PRAGMA database_list")]
    assert attached == ["main"]


def test_scratch_load_failure_after_copy_leaves_nothing(desk, monkeypatch):  # noqa: ANN001
    monkeypatch.setattr(store_sqlite, "SCRATCH_MIN_ROWS", 1)

    def broken(*_args, **_kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("disk full while building the text index")

    monkeypatch.setattr(store_sqlite, "build_text_index", broken)
    before = leftovers(desk.client)
    with pytest.raises(RuntimeError):
        desk.upload("broken.csv", _csv(50))
    after = leftovers(desk.client)
    assert after["tables"] == before["tables"] and after["resources"] == before["resources"]
    assert after["registered"] == before["registered"] and after["tmp"] == []
    monkeypatch.undo()
    assert desk.upload("ok.csv", _csv(50)).status_code == 201  # the server keeps serving


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


def test_common_filter_value_pages_through_the_time_index(desk, monkeypatch):  # noqa: ANN001
    monkeypatch.setattr(store_sqlite, "SCRATCH_MIN_ROWS", 1)
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
    assert sa.inspect(engine).get_indexes(resource_id)  # the time indexes were copied with the rows
