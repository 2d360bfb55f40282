"""Filtering, sorting, paging, full-text q, distinct and totals over HTTP, on both backends."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from tests.datastore.helpers import make_desk

DISTRICTS = ["해운대구", "중구", "서구", "동래구"]


@pytest.fixture
def table(client, people):  # noqa: ANN001, ANN201
    desk = make_desk(client, people)
    lines = ["district,time,value,station,note"]
    for i in range(3000):
        lines.append(f"{DISTRICTS[i % 4]},2024-01-{1 + i // 1000:02d} {i % 24:02d}:{i % 60:02d}:00,{i * 0.5},"
                     f"ST-{i % 7},{'부산교통공사 버스' if i % 100 == 0 else '일반'}")
    resource_id = desk.load("obs.csv", "\n".join(lines).encode())
    return desk, resource_id


def test_equality_in_and_range_filters(table):  # noqa: ANN001
    desk, rid = table
    body = desk.rows(rid, district="중구", limit=5)
    assert body["total"] == 750 and not body["total_was_estimated"]
    assert all(r["district"] == "중구" for r in body["records"])
    body = desk.rows(rid, filters=json.dumps({"district": ["중구", "서구"], "value": {"gte": 100, "lt": 200}}))
    assert body["total"] == 100
    assert all(100 <= r["value"] < 200 and r["district"] in ("중구", "서구") for r in body["records"])
    body = desk.rows(rid, filters=json.dumps({"time": {"gte": "2024-01-03"}}), limit=1)
    assert body["total"] == 1000


def test_sort_and_paging_are_stable(table):  # noqa: ANN001
    desk, rid = table
    first = desk.rows(rid, district="서구", sort="time desc, value", limit=100)
    second = desk.rows(rid, district="서구", sort="time desc, value", limit=100, offset=100)
    times = [r["time"] for r in first["records"] + second["records"]]
    assert times == sorted(times, reverse=True)
    assert not {r["_id"] for r in first["records"]} & {r["_id"] for r in second["records"]}
    assert first["fields"][0] == {"id": "_id", "type": "integer"}
    assert "offset=100" in first["_links"]["next"]


def test_fields_and_distinct(table):  # noqa: ANN001
    desk, rid = table
    body = desk.rows(rid, fields="district", distinct="true", sort="district")
    assert [r["district"] for r in body["records"]] == sorted(DISTRICTS)
    assert body["total"] == 4 and body["fields"] == [{"id": "district", "type": "text"}]
    body = desk.rows(rid, fields="station,value", limit=1)
    assert set(body["records"][0]) == {"station", "value"}


def test_full_text_q_in_korean(table):  # noqa: ANN001
    desk, rid = table
    assert desk.rows(rid, q="교통공사")["total"] == 30   # 3+ characters: trigram index on SQLite
    assert desk.rows(rid, q="버스 해운대")["total"] == 30
    assert desk.rows(rid, q="교통")["total"] == 30       # 2 characters still match
    assert desk.rows(rid, q=json.dumps({"note": "일반"}), limit=0)["total"] == 2970
    assert desk.rows(rid, q="없는말")["total"] == 0


def test_values_no_row_holds_answer_empty_at_once(table):  # noqa: ANN001
    """The column histograms say when an equality / IN filter cannot match (no walk of the sort index);
    the answer is the same as the engines would give."""
    from cityhub.datastore.query import matches_nothing

    desk, rid = table
    for filters in ({"district": "없는구"}, {"district": {"eq": "없는구"}}, {"district": {"in": ["없는구", "남구"]}},
                    {"district": "중구", "station": "ST-9"}):
        body = desk.rows(rid, filters=json.dumps(filters), sort="time desc")
        assert body["total"] == 0 and body["records"] == [], filters
    assert desk.rows(rid, filters=json.dumps({"district": ["없는구", "중구"]}))["total"] == 750
    fields = [{"id": "district", "type": "text"}, {"id": "n", "type": "integer"}]
    hist = {"district": {"중구": 3}, "n": {"1": 2}}
    assert matches_nothing({"n": "2"}, fields, hist) and not matches_nothing({"n": 1.0}, fields, hist)
    assert not matches_nothing({"district": {"ne": "중구"}}, fields, hist)
    assert not matches_nothing({"other": "x"}, fields, hist)


def test_full_text_q_is_answered_by_an_index(table):  # noqa: ANN001
    """Both backends index the text columns for `q`: SQLite an FTS5 trigram table, PostgreSQL a pg_trgm
    GIN index on the joined text columns, and the query's condition is one the index answers."""
    desk, rid = table
    info = desk.client.get(f"/api/v1/datastore/{rid}/fields", headers=desk.headers).json()
    assert info["text_index"] is True
    engine = desk.client.app.state.engine
    if engine.dialect.name != "postgresql":
        return
    from cityhub.datastore import store_postgres
    from cityhub.datastore.tables import table_for

    table = table_for(rid, [f for f in info["fields"] if f["id"] != "_id"], sqlite=False)
    text_columns = [f["id"] for f in info["fields"] if f["type"] == "text"]
    cond = store_postgres.text_condition(table, ["교통공사", "버스"], text_columns, True)
    stmt = sa.select(sa.func.count()).select_from(table).where(cond)
    with engine.connect() as conn:
        conn.exec_driver_sql("SET enable_seqscan = off")  # 3,000 rows: a scan would be cheaper, so forbid it
        compiled = stmt.compile(conn, compile_kwargs={"literal_binds": True})
        plan = "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {compiled}"))
        assert store_postgres.text_index_name(rid) in plan, plan
        assert conn.execute(stmt).scalar_one() == 30


def test_totals_are_estimated_beyond_the_cap(table):  # noqa: ANN001
    desk, rid = table
    desk.client.app.state.settings.datastore_exact_count_cap = 100
    body = desk.rows(rid, district="중구", limit=1)
    assert body["total"] == 750 and not body["total_was_estimated"]  # exact from the value histogram
    body = desk.rows(rid, filters=json.dumps({"value": {"gte": 10}}), limit=1)
    assert body["total_was_estimated"] and body["total"] > 100
    body = desk.rows(rid, filters=json.dumps({"value": {"lt": 10}}), limit=1)
    assert body["total"] == 20 and not body["total_was_estimated"]
    assert desk.rows(rid, include_total="false")["total"] is None


def test_bad_parameters_name_the_field(table):  # noqa: ANN001
    desk, rid = table
    url = f"/api/v1/datastore/{rid}"
    cases = [
        ({"filters": json.dumps({"nope": 1})}, "filters.nope"),
        ({"filters": json.dumps({"value": "abc"})}, "filters.value"),
        ({"filters": json.dumps({"value": {"between": 1}})}, "filters.value"),
        ({"filters": "{not json"}, "filters"),
        ({"sort": "nope desc"}, "sort"),
        ({"fields": "a,b"}, "fields"),
        ({"limit": 1_000_000}, "limit"),
        ({"offset": -1}, "offset"),
    ]
    for params, field in cases:
        response = desk.client.get(url, params=params, headers=desk.headers)
        assert response.status_code == 422, (params, response.text)
        assert field in response.json()["errors"], (params, response.json())


def test_unknown_resource_is_404(table):  # noqa: ANN001
    desk, _ = table
    assert desk.client.get("/api/v1/datastore/00000000-0000-0000-0000-000000000000").status_code == 404


def test_restricted_rows_stay_hidden(client, people):  # noqa: ANN001
    desk = make_desk(client, people, access_level="restricted")
    rid = desk.load("secret.csv", b"a,b\n1,2\n")
    outsider = people.user("outsider@city.test", role="analyst")
    for headers in ({}, outsider.headers):
        for path in ("", "/fields", "/download.csv"):
            response = client.get(f"/api/v1/datastore/{rid}{path}", headers=headers)
            assert response.status_code in (401, 404), (path, response.text)
    assert desk.rows(rid)["total"] == 1
