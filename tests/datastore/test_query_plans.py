"""Per-column indexes built after a load, and the index a page is read from (query_plan.py), on both backends.

The answers must not change when indexes appear or go; only how they are read does.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from cityhub.datastore import column_indexes
from cityhub.datastore import query_plan as plan
from cityhub.datastore.models import DatastoreTable
from cityhub.datastore.tables import index_name
from tests.datastore.helpers import make_desk

DISTRICTS = ["해운대구", "중구", "서구", "동래구"]
QUERIES = [  # (filters, sort): each outside what the import's index plan covers, or two filters at once
    ({"district": "중구", "station": "ST-0"}, "time"),  # no row holds both (station k only in district k % 4)
    ({"district": "중구", "station": "ST-5"}, "time desc"),
    ({"value": {"gte": 1400, "lt": 1410}}, "time"),  # a narrow range of an unindexed number
    ({"value": {"gt": 10}}, "value desc"),
    ({"district": ["서구", "중구"], "count": {"lte": 3}}, "count, time"),
    ({"district": "동래구"}, "time"),
    ({"district": "서구"}, None),
    ({"station": "ST-3", "value": {"lt": 200}}, "value"),
]


@pytest.fixture
def table(client, people):  # noqa: ANN001, ANN201
    desk = make_desk(client, people)
    lines = ["district,time,value,count,station"]
    for i in range(3000):
        when = f"2024-01-{1 + i // 1000:02d} {i % 24:02d}:{i % 60:02d}:00"
        lines.append(f"{DISTRICTS[i % 4]},{when},{(i * 37) % 3000 * 0.5},{i % 11},ST-{i % 8}")
    return desk, desk.load("obs.csv", "\n".join(lines).encode())


def _answers(desk, rid: str) -> list:  # noqa: ANN001
    out = []
    for filters, sort in QUERIES:
        params = {"filters": json.dumps(filters), "limit": 7, **({"sort": sort} if sort else {})}
        body = desk.rows(rid, **params)
        out.append((body["total"], [r["_id"] for r in body["records"]]))
        params["offset"] = 3
        out.append([r["_id"] for r in desk.rows(rid, **params)["records"]])
    return out


def _registry(client, rid: str) -> list[list[str]]:  # noqa: ANN001
    with client.app.state.engine.connect() as conn:
        return conn.execute(sa.select(DatastoreTable.indexes).where(DatastoreTable.resource_id == rid)).scalar_one()


def test_column_indexes_are_built_after_the_load_and_answers_do_not_change(client, table):  # noqa: ANN001
    desk, rid = table
    engine = client.app.state.engine
    client.app.state.datastore_column_indexer.stop()  # this test builds by hand (a slow run would race it)
    # Totals of one range filter come from the column's histogram (text ranges only on SQLite, whose order
    # is Python's); either way they are the rows the engine holds.
    assert desk.rows(rid, filters=json.dumps({"station": {"gte": "ST-6"}}), limit=1)["total"] == 750
    assert desk.rows(rid, filters=json.dumps({"count": {"lt": 3}}), limit=1)["total"] == 819
    before = _answers(desk, rid)
    assert before[0] == (0, []) and before[2][0] == 375  # the empty combination, then a real one
    with engine.connect() as conn:
        assert column_indexes.pending(conn, min_age_seconds=3600) == []  # too young: its previews come first
        (found, columns), = [p for p in column_indexes.pending(conn, min_age_seconds=0) if p[0] == rid]
    assert set(columns) == {"value", "count", "station", "district"} - {c[0] for c in _registry(client, rid)}
    assert column_indexes.build_pending(engine, min_age_seconds=0) == len(columns)
    assert column_indexes.build_pending(engine, min_age_seconds=0) == 0  # nothing twice
    plan_after = _registry(client, rid)
    assert {c[0] for c in plan_after} >= {"value", "count", "station", "district", "time"}
    names = {ix["name"] for ix in sa.inspect(engine).get_indexes(rid)}
    assert names >= {index_name(rid, position) for position in range(len(plan_after))}
    assert _answers(desk, rid) == before


def test_the_page_is_read_from_the_selective_index_sqlite(client, people, backend):  # noqa: ANN001
    if backend != "sqlite":
        pytest.skip("PostgreSQL plans with its own statistics")
    client.app.state.datastore_column_indexer.stop()
    sqlite_client = client
    desk = make_desk(client, people)
    lines = ["district,time,value,station"] + [
        f"{DISTRICTS[i % 4]},2024-02-{1 + i // 1000:02d} {i % 24:02d}:00:00,{i},ST-{i % 8}" for i in range(4000)]
    rid = desk.load("obs.csv", "\n".join(lines).encode())
    engine = sqlite_client.app.state.engine
    column_indexes.build_pending(engine, min_age_seconds=0)
    indexes = _registry(sqlite_client, rid)
    leading = plan.leading_indexes(rid, indexes)
    fields = [{"id": "district", "type": "text"}, {"id": "time", "type": "datetime"},
              {"id": "value", "type": "integer"}, {"id": "station", "type": "text"}]
    hist = {"district": {d: 1000 for d in DISTRICTS}, "station": {f"ST-{k}": 500 for k in range(8)}}
    with engine.connect() as conn:
        table = sa.Table(rid, sa.MetaData(), autoload_with=conn)

        def choose(filters: dict, sort: str, rows: int = 100) -> plan.Choice | None:
            return plan.choose(conn, table, fields, filters, {k: v for k, v in hist.items() if k in filters},
                               indexes, sort, 4000, rows)

        # Two categorical filters: the rarer one's index, not a walk of the time index past every row.
        assert choose({"district": "중구", "station": "ST-0"}, "time").page == leading["station"]
        # A narrow range of a number, counted on its index (10 rows): read from it and sorted.
        narrow = choose({"value": {"gte": 100, "lt": 110}}, "time")
        assert narrow.page == leading["value"] and narrow.count == leading["value"]
        # A common value and a big page: walking the time index finds the page soonest.
        assert choose({"district": "중구"}, "time", rows=20).page == leading["time"]
        assert choose({"district": "중구"}, "_id", rows=20).page == ""  # the table itself, in _id order
    statements: list[str] = []

    def seen(conn, cursor, statement, *_) -> None:  # noqa: ANN001
        statements.append(statement)

    sa.event.listen(engine, "after_cursor_execute", seen)
    try:
        body = desk.rows(rid, filters=json.dumps({"district": "중구", "station": "ST-1"}), sort="time", limit=3)
    finally:
        sa.event.remove(engine, "after_cursor_execute", seen)
    assert any(f'INDEXED BY "{leading["station"]}"' in s for s in statements), statements
    # An index that has gone (a replaced table) only costs the hint: the query still answers.
    with engine.begin() as conn:
        conn.exec_driver_sql(f'DROP INDEX "{leading["station"]}"')
    body = desk.rows(rid, filters=json.dumps({"district": "중구", "station": "ST-1"}), sort="time", limit=3)
    assert body["total"] == 500 and [r["station"] for r in body["records"]] == ["ST-1"] * 3


def test_small_and_fed_tables_get_no_column_indexes(client, people):  # noqa: ANN001
    desk = make_desk(client, people)
    rid = desk.load("small.csv", "\n".join(["a,b"] + [f"{i},{i % 3}" for i in range(50)]).encode())
    with client.app.state.engine.connect() as conn:
        assert rid not in {p[0] for p in column_indexes.pending(conn, min_age_seconds=0)}
    assert column_indexes.wanted([{"id": "n", "type": "number"}, {"id": "t", "type": "text"}], [], set(), 10_000) \
        == ["n"]  # free text is not indexed; a categorical text column would be


def test_histogram_counts_equalities_lists_and_ranges():
    hist = {"1": 5, "2": 7, "10": 1, "": 4}  # "" counts nulls
    assert plan.histogram_count("n", {"lt": 3}, "integer", hist) == 12  # numbers compare as numbers
    assert plan.histogram_count("n", {"gte": 2, "ne": 10}, "integer", hist) == 7
    assert plan.histogram_count("n", [1, 10], "integer", hist) == 6
    assert plan.histogram_count("n", {"in": ["2"]}, "integer", hist) == 7
    assert plan.histogram_count("n", 3, "integer", hist) == 0
    assert plan.histogram_count("n", None, "integer", hist) is None  # nulls: the engine counts
    assert plan.histogram_count("d", {"gte": "2024-01-01"}, "date", {"2024-01-01": 1}) is None
    assert plan.histogram_count("s", {"gte": "b"}, "text", {"a": 1, "b": 2, "ca": 3}) == 5
    assert plan.histogram_count("s", {"gte": "b"}, "text", {"a": 1}, sqlite=False) is None  # PG: its collation


def test_the_background_builder_indexes_a_new_load(client, people, monkeypatch):  # noqa: ANN001
    """The server's own thread, woken by the upload's dataset event, builds what is pending."""
    import time

    monkeypatch.setattr(column_indexes, "DELAY_SECONDS", 0.0)
    desk = make_desk(client, people)
    lines = ["district,value"] + [f"{DISTRICTS[i % 4]},{i}" for i in range(2500)]
    rid = desk.load("obs.csv", "\n".join(lines).encode())
    deadline = time.monotonic() + 60
    while {"district", "value"} - {c[0] for c in _registry(client, rid)} and time.monotonic() < deadline:
        time.sleep(0.2)
    assert {c[0] for c in _registry(client, rid)} >= {"district", "value"}


def test_big_sqlite_tables_wait_for_a_maintenance_window(client, table, monkeypatch):  # noqa: ANN001
    """On SQLite an index build holds the database-wide write lock, so the server leaves tables over
    SQLITE_MAX_ROWS alone; `cityhub dataset index-columns` builds them when the city can wait."""
    desk, rid = table
    engine = client.app.state.engine
    client.app.state.datastore_column_indexer.stop()
    if engine.dialect.name != "sqlite":
        with engine.connect() as conn:  # PostgreSQL locks only the table being indexed: every size is built
            assert rid in {p[0] for p in column_indexes.pending(conn, min_age_seconds=0)}
        return
    monkeypatch.setattr(column_indexes, "SQLITE_MAX_ROWS", 2999)  # the fixture's table has 3,000 rows
    with engine.connect() as conn:
        assert rid not in {p[0] for p in column_indexes.pending(conn, min_age_seconds=0)}
        (_, columns), = [p for p in column_indexes.pending(conn, min_age_seconds=0, any_size=True) if p[0] == rid]
    assert column_indexes.build_pending(engine, min_age_seconds=0) == 0
    assert not column_indexes.build_one(engine, rid, columns[0])  # refused by the builder itself too

    from typer.testing import CliRunner

    from cityhub.cli import app
    from cityhub.settings import get_settings

    monkeypatch.setenv("CITYHUB_DATA_DIR", str(client.app.state.settings.data_dir))
    monkeypatch.setenv("CITYHUB_DATABASE_URL", str(engine.url))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["dataset", "index-columns"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert f"{len(columns)} column index(es) built" in result.output
    assert {c[0] for c in _registry(client, rid)} >= set(columns)
