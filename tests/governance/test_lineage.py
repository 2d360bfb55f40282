"""Lineage: versions, a saved query and chart over the dataset's table, a dashboard, a derived dataset;
the lineage page in both languages; sources and runs only for staff; invisible datasets are 404."""

from __future__ import annotations

import io

from cityhub.governance.lineage import tables_in_sql

CSV = "구,값\n중구,1\n동구,2\n"


def test_tables_in_sql_skips_ctes() -> None:
    sql = 'WITH t AS (SELECT * FROM "abc-1") SELECT * FROM t JOIN "def-2" d ON 1=1'
    assert tables_in_sql(sql, "sqlite") == {"abc-1", "def-2"}
    assert tables_in_sql("SELEC nonsense (", "sqlite") == set()


def test_lineage_graph_and_page(client, people) -> None:  # noqa: ANN001
    people.org("env", "환경정책과")
    steward = people.user("l@city.test", role="steward", org="env")
    body = {"name": "air", "title": "대기", "owner_org": "env"}
    assert client.post("/api/v1/datasets", json=body, headers=steward.headers).status_code == 201
    rid = client.post("/api/v1/datasets/air/resources", headers=steward.headers,
                      files={"upload": ("a.csv", io.BytesIO(CSV.encode()), "text/csv")}).json()["id"]
    derived = {"name": "air-sum", "title": "대기 요약", "owner_org": "env", "extras": {"derived_from": ["air"]}}
    assert client.post("/api/v1/datasets", json=derived, headers=steward.headers).status_code == 201
    q = client.post("/api/v1/stats/queries", headers=steward.headers, json={
        "title": "구별 합", "sql": f'SELECT "구", sum("값") AS s FROM "{rid}" GROUP BY 1', "visibility": "shared"})
    assert q.status_code in (200, 201), q.text
    chart = client.post("/api/v1/stats/charts", headers=steward.headers, json={
        "title": "구별 값", "visibility": "shared",
        "spec": {"type": "bar", "source": {"resource_id": rid}, "x": {"column": "구"},
                 "y": [{"column": "값", "agg": "sum"}]}})
    assert chart.status_code in (200, 201), chart.text
    dash = client.post("/api/v1/stats/dashboards", headers=steward.headers, json={
        "slug": "air-board", "title": "대기판", "visibility": "public",
        "cards": [{"kind": "chart", "chart_id": chart.json()["id"]}]})
    assert dash.status_code in (200, 201), dash.text

    graph = client.get("/api/v1/governance/datasets/air/lineage", headers=steward.headers).json()
    kinds = {n["kind"] for n in graph["nodes"]}
    assert {"dataset", "resource", "version", "query", "chart", "dashboard", "derived"} <= kinds, kinds
    relations = {e["relation"] for e in graph["edges"]}
    assert {"version of", "queried by", "charted by", "shown on", "derived into"} <= relations

    # anonymous visitors see the public parts only (shared queries/charts need a sign-in)
    anon = client.get("/api/v1/governance/datasets/air/lineage").json()
    assert "query" not in {n["kind"] for n in anon["nodes"]} and "dashboard" not in {n["kind"] for n in anon["nodes"]}

    for lang, word in (("ko", "데이터 계보"), ("en", "Lineage")):
        page = client.get("/governance/dataset/air/lineage", headers={**steward.headers, "accept-language": lang})
        assert page.status_code == 200 and word in page.text
    assert "/governance/dataset/air/lineage" in client.get("/governance/dataset/air").text

    hidden = {"name": "secret", "title": "비밀", "owner_org": "env", "access_level": "restricted"}
    assert client.post("/api/v1/datasets", json=hidden, headers=steward.headers).status_code == 201
    assert client.get("/api/v1/governance/datasets/secret/lineage").status_code == 404
    assert client.get("/api/v1/governance/datasets/secret/versions").status_code == 404
