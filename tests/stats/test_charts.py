"""Chart builder: specs to sandboxed SQL, column and access errors, caps, saved charts, rollups (both backends)."""

from __future__ import annotations

import time

import pytest

DISTRICTS = ["중구", "서구", "동래구"]


def _readings() -> bytes:
    lines = ["measured,district,pm25,traffic,lat,lon"]
    for day in range(1, 29):
        for hour in (0, 8, 18):
            for i, d in enumerate(DISTRICTS):
                pm = 10 + i * 5 + (hour == 8) * 10
                lines.append(f"2025-0{1 + day % 2}-{day:02d}T{hour:02d}:00:00,{d},{pm},{100 * (i + 1) + hour},"
                             f"{35.1 + i / 100},{129.0 + i / 100}")
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def air(office) -> dict:  # noqa: ANN001
    office.dataset("air-quality")
    res = office.upload("air-quality", "air.csv", _readings())
    office.dataset("secret-air", access_level="restricted")
    secret = office.upload("secret-air", "secret.csv", b"district,value\nA,1\n")
    return {"rid": res["id"], "secret": secret["id"], "rows": 28 * 3 * 3}


def _data(office, spec: dict, headers=None, **params) -> tuple[int, dict]:  # noqa: ANN001
    r = office.client.post("/api/v1/stats/charts/data", json=spec, params=params,
                           headers=headers if headers is not None else office.steward.headers)
    return r.status_code, r.json() if r.headers.get("content-type", "").startswith("application") else r.text


def test_bar_chart_by_district_and_line_by_month(office, air) -> None:  # noqa: ANN001
    spec = {"type": "bar", "source": {"resource_id": air["rid"]}, "x": {"column": "district"},
            "y": [{"column": "pm25", "agg": "avg"}, {"agg": "count"}]}
    status, data = _data(office, spec)
    assert status == 200, data
    assert data["columns"] == ["x", "y0", "y1"] and data["engine"] == "sql"
    by = {row[0]: row for row in data["rows"]}
    assert set(by) == set(DISTRICTS) and by["중구"][2] == 84
    assert round(by["서구"][1], 3) == round((15 * 2 + 25) / 3, 3)

    line = {"type": "line", "source": {"resource_id": air["rid"]}, "x": {"column": "measured", "bucket": "month"},
            "series": "district", "y": [{"column": "traffic", "agg": "sum"}], "time_column": "measured",
            "district_column": "district"}
    status, data = _data(office, line)
    assert status == 200, data
    assert {r[0] for r in data["rows"]} == {"2025-01", "2025-02"} and len(data["rows"]) == 6
    status, data = _data(office, line, district="동래구", date_from="2025-01-01", date_to="2025-01-31")
    assert status == 200 and [r[:2] for r in data["rows"]] == [["2025-01", "동래구"]]
    hours = {**line, "x": {"column": "measured", "bucket": "hour_of_day"}, "series": None}
    status, data = _data(office, hours)
    assert status == 200 and [r[0] for r in data["rows"]] == [0, 8, 18]
    ranked = {**spec, "y": [{"column": "pm25", "agg": "avg"}], "sort": "-y"}
    assert [r[0] for r in _data(office, ranked)[1]["rows"]] == ["동래구", "서구", "중구"]
    kpi = {"type": "kpi", "source": {"resource_id": air["rid"]}, "y": [{"column": "pm25", "agg": "max"}]}
    assert _data(office, kpi)[1]["rows"] == [[30]]
    csv = office.client.post("/api/v1/stats/charts/data?format=csv", json=kpi, headers=office.steward.headers)
    assert csv.status_code == 200 and csv.text.lstrip("\ufeff").splitlines() == ["y0", "30"]


def test_unknown_column_and_unreadable_table_are_named(office, air) -> None:  # noqa: ANN001
    spec = {"type": "bar", "source": {"resource_id": air["rid"]}, "x": {"column": "구"}, "y": [{"agg": "count"}]}
    status, body = _data(office, spec)
    assert status == 422 and "'구'" in body["detail"] and air["rid"] in body["detail"]
    assert "spec.x.column" in body["errors"]
    spec = {"type": "bar", "source": {"resource_id": air["secret"]}, "x": {"column": "district"},
            "y": [{"agg": "count"}]}
    status, body = _data(office, spec, headers=office.citizen.headers)
    assert status == 422 and f"table not found or not permitted: {air['secret']}" in body["detail"]
    assert _data(office, spec)[0] == 200  # its publisher may


def test_a_raw_chart_over_too_many_rows_is_capped_with_a_message(office, air) -> None:  # noqa: ANN001
    spec = {"type": "scatter", "source": {"resource_id": air["rid"]}, "x": {"column": "traffic"},
            "y": [{"column": "pm25", "agg": None}], "limit": 100}
    status, data = _data(office, spec)
    assert status == 200 and data["capped"] is True and len(data["rows"]) == 100
    assert "more than 100 rows" in data["message"]


def test_chart_from_a_saved_query_with_parameters(office, air) -> None:  # noqa: ANN001
    client, headers = office.client, office.steward.headers
    body = {"title": "PM2.5 of a district", "sql": f'SELECT measured, pm25 FROM "{air["rid"]}" WHERE district = :d',
            "parameters": [{"name": "d", "type": "text", "default": "중구"}], "visibility": "shared"}
    r = client.post("/api/v1/stats/queries", json=body, headers=headers)
    assert r.status_code == 201, r.text
    spec = {"type": "line", "source": {"query_id": r.json()["id"], "params": {"d": "서구"}},
            "x": {"column": "measured", "bucket": "day"}, "y": [{"column": "pm25", "agg": "max"}]}
    status, data = _data(office, spec)
    assert status == 200, data
    assert len(data["rows"]) == 28 and all(row[1] == 25 for row in data["rows"])


def test_saved_charts_follow_their_visibility_and_the_viewers_access(office, air) -> None:  # noqa: ANN001
    client = office.client
    spec = {"type": "pie", "source": {"resource_id": air["rid"]}, "x": {"column": "district"},
            "y": [{"agg": "count"}]}
    r = client.post("/api/v1/stats/charts", json={"title": "측정 건수", "spec": spec}, headers=office.steward.headers)
    assert r.status_code == 201, r.text
    chart = r.json()["id"]
    assert client.get(f"/api/v1/stats/charts/{chart}/data", headers=office.citizen.headers).status_code == 404
    client.patch(f"/api/v1/stats/charts/{chart}", json={"visibility": "public"}, headers=office.steward.headers)
    data = client.get(f"/api/v1/stats/charts/{chart}/data").json()
    assert sorted(r[1] for r in data["rows"]) == [84, 84, 84]
    assert client.patch(f"/api/v1/stats/charts/{chart}", json={"title": "x"},
                        headers=office.citizen.headers).status_code == 403
    bad = client.post("/api/v1/stats/charts", json={"title": "x", "spec": {**spec, "series": "nope"}},
                      headers=office.steward.headers)
    assert bad.status_code == 422 and "nope" in bad.text


def test_a_big_tables_chart_is_answered_from_its_rollup(office, air, monkeypatch) -> None:  # noqa: ANN001
    from cityhub.stats import rollups

    monkeypatch.setattr(rollups, "CUBE_MIN_ROWS", 10)
    spec = {"type": "stacked_bar", "source": {"resource_id": air["rid"]}, "x": {"column": "measured",
            "bucket": "month"}, "series": "district", "y": [{"column": "pm25", "agg": "avg"},
            {"agg": "count"}, {"column": "traffic", "agg": "max"}], "time_column": "measured",
            "district_column": "district"}
    status, plain = _data(office, spec)
    assert plain["engine"] == "sql"
    r = office.client.post("/api/v1/stats/charts", json={"title": "월별", "spec": spec},
                           headers=office.steward.headers)
    assert r.status_code == 201
    deadline = time.time() + 20
    while time.time() < deadline:
        status, fast = _data(office, spec)
        if fast["engine"] == "rollup":
            break
        time.sleep(0.2)
    assert fast["engine"] == "rollup", "the rollup was not built"
    assert [[r[0], r[1], round(r[2], 6), r[3], r[4]] for r in fast["rows"]] == \
        [[r[0], r[1], round(r[2], 6), r[3], r[4]] for r in plain["rows"]]
    status, filtered = _data(office, spec, district="서구", date_from="2025-02-01")
    assert filtered["engine"] == "rollup" and [r[:2] for r in filtered["rows"]] == [["2025-02", "서구"]]
    # the viewer's access still applies: the rollup is read through the table's own door
    secret = {**spec}
    status, _ = _data(office, secret, headers=office.citizen.headers)
    assert status == 200  # public dataset
    office.client.patch("/api/v1/datasets/air-quality", json={"access_level": "restricted"},
                        headers=office.steward.headers)
    status, body = _data(office, spec, headers=office.citizen.headers)
    assert status == 422 and "not permitted" in body["detail"]


def test_a_rollup_follows_its_table_when_the_dataset_changes(office, kosis, monkeypatch) -> None:  # noqa: ANN001
    from cityhub.stats import rollups

    monkeypatch.setattr(rollups, "CUBE_MIN_ROWS", 10)
    server, behaviour = kosis
    office.dataset("kosis-pop-ds")
    source = office.kosis_source("kosis-pop", server, "kosis-pop-ds")
    office.run("kosis-pop")
    spec = {"type": "bar", "source": {"resource_id": source["resource_id"]}, "x": {"column": "district"},
            "y": [{"column": "value", "agg": "max"}], "filters": [{"column": "item", "value": "T20"}]}
    r = office.client.post("/api/v1/stats/charts", json={"title": "인구", "spec": spec}, headers=office.steward.headers)
    assert r.status_code == 201, r.text

    def wait_rollup() -> dict:
        deadline = time.time() + 20
        while time.time() < deadline:
            data = _data(office, spec)[1]
            if data["engine"] == "rollup":
                return data
            time.sleep(0.2)
        raise AssertionError("rollup not used")

    before = wait_rollup()
    behaviour.value_bump = 1000  # KOSIS revises its figures; same number of rows
    assert office.run("kosis-pop")["rows_updated"] > 0
    after = _data(office, spec)[1]  # right after the run: never the old rollup's figures
    assert after["rows"] != before["rows"] and after["rows"][0][1] == before["rows"][0][1] + 1000
    assert wait_rollup()["rows"] == after["rows"]
