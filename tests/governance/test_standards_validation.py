"""Standards (terms, code lists, schemas) and validation on the write paths with the quarantine."""

from __future__ import annotations

import io

import pytest

from cityhub.errors import Invalid
from cityhub.governance.ruleset import RuleSet
from cityhub.governance.validation import RULES, rule_from_descriptor

SCHEMA = {"schema": {"fields": [
    {"name": "측정소ID", "type": "string", "constraints": {"required": True, "unique": True,
                                                          "pattern": "[A-Z]{2}[0-9]{3}"}},
    {"name": "시군구코드", "type": "string", "codeList": "busan-district"},
    {"name": "PM10", "type": "number", "unit": "㎍/㎥", "constraints": {"minimum": 0, "maximum": 1000}},
    {"name": "등급", "type": "string", "constraints": {"enum": ["좋음", "보통", "나쁨", "매우나쁨"]}},
    {"name": "시작일자", "type": "date"},
    {"name": "종료일자", "type": "date"},
]}, "rules": [{"type": "compare", "left": "시작일자", "op": "<=", "right": "종료일자"}]}

CSV = """측정소ID,시군구코드,PM10,등급,시작일자,종료일자
AB001,26110,35,보통,2025-01-01,2025-01-02
AB002,26140,2000,보통,2025-01-01,2025-01-02
AB003,99999,12,좋음,2025-01-01,2025-01-02
ab004,26110,10,좋음,2025-01-01,2025-01-02
AB001,26110,10,좋음,2025-01-01,2025-01-02
AB006,26110,10,최악,2025-01-05,2025-01-02
AB007,26110,40,보통,2025-01-01,2025-01-03
"""


def test_rule_descriptors_load_and_refuse_unknown_types() -> None:
    assert {"required", "type", "minimum", "maximum", "pattern", "enum", "unique", "code_list", "compare"} <= set(RULES)
    rule = rule_from_descriptor({"type": "maximum", "field": "pm10", "value": 100})
    assert [v.message for v in rule.validate_row({"pm10": 150})] == ['field "pm10": 150 is above the maximum 100']
    with pytest.raises(Invalid, match="unknown rule type"):
        rule_from_descriptor({"type": "nope"})
    with pytest.raises(Invalid, match="maximum"):
        rule_from_descriptor({"type": "maximum", "field": "x"})
    unique = RuleSet([rule_from_descriptor({"type": "unique", "fields": ["id"]})])
    accepted, rejected = unique.validate_rows([{"id": 1}, {"id": 2}, {"id": 1}])
    assert len(accepted) == 2 and rejected[0].index == 2 and rejected[0].violations[0].rule == "unique"


def test_terms_code_lists_and_field_mapping(sqlite_client, sqlite_people) -> None:  # noqa: ANN001
    client, people = sqlite_client, sqlite_people
    terms = client.get("/api/v1/governance/terms").json()
    assert terms["total"] >= 100
    by_name = {t["name_ko"]: t for t in terms["items"]}
    assert by_name["주소"]["abbr"] == "ADDR" and by_name["전화번호"]["domain"] == "전화번호V20"
    codes = client.get("/api/v1/governance/code-lists/busan-district").json()["codes"]
    assert len(codes) == 16 and {"code": "26110", "label": "중구", "label_en": "Jung-gu"} in codes

    names = ["주소", "TELNO", "PM10(㎍/㎥)", "전화번"]
    matches = client.post("/api/v1/governance/terms/match", json={"fields": names}).json()
    assert matches[0]["standard"] and matches[1]["term"]["name_ko"] == "전화번호"
    assert not matches[3]["standard"] and matches[3]["suggestions"][0]["name_ko"] == "전화번호"
    assert "nearest" in matches[3]["warning"]

    steward = people.user("s@city.test", role="steward")
    citizen = people.user("c@city.test")
    body = {"name_ko": "충전기ID", "name_en": "Charger ID", "abbr": "CHGR_ID", "domain": "번호V20",
            "data_type": "VARCHAR", "length": 20}
    assert client.post("/api/v1/governance/terms", json=body, headers=citizen.headers).status_code == 403
    created = client.post("/api/v1/governance/terms", json=body, headers=steward.headers)
    assert created.status_code == 201, created.text
    assert client.post("/api/v1/governance/terms", json=body, headers=steward.headers).status_code == 409
    new_list = {"title": "등급", "codes": [{"code": "1", "label": "좋음"}, {"code": "2", "label": "보통"}]}
    assert client.put("/api/v1/governance/code-lists/grade", json=new_list, headers=steward.headers).status_code == 200


def _dataset(client, people):  # noqa: ANN001, ANN202
    people.org("env", "환경정책과")
    steward = people.user("s@city.test", role="steward", org="env")
    body = {"name": "air", "title": "대기 측정", "owner_org": "env", "access_level": "public"}
    assert client.post("/api/v1/datasets", json=body, headers=steward.headers).status_code == 201
    return steward


def test_upload_quarantines_bad_rows_and_keeps_good_ones(client, people) -> None:  # noqa: ANN001
    steward = _dataset(client, people)
    citizen = people.user("c@city.test")
    assert client.put("/api/v1/governance/datasets/air/schema", json=SCHEMA, headers=citizen.headers).status_code == 403
    r = client.put("/api/v1/governance/datasets/air/schema", json=SCHEMA, headers=steward.headers)
    assert r.status_code == 200, r.text
    terms = {t["field"]: t for t in r.json()["terms"]}
    assert terms["시군구코드"]["standard"] and not terms["측정소ID"]["standard"]
    bad = {"schema": {"fields": [{"name": "x", "type": "string", "codeList": "nope"}]}}
    assert client.put("/api/v1/governance/datasets/air/schema", json=bad, headers=steward.headers).status_code == 422

    files = {"upload": ("air.csv", io.BytesIO(CSV.encode()), "text/csv")}
    r = client.post("/api/v1/datasets/air/resources", files=files, headers=steward.headers)
    assert r.status_code == 201, r.text
    res_id = r.json()["id"]
    rows = client.get(f"/api/v1/datastore/{res_id}").json()
    assert [rec["측정소ID"] for rec in rows["records"]] == ["AB001", "AB007"]
    assert {f["id"]: f["type"] for f in rows["fields"]}["PM10"] == "integer"

    q = client.get("/api/v1/governance/datasets/air/quarantine", headers=steward.headers).json()
    assert q["total"] == 5
    by_line = {item["line"]: {e["rule"] for e in item["errors"]} for item in q["items"]}
    assert by_line == {3: {"maximum"}, 4: {"code_list"}, 5: {"pattern"}, 6: {"unique"}, 7: {"enum", "compare"}}
    first = q["items"][0]
    assert first["errors"][0]["value"] == "2000" and "maximum" in first["errors"][0]["message"]
    assert client.get("/api/v1/governance/datasets/air/quarantine", headers=citizen.headers).status_code == 403

    # a steward fixes a row and re-submits it; a still-broken one stays with its new reason
    still = client.post(f"/api/v1/governance/datasets/air/quarantine/{first['id']}/resubmit",
                        json={"record": {"PM10": "-5"}}, headers=steward.headers).json()
    assert still["status"] == "open" and still["errors"][0]["rule"] == "minimum"
    fixed = client.post(f"/api/v1/governance/datasets/air/quarantine/{first['id']}/resubmit",
                        json={"record": {"PM10": "200"}}, headers=steward.headers).json()
    assert fixed["status"] == "resubmitted"
    rows = client.get(f"/api/v1/datastore/{res_id}", params={"sort": "_id"}).json()
    assert rows["total"] == 3 and rows["records"][-1]["PM10"] == 200
    gone = q["items"][1]["id"]
    assert client.post(f"/api/v1/governance/datasets/air/quarantine/{gone}/discard",
                       headers=steward.headers).json()["status"] == "discarded"
    assert client.get("/api/v1/governance/datasets/air/quarantine", headers=steward.headers).json()["total"] == 3

    # the API write path: valid rows stored, invalid ones quarantined with their rule
    r = client.post(f"/api/v1/governance/resources/{res_id}/rows", headers=steward.headers, json={"rows": [
        {"측정소ID": "AB010", "시군구코드": "26200", "PM10": 20, "등급": "좋음", "시작일자": "2025-02-01",
         "종료일자": "2025-02-02"},
        {"측정소ID": "AB011", "시군구코드": "26200", "PM10": 5000, "등급": "좋음"}]})
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 1 and r.json()["quarantined"] == 1
    assert client.get(f"/api/v1/datastore/{res_id}").json()["total"] == 4
    api_rows = client.get("/api/v1/governance/datasets/air/quarantine", params={"origin": "api"},
                          headers=steward.headers).json()
    assert api_rows["items"][0]["errors"][0]["rule"] == "maximum"
