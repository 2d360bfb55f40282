"""File connector (folder, changed-by-hash, CP949 CSV, XLSX, GeoJSON) and the http connector's options."""

from __future__ import annotations

import json

import pytest

from tests.collect.conftest import READING_FIELDS


def test_folder_files_are_taken_when_changed(sqlite_collect, tmp_path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "a.csv").write_bytes("정류소,승차\n서면,120\n남포,80\n".encode("cp949"))
    fields = [{"name": "stop", "path": "정류소"}, {"name": "boardings", "path": "승차", "type": "integer"}]
    src = sqlite_collect.source("drop", "file", {"path": str(folder), "pattern": "*.csv"}, fields, ["stop"])
    run = sqlite_collect.run("drop")
    assert run["status"] == "succeeded" and run["rows_inserted"] == 2
    again = sqlite_collect.run("drop")
    assert again["rows_received"] == 0 and again["requests"] == 1  # hashed, not re-read into the table
    (folder / "a.csv").write_bytes("정류소,승차\n서면,125\n남포,80\n".encode("cp949"))
    changed = sqlite_collect.run("drop")
    assert (changed["rows_updated"], changed["rows_unchanged"]) == (1, 1)
    assert {r["stop"]: r["boardings"] for r in sqlite_collect.rows(src)} == {"서면": 125, "남포": 80}


def test_xlsx_and_geojson_files(sqlite_collect, tmp_path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    ws = book.active
    ws.append(["district", "population"])
    ws.append(["해운대구", 380000])
    ws.append(["수영구", 170000])
    book.save(tmp_path / "pop.xlsx")
    fields = [{"name": "district"}, {"name": "population", "type": "integer"}]
    src = sqlite_collect.source("xlsx", "file", {"path": str(tmp_path / "pop.xlsx")}, fields, ["district"])
    assert sqlite_collect.run("xlsx")["rows_inserted"] == 2
    assert sqlite_collect.rows(src)[0]["population"] == 380000

    geo = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "부산시청"},
         "geometry": {"type": "Point", "coordinates": [129.07, 35.18]}}]}
    (tmp_path / "places.geojson").write_text(json.dumps(geo, ensure_ascii=False), encoding="utf-8")
    fields = [{"name": "name"}, {"name": "geometry", "type": "json"}]
    src = sqlite_collect.source("geo", "file", {"path": str(tmp_path / "places.geojson")}, fields, ["name"])
    assert sqlite_collect.run("geo")["rows_inserted"] == 1
    assert "129.07" in str(sqlite_collect.rows(src)[0]["geometry"])


@pytest.mark.parametrize("route,paging", [("offset", {"paging": "offset", "size_param": "limit", "page_size": 10}),
                                          ("cursor", {"paging": "cursor", "cursor_path": "data.next"}),
                                          ("link", {"paging": "link"})])
def test_http_paging_styles(sqlite_collect, rest, route, paging) -> None:
    server, behaviour = rest
    cfg = {"url": f"{server.url}/{route}", "record_path": "data.items", **paging}
    src = sqlite_collect.source(f"h-{route}", "http", cfg, READING_FIELDS, ["id"])
    run = sqlite_collect.run(f"h-{route}")
    assert run["status"] == "succeeded", run
    assert run["rows_inserted"] == 95 and len(sqlite_collect.rows(src)) == 95


def test_http_xml_and_cp949_csv_and_key_in_header(sqlite_collect, rest) -> None:
    server, behaviour = rest
    behaviour.require_key = "s3cret"
    xml = {"url": f"{server.url}/xml", "record_path": "result.rows.row", "api_key": "s3cret", "key_in": "query"}
    src = sqlite_collect.source("h-xml", "http", xml, READING_FIELDS, ["id"])
    run = sqlite_collect.run("h-xml")
    assert run["status"] == "succeeded" and run["rows_inserted"] == 95, run
    raw = sqlite_collect.client.get(f"/api/v1/runs/{run['id']}/raw", headers=sqlite_collect.headers).json()
    assert "s3cret" not in json.dumps(raw)
    assert sqlite_collect.rows(src)[1]["value"] == 3.0
    csv = {"url": f"{server.url}/csv", "api_key": "s3cret", "key_in": "header", "key_name": "X-API-Key"}
    fields = READING_FIELDS + [{"name": "place", "path": "측정소"}]
    src = sqlite_collect.source("h-csv", "http", csv, fields, ["id"])
    assert sqlite_collect.run("h-csv")["rows_inserted"] == 95
    assert sqlite_collect.rows(src)[0]["place"] == "중구"
    bad = sqlite_collect.source("h-nokey", "http", {"url": f"{server.url}/csv"}, fields, ["id"])
    run = sqlite_collect.run("h-nokey")
    assert run["status"] == "failed" and "HTTP 401" in run["error"] and "invalid api key" in run["upstream_message"]
    assert bad["health"]["status"] == "never_run"


def test_bad_source_definitions_name_the_field(sqlite_collect) -> None:
    r = sqlite_collect.client.post("/api/v1/sources", headers=sqlite_collect.headers, json={
        "name": "x1", "title": "x", "connector": "http", "dataset": sqlite_collect.dataset()["name"],
        "config": {"url": "http://x", "paging": "sideways"}})
    assert r.status_code == 422 and "config.paging" in r.json()["errors"]
    r = sqlite_collect.client.post("/api/v1/sources", headers=sqlite_collect.headers, json={
        "name": "x2", "title": "x", "connector": "nope", "dataset": sqlite_collect.dataset()["name"]})
    assert r.status_code == 422 and "unknown connector 'nope'" in r.text
    r = sqlite_collect.client.post("/api/v1/sources", headers=sqlite_collect.headers, json={
        "name": "x3", "title": "x", "connector": "http", "dataset": sqlite_collect.dataset()["name"],
        "config": {"url": "http://x"}, "schedule_kind": "cron", "schedule_expr": "every tuesday"})
    assert r.status_code == 422 and "schedule_expr" in r.json()["errors"]
