"""A collected resource is a datastore table like an upload: registered, typed, queryable through the native
datastore API, the CKAN datastore_search and the SQL sandbox, with its row count following each run."""

from __future__ import annotations

from tests.collect.conftest import READING_FIELDS


def _paged(server) -> dict:  # noqa: ANN001
    return {"url": f"{server.url}/items", "record_path": "data.items", "paging": "page", "page_size": 10,
            "total_path": "data.total"}


def test_collected_resource_is_served_by_the_datastore(collect, rest) -> None:
    server, behaviour = rest
    src = collect.source("air-ds", "http", _paged(server), READING_FIELDS, key=["id"])
    assert collect.run("air-ds")["rows_inserted"] == 95
    rid, client, headers = src["resource_id"], collect.client, collect.headers

    native = client.get(f"/api/v1/datastore/{rid}", params={"sort": "id desc", "limit": 5}, headers=headers)
    assert native.status_code == 200, native.text
    body = native.json()
    assert body["total"] == 95 and [r["id"] for r in body["records"]] == [95, 94, 93, 92, 91]
    types = {f["id"]: f["type"] for f in body["fields"]}
    assert types == {"_id": "integer", "id": "integer", "station": "text", "value": "number", "measured": "datetime"}
    assert body["records"][0]["measured"].startswith("20") and "T" in str(body["records"][0]["measured"])

    station = body["records"][0]["station"]
    ckan = client.post("/api/3/action/datastore_search", headers=headers,
                       json={"resource_id": rid, "filters": {"station": station}, "limit": 100})
    assert ckan.status_code == 200, ckan.text
    result = ckan.json()["result"]
    assert result["total"] >= 1 and all(r["station"] == station for r in result["records"])
    assert {f["id"]: f["type"] for f in result["fields"]}["value"] == "numeric"

    sql = client.post("/api/3/action/datastore_search_sql", headers=headers,
                      json={"sql": f'SELECT count(*) AS n FROM "{rid}" WHERE value > 0'})
    assert sql.status_code == 200, sql.text
    assert sql.json()["result"]["records"][0]["n"] > 0

    behaviour.total = 100  # five more rows: the registry's count follows the run
    assert collect.run("air-ds")["rows_inserted"] == 5
    again = client.get(f"/api/v1/datastore/{rid}", params={"limit": 1}, headers=headers).json()
    assert again["total"] == 100
    download = client.get(f"/api/v1/datastore/{rid}/download.csv", headers=headers)
    assert download.status_code == 200 and download.text.count("\n") == 101
