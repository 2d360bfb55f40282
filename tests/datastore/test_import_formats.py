"""Uploads of every tabular format load into typed tables, over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json

import pytest

from tests.datastore.helpers import make_desk


@pytest.fixture
def desk(client, people):  # noqa: ANN001, ANN201
    return make_desk(client, people)


def _types(desk, resource_id):  # noqa: ANN001, ANN202
    response = desk.client.get(f"/api/v1/datastore/{resource_id}/fields", headers=desk.headers)
    assert response.status_code == 200, response.text
    return {f["id"]: f["type"] for f in response.json()["fields"]}


def test_cp949_csv_with_korean_headers_round_trips(desk):  # noqa: ANN001
    text = ("구명,측정일시,미세먼지,초미세먼지,비고\n"
            "해운대구,2024-01-05 10:00,35,12,맑음\n중구,2024-01-05 11:00,41,N/A,흐림\n")
    resource_id = desk.load("대기질.csv", text.encode("cp949"))
    assert _types(desk, resource_id) == {"_id": "integer", "구명": "text", "측정일시": "datetime",
                                         "미세먼지": "integer", "초미세먼지": "integer", "비고": "text"}
    body = desk.rows(resource_id, sort="미세먼지 desc")
    assert body["total"] == 2
    assert body["fields"][0] == {"id": "_id", "type": "integer"}
    first = body["records"][0]
    assert first["구명"] == "중구" and first["측정일시"] == "2024-01-05T11:00:00" and first["초미세먼지"] is None
    info = desk.client.get(f"/api/v1/datastore/{resource_id}/fields", headers=desk.headers).json()
    assert info["encoding"] == "cp949"


def test_utf8_bom_csv(desk):  # noqa: ANN001
    text = "\ufeff이름,값\n가,1\n나,2\n"
    resource_id = desk.load("bom.csv", text.encode("utf-8"))
    assert _types(desk, resource_id) == {"_id": "integer", "이름": "text", "값": "integer"}
    assert [r["이름"] for r in desk.rows(resource_id)["records"]] == ["가", "나"]


def test_tsv_and_semicolon_delimiters_are_sniffed(desk):  # noqa: ANN001
    tsv = desk.load("a.tsv", b"a\tb\n1\tx\n2\ty\n")
    assert _types(desk, tsv) == {"_id": "integer", "a": "integer", "b": "text"}
    semi = desk.load("b.csv", b"a;b;c\n1;2.5;x\n3;4;y\n")
    assert _types(desk, semi) == {"_id": "integer", "a": "integer", "b": "number", "c": "text"}


def test_xlsx(desk):  # noqa: ANN001
    from datetime import datetime

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["정류소", "시각", "승객", "운행"])
    sheet.append(["서면역", datetime(2024, 3, 1, 8, 30), 120, True])
    sheet.append(["남포역", datetime(2024, 3, 1, 9, 0), 95.5, False])
    buffer = io.BytesIO()
    book.save(buffer)
    resource_id = desk.load("bus.xlsx", buffer.getvalue())
    assert _types(desk, resource_id) == {"_id": "integer", "정류소": "text", "시각": "datetime",
                                         "승객": "number", "운행": "boolean"}
    records = desk.rows(resource_id)["records"]
    assert records[0]["운행"] is True and records[1]["승객"] == 95.5


def test_json_array(desk):  # noqa: ANN001
    data = [{"id": 1, "name": "a", "tags": ["x"], "when": "2024-01-05"}, {"id": 2, "name": "b", "when": None}]
    resource_id = desk.load("rows.json", json.dumps(data).encode())
    assert _types(desk, resource_id) == {"_id": "integer", "id": "integer", "name": "text", "tags": "text",
                                         "when": "date"}
    records = desk.rows(resource_id)["records"]
    assert records[0]["tags"] == '["x"]' and records[1]["tags"] is None


def test_geojson_feature_collection(desk):  # noqa: ANN001
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [129.16, 35.16]},
         "properties": {"place": "해운대", "visitors": 1000}},
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[129, 35], [129.1, 35], [129, 35.1],
                                                                             [129, 35]]]},
         "properties": {"place": "구역", "visitors": 5}},
    ]}
    resource_id = desk.load("places.geojson", json.dumps(fc).encode())
    assert _types(desk, resource_id) == {"_id": "integer", "place": "text", "visitors": "integer",
                                         "geometry": "geometry", "lon": "number", "lat": "number"}
    first = desk.rows(resource_id)["records"][0]
    assert first["lon"] == 129.16 and json.loads(first["geometry"])["type"] == "Point"


def test_lat_lon_columns_become_a_geometry(desk):  # noqa: ANN001
    resource_id = desk.load("stops.csv", "name,위도,경도\nA,35.1,129.0\nB,35.2,129.1\n".encode())
    types = _types(desk, resource_id)
    assert types["geometry"] == "geometry"
    assert json.loads(desk.rows(resource_id)["records"][0]["geometry"]) == {"type": "Point",
                                                                            "coordinates": [129, 35.1]}


def test_mixed_unambiguous_date_formats_are_normalised(desk):  # noqa: ANN001
    text = "day,n\n2024-01-05,1\n2024.01.06,2\n2024/1/7,3\n20240108,4\n"
    resource_id = desk.load("dates.csv", text.encode())
    assert _types(desk, resource_id)["day"] == "date"
    assert [r["day"] for r in desk.rows(resource_id)["records"]] == ["2024-01-05", "2024-01-06", "2024-01-07",
                                                                     "2024-01-08"]


def test_ambiguous_dates_stay_text_with_a_warning(desk):  # noqa: ANN001
    resource_id = desk.load("dates.csv", b"day\n2024-01-05\n01/02/2024\n")
    info = desk.client.get(f"/api/v1/datastore/{resource_id}/fields", headers=desk.headers).json()
    assert {f["id"]: f["type"] for f in info["fields"]}["day"] == "text"
    assert any("line 3" in w for w in info["warnings"])


def test_late_na_in_numeric_column_is_null_and_late_word_makes_text(desk):  # noqa: ANN001
    lines = ["a,b"] + [f"{i},{i}" for i in range(5000)] + ["N/A,oops"]
    resource_id = desk.load("late.csv", "\n".join(lines).encode())
    types = _types(desk, resource_id)
    assert types["a"] == "integer" and types["b"] == "text"
    info = desk.client.get(f"/api/v1/datastore/{resource_id}/fields", headers=desk.headers).json()
    assert any('line 5002 has "oops"' in w for w in info["warnings"])


def test_sql_keyword_and_quoted_column_names_work(desk):  # noqa: ANN001
    text = 'select,from,"say ""hi""",order,group\n1,a,x,2024-01-01,g\n2,b,y,2024-01-02,g\n'
    resource_id = desk.load("kw.csv", text.encode())
    body = desk.rows(resource_id, sort='from desc', filters=json.dumps({"select": 1, 'say "hi"': "x"}))
    assert body["total"] == 1 and body["records"][0]['say "hi"'] == "x"
    assert body["records"][0]["order"] == "2024-01-01"


def test_reupload_and_delete_leave_no_table(desk):  # noqa: ANN001
    from tests.datastore.helpers import leftovers

    resource_id = desk.load("a.csv", b"a\n1\n")
    assert leftovers(desk.client)["tables"] == [resource_id]
    response = desk.client.delete(f"/api/v1/resources/{resource_id}", headers=desk.headers)
    assert response.status_code == 204, response.text
    left = leftovers(desk.client)
    assert left["tables"] == [] and left["registered"] == 0
    assert desk.client.get(f"/api/v1/datastore/{resource_id}").status_code == 404
