"""SQL workbench API: paging, parameters, history, saved and shared queries, completion list (both backends)."""

from __future__ import annotations

from tests.stats.test_charts import _readings


def _setup(office) -> dict:  # noqa: ANN001
    office.dataset("air-quality")
    air = office.upload("air-quality", "air.csv", _readings())
    office.dataset("secret-air", access_level="restricted")
    secret = office.upload("secret-air", "secret.csv", b"district,value\nA,1\n")
    return {"air": air["id"], "secret": secret["id"]}


def _run(office, body: dict, who=None):  # noqa: ANN001, ANN202
    return office.client.post("/api/v1/stats/workbench/run", json=body,
                              headers=(who or office.steward).headers)


def test_paging_parameters_and_history(office) -> None:  # noqa: ANN001
    t = _setup(office)
    sql = f'SELECT district, pm25 FROM "{t["air"]}" WHERE district = :gu ORDER BY _id'
    first = _run(office, {"sql": sql, "params": {"gu": "서구"}, "limit": 50})
    assert first.status_code == 200, first.text
    page = first.json()
    assert len(page["records"]) == 50 and page["has_more"] and [f["id"] for f in page["fields"]] == ["district", "pm25"]
    last = _run(office, {"sql": sql, "params": {"gu": "서구"}, "limit": 50, "offset": 50}).json()
    assert len(last["records"]) == 34 and not last["has_more"]
    assert {r["district"] for r in page["records"] + last["records"]} == {"서구"}
    missing = _run(office, {"sql": sql})
    assert missing.status_code == 422 and "params.gu" in missing.json()["errors"]
    injected = _run(office, {"sql": sql, "params": {"gu": "x' OR '1'='1"}}).json()
    assert injected["records"] == []  # a value stays a value
    bad = _run(office, {"sql": "SELECT district FROM\n  nowhere"})
    assert bad.status_code == 422 and "nowhere" in bad.json()["detail"] and "line 2" in bad.json()["detail"]
    history = office.client.get("/api/v1/stats/workbench/history", headers=office.steward.headers).json()
    assert [h["rows"] for h in history[:2]] == [0, 0] and history[0]["error"]
    assert any(h["rows"] == 34 for h in history)
    assert office.client.get("/api/v1/stats/workbench/history", headers=office.citizen.headers).json() == []


def test_completion_lists_only_readable_tables(office) -> None:  # noqa: ANN001
    t = _setup(office)
    mine = office.client.get("/api/v1/stats/workbench/tables", headers=office.steward.headers).json()
    theirs = office.client.get("/api/v1/stats/workbench/tables", headers=office.citizen.headers).json()
    assert {x["name"] for x in mine} == {t["air"], t["secret"]}
    assert [x["name"] for x in theirs] == [t["air"]]
    names = [c["id"] for c in theirs[0]["columns"]]
    assert names[:6] == ["measured", "district", "pm25", "traffic", "lat", "lon"] and "_id" not in names
    denied = _run(office, {"sql": f'SELECT * FROM "{t["secret"]}"'}, office.citizen)
    assert denied.status_code == 422 and "not found or not permitted" in denied.json()["detail"]


def test_saved_and_shared_queries(office) -> None:  # noqa: ANN001
    t = _setup(office)
    client = office.client
    body = {"title": "구별 평균", "sql": f'SELECT district, avg(pm25) AS pm25 FROM "{t["air"]}" '
            "WHERE traffic > :min GROUP BY district", "parameters": [{"name": "min", "type": "integer", "default": 0}]}
    r = client.post("/api/v1/stats/queries", json=body, headers=office.steward.headers)
    assert r.status_code == 201, r.text
    qid = r.json()["id"]
    assert client.get(f"/api/v1/stats/queries/{qid}", headers=office.analyst.headers).status_code == 404
    assert client.get("/api/v1/stats/queries", headers=office.analyst.headers).json()["total"] == 0
    client.patch(f"/api/v1/stats/queries/{qid}", json={"visibility": "shared"}, headers=office.steward.headers)
    run = _run(office, {"query_id": qid, "params": {"min": 300}}, office.analyst)
    assert run.status_code == 200 and [r["district"] for r in run.json()["records"]] == ["동래구"]
    assert client.get(f"/api/v1/stats/queries/{qid}").status_code == 404  # shared = signed-in users
    assert client.delete(f"/api/v1/stats/queries/{qid}", headers=office.analyst.headers).status_code == 403
    broken = client.post("/api/v1/stats/queries", json={**body, "sql": "SELECT nope FROM nowhere"},
                         headers=office.steward.headers)
    assert broken.status_code == 422 and "nowhere" in broken.text
    typed = _run(office, {"query_id": qid, "params": {"min": "many"}}, office.analyst)
    assert typed.status_code == 422 and "integer" in typed.text
