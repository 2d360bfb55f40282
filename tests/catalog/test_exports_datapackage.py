"""Frictionless data packages: `frictionless.validate` accepts the descriptor and every row matches the
Table Schema mapped from the datastore's column types; uploaded files carry a verified size and hash."""

from __future__ import annotations

import json
from pathlib import Path

import frictionless
import httpx
import pytest

from tests.conftest import People

CSV = (
    "구,측정일,측정시각,PM10,정상,위도,경도\n"
    "중구,2024-01-05,2024-01-05T10:00:00,41,true,35.10,129.03\n"
    "해운대구,2024-01-06,2024-01-06T11:30:00,37.5,false,35.16,129.16\n"
    "사하구,2024-01-07,2024-01-07T09:15:00,,true,35.09,128.97\n"
).encode("cp949")


@pytest.fixture
def steward(client, people):  # noqa: ANN001, ANN201
    people.org("environment", "환경정책과")
    return people.user("steward@city.test", role="steward", org="environment")


def _make(client, steward, **fields):  # noqa: ANN001, ANN003, ANN202
    body = {"owner_org": "environment", "name": "air-quality", "title": "대기질 측정", "title_en": "Air quality",
            "notes": "구별 미세먼지", "keywords": ["대기", "PM10"], "license_id": "KOGL-1", **fields}
    response = client.post("/api/v1/datasets", json=body, headers=steward.headers)
    assert response.status_code == 201, response.text


def _upload(client, steward, name: str, content: bytes, slug: str = "air-quality"):  # noqa: ANN001, ANN202
    response = client.post(f"/api/v1/datasets/{slug}/resources", files={"upload": (name, content)},
                           headers=steward.headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_descriptor_maps_metadata_types_size_and_hash(client, steward) -> None:  # noqa: ANN001
    _make(client, steward)
    table = _upload(client, steward, "측정값.csv", CSV)
    pdf = _upload(client, steward, "report.pdf", b"%PDF-1.4 report")
    response = client.get("/dataset/air-quality/datapackage.json")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    package = response.json()
    assert package["name"] == "air-quality" and package["title"] == "대기질 측정 · Air quality"
    assert package["description"] == "구별 미세먼지" and package["keywords"] == ["PM10", "대기"]
    assert package["licenses"] == [{"name": "KOGL-1", "path": "https://www.kogl.or.kr/info/licenseType1.do",
                                    "title": package["licenses"][0]["title"]}]
    tabular, document = package["resources"]
    assert tabular["path"].endswith(f"/api/v1/datastore/{table['id']}/download.csv")
    assert tabular["format"] == "csv" and tabular["mediatype"] == "text/csv" and tabular["encoding"] == "utf-8"
    types = {f["name"]: f["type"] for f in tabular["schema"]["fields"]}
    assert types == {"_id": "integer", "구": "string", "측정일": "date", "측정시각": "datetime", "PM10": "number",
                     "정상": "boolean", "위도": "number", "경도": "number", "geometry": "geojson"}
    assert tabular["schema"]["primaryKey"] == ["_id"]
    assert tabular["sources"][0]["path"].endswith(f"/resource/{table['id']}/download")
    assert document["path"].endswith(f"/resource/{pdf['id']}/download")
    assert document["bytes"] == len(b"%PDF-1.4 report") and document["hash"] == f"sha256:{pdf['sha256']}"
    assert document["mediatype"] == "application/pdf" and document["format"] == "pdf"


def test_invisible_dataset_has_no_package(client, steward, people) -> None:  # noqa: ANN001
    _make(client, steward, access_level="restricted")
    assert client.get("/dataset/air-quality/datapackage.json").status_code == 404
    outsider = people.user("citizen@city.test")
    assert client.get("/dataset/air-quality/datapackage.json", headers=outsider.headers).status_code == 404
    assert client.get("/dataset/air-quality/datapackage.json", headers=steward.headers).status_code == 200


def test_frictionless_validates_the_package_over_http(settings, live_server) -> None:  # noqa: ANN001
    """The descriptor's remote paths point at the live server; frictionless reads and checks every row."""
    settings.site_url = live_server.url  # absolute URLs in the descriptor must reach this server
    people = People(live_server.app)  # not the `people` fixture: that would run the app's lifespan twice
    people.org("environment", "환경정책과")
    steward = people.user("steward@city.test", role="steward", org="environment")
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        _make(http, steward, name="air_quality")  # an underscore slug still makes a valid package name
        _upload(http, steward, "측정값.csv", CSV, slug="air_quality")
        _upload(http, steward, "report.pdf", b"%PDF-1.4 report", slug="air_quality")
        descriptor = http.get("/dataset/air_quality/datapackage.json").json()
    assert descriptor["name"] == "air-quality"
    report = frictionless.validate(descriptor)
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    assert report.stats["tasks"] == 2
    assert [t.name for t in report.tasks] == ["resource-1", "report"]  # Korean file names fall back to a number
    assert report.tasks[0].stats["rows"] == 3


def test_frictionless_catches_a_broken_download(tmp_path: Path, client, steward) -> None:  # noqa: ANN001
    """Written to a folder, a package whose file was tampered with fails validation (the hash is real)."""
    _make(client, steward)
    _upload(client, steward, "측정값.csv", CSV)
    _upload(client, steward, "report.pdf", b"%PDF-1.4 report")
    package = client.get("/dataset/air-quality/datapackage.json").json()
    for res in package["resources"]:
        local = tmp_path / f"{res['name']}.{res['format']}"
        local.write_bytes(client.get(res["path"]).content)
        res["path"] = local.name
    (tmp_path / "datapackage.json").write_text(json.dumps(package, ensure_ascii=False), encoding="utf-8")
    assert frictionless.validate(str(tmp_path / "datapackage.json")).valid
    (tmp_path / "report.pdf").write_bytes(b"%PDF-1.4 tampered")
    report = frictionless.validate(str(tmp_path / "datapackage.json"))
    assert not report.valid
    assert {row[0] for row in report.flatten(["type"])} & {"hash-count", "byte-count"}
