"""Streaming downloads in every format, read back with the matching parser."""

from __future__ import annotations

import csv
import io
import json

import pyarrow.parquet as pq
import pytest

from tests.datastore.helpers import make_desk

CSV = ("구,일자,시각,값,정상,위도,경도\n"
       "해운대구,2024-01-05,2024-01-05 10:00:00,1.5,true,35.16,129.16\n"
       "중구,2024-01-06,2024-01-06 11:30:00,,false,35.10,129.03\n")


@pytest.fixture
def loaded(client, people):  # noqa: ANN001, ANN201
    desk = make_desk(client, people)
    return desk, desk.load("obs.csv", CSV.encode())


def _get(desk, rid, fmt, **params):  # noqa: ANN001, ANN202
    response = desk.client.get(f"/api/v1/datastore/{rid}/download.{fmt}", params=params, headers=desk.headers)
    assert response.status_code == 200, response.text
    return response


def test_csv_and_excel_bom(loaded):  # noqa: ANN001
    desk, rid = loaded
    plain = _get(desk, rid, "csv").content
    rows = list(csv.DictReader(io.StringIO(plain.decode())))
    assert rows[0]["구"] == "해운대구" and rows[0]["시각"] == "2024-01-05T10:00:00" and rows[1]["값"] == ""
    assert rows[0]["정상"] == "true"
    bom = _get(desk, rid, "csv-bom").content
    assert bom.startswith(b"\xef\xbb\xbf") and bom[3:] == plain


def test_filtered_json(loaded):  # noqa: ANN001
    desk, rid = loaded
    records = json.loads(_get(desk, rid, "json", 구="중구").content)
    assert len(records) == 1 and records[0]["일자"] == "2024-01-06" and records[0]["값"] is None


def test_geojson(loaded):  # noqa: ANN001
    desk, rid = loaded
    fc = json.loads(_get(desk, rid, "geojson").content)
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 2
    assert fc["features"][0]["geometry"] == {"type": "Point", "coordinates": [129.16, 35.16]}
    assert fc["features"][0]["properties"]["구"] == "해운대구"


def test_parquet_reads_back_typed(loaded):  # noqa: ANN001
    desk, rid = loaded
    table = pq.read_table(io.BytesIO(_get(desk, rid, "parquet").content))
    assert table.num_rows == 2
    types = {f.name: str(f.type) for f in table.schema}
    assert types["_id"] == "int64" and types["값"] == "double" and types["일자"] == "date32[day]"
    assert types["시각"] == "timestamp[us]" and types["정상"] == "bool"
    assert table.column("구").to_pylist() == ["해운대구", "중구"]


def test_unknown_format_and_geojson_without_geometry(loaded, client, people):  # noqa: ANN001
    desk, rid = loaded
    assert desk.client.get(f"/api/v1/datastore/{rid}/download.xml", headers=desk.headers).status_code == 422
    other = desk.load("plain.csv", b"a\n1\n")
    response = desk.client.get(f"/api/v1/datastore/{other}/download.geojson", headers=desk.headers)
    assert response.status_code == 422 and "geometry" in response.text


def test_large_download_streams(client, people):  # noqa: ANN001
    desk = make_desk(client, people)
    rid = desk.load("big.csv", ("n,t\n" + "".join(f"{i},x{i}\n" for i in range(30_000))).encode())
    with desk.client.stream("GET", f"/api/v1/datastore/{rid}/download.csv", headers=desk.headers) as response:
        chunks = list(response.iter_bytes())
    assert len(chunks) > 1
    assert b"".join(chunks).count(b"\n") == 30_001
