"""Personal data on the write paths: an upload is scanned, findings are kept per column, a dataset
holding untreated personal data cannot be made public, and treated columns stay treated in every
way out (datastore downloads, CKAN datastore_search, SQL, the stored file)."""

from __future__ import annotations

import io
import json

import pyarrow.parquet as pq

RRN = "900101-1234568"  # check digit valid (see test_personal_data)
PHONE = "010-1234-5678"
CSV = (
    "성명,연락처,주민번호,email,구군,위도,경도,방문수\n"
    f"김철수,{PHONE},{RRN},kim@example.com,해운대구,35.16,129.16,3\n"
    "이영희,010-9876-5432,없음,lee@example.org,중구,35.10,129.03,5\n"
)


def _rrn_ok() -> str:
    weights = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
    digits = [int(c) for c in RRN if c.isdigit()]
    check = (11 - sum(d * w for d, w in zip(digits, weights, strict=False)) % 11) % 10
    return f"{RRN[:13]}{check}"


def _setup(client, people, access="restricted"):  # noqa: ANN001, ANN202
    people.org("welfare", "복지국")
    steward = people.user("s@city.test", role="steward", org="welfare")
    body = {"name": "visits", "title": "방문 기록", "owner_org": "welfare", "access_level": access}
    assert client.post("/api/v1/datasets", json=body, headers=steward.headers).status_code == 201
    return steward


def _upload(client, steward, text: str, url: str = "/api/v1/datasets/visits/resources", **form):  # noqa: ANN001, ANN003, ANN202
    files = {"upload": ("visits.csv", io.BytesIO(text.encode()), "text/csv")}
    return client.post(url, files=files, data=form, headers=steward.headers)


def test_untreated_personal_data_blocks_publication_until_treated_everywhere(client, people) -> None:  # noqa: ANN001
    csv_text = CSV.replace(RRN, _rrn_ok())
    steward = _setup(client, people)
    r = _upload(client, steward, csv_text)
    assert r.status_code == 201, r.text
    res_id = r.json()["id"]
    report = client.get("/api/v1/governance/datasets/visits/personal-data", headers=steward.headers).json()
    kinds = {c["column_name"]: c["kinds"] for c in report["columns"]}
    assert "phone" in kinds["연락처"] and "rrn" in kinds["주민번호"] and "email" in kinds["email"]
    assert "name" in kinds["성명"] and not report["may_be_public"]
    assert all(PHONE not in (c["example"] or "") for c in report["columns"])  # findings never hold the value

    r = client.patch("/api/v1/datasets/visits", json={"access_level": "public"}, headers=steward.headers)
    assert r.status_code == 409, r.text
    assert {"연락처", "주민번호", "email", "성명"} <= set(r.json()["errors"])

    for column, how in (("연락처", "mask"), ("성명", "pseudonymise"), ("주민번호", "drop"), ("email", "mask")):
        r = client.post("/api/v1/governance/datasets/visits/personal-data/treatments",
                        json={"resource_id": res_id, "column": column, "treatment": how}, headers=steward.headers)
        assert r.status_code == 200, r.text
        assert r.json()["treatment"] == how
    r = client.patch("/api/v1/datasets/visits", json={"access_level": "public"}, headers=steward.headers)
    assert r.status_code == 200, r.text

    anyone = {}
    outputs = []
    for fmt in ("csv", "json", "geojson"):
        d = client.get(f"/api/v1/datastore/{res_id}/download.{fmt}", headers=anyone)
        assert d.status_code == 200, (fmt, d.text)
        outputs.append(d.content.decode("utf-8-sig"))
    parquet = client.get(f"/api/v1/datastore/{res_id}/download.parquet")
    outputs.append(json.dumps(pq.read_table(io.BytesIO(parquet.content)).to_pylist(), ensure_ascii=False))
    outputs.append(client.get(f"/api/v1/datastore/{res_id}").text)
    ckan = client.post("/api/3/action/datastore_search", json={"resource_id": res_id})
    assert ckan.json()["success"], ckan.text
    outputs.append(json.dumps(ckan.json(), ensure_ascii=False))
    sql = client.post("/api/v1/sql", json={"sql": f'SELECT * FROM "{res_id}"'})
    assert sql.status_code == 200, sql.text
    outputs.append(sql.text)
    outputs.append(client.get(f"/api/v1/resources/{res_id}/file").content.decode())
    for text in outputs:
        assert PHONE not in text and "kim@example.com" not in text and "김철수" not in text
        assert _rrn_ok() not in text and "주민번호" not in text
    assert "010-****-5678" in outputs[0] and "k**@example.com" in outputs[0]
    # the text index was rebuilt: searching the old value finds nothing
    assert client.get(f"/api/v1/datastore/{res_id}", params={"q": "5678"}).json()["total"] == 1
    assert client.get(f"/api/v1/datastore/{res_id}", params={"q": "김철수"}).json()["total"] == 0


def test_upload_into_public_dataset_is_refused_or_treated_on_the_way_in(client, people) -> None:  # noqa: ANN001
    steward = _setup(client, people, access="public")
    r = _upload(client, steward, CSV)
    assert r.status_code == 409, r.text
    assert "연락처" in r.json()["errors"] and "성명" in r.json()["errors"]
    assert client.get("/api/v1/datasets/visits", headers=steward.headers).json()["resources"] == []

    r = _upload(client, steward, CSV, url="/api/v1/governance/datasets/visits/uploads",
                personal='{"연락처": "mask", "성명": "pseudonymise", "email": "drop", "주민번호": "drop"}')
    assert r.status_code == 201, r.text
    res_id = r.json()["id"]
    body = client.get(f"/api/v1/datastore/{res_id}").json()
    names = [f["id"] for f in body["fields"]]
    assert "email" not in names and "주민번호" not in names
    assert {rec["연락처"] for rec in body["records"]} == {"010-****-5678", "010-****-5432"}
    assert all(rec["성명"].startswith("p_") for rec in body["records"])
    original = client.get(f"/api/v1/resources/{res_id}/file").content.decode()
    assert PHONE not in original and "김철수" not in original


def test_facility_addresses_and_landlines_do_not_block_publication(client, people) -> None:  # noqa: ANN001
    steward = _setup(client, people, access="public")
    csv_text = ("시설명,소재지도로명주소,대표전화번호\n"
                "해운대도서관,부산광역시 해운대구 센텀중앙로 79,051-123-4567\n"
                "중구청,부산광역시 중구 중구로 120,051-600-4000\n")
    r = _upload(client, steward, csv_text)
    assert r.status_code == 201, r.text
    report = client.get("/api/v1/governance/datasets/visits/personal-data", headers=steward.headers).json()
    assert report["may_be_public"] and {c["column_name"] for c in report["columns"]} >= {"소재지도로명주소"}
