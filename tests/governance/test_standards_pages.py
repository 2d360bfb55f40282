"""Steward pages for terms, code lists and dataset schemas (Korean and English): the forms save through
the services, a refused form comes back filled in with the reason, and non-stewards cannot edit."""

from __future__ import annotations

import re


def test_steward_edits_terms_code_lists_and_a_schema_through_forms(sqlite_client, sqlite_people) -> None:  # noqa: ANN001
    client, people = sqlite_client, sqlite_people
    people.org("env", "환경정책과")
    steward = people.user("s@city.test", role="steward", org="env")
    citizen = people.user("c@city.test")
    body = {"name": "air", "title": "대기 측정", "owner_org": "env", "access_level": "public"}
    assert client.post("/api/v1/datasets", json=body, headers=steward.headers).status_code == 201
    ko, en = {**steward.headers, "accept-language": "ko"}, {**steward.headers, "accept-language": "en"}

    # terms: the dictionary links to the forms for stewards only; both languages
    assert "/governance/terms/new" in client.get("/governance/terms", headers=ko).text
    assert "/governance/terms/new" not in client.get("/governance/terms", headers=citizen.headers).text
    assert "표준용어 추가" in client.get("/governance/terms/new", headers=ko).text
    assert "Add a standard term" in client.get("/governance/terms/new", headers=en).text
    assert client.get("/governance/terms/new", headers=citizen.headers).status_code == 403
    term = {"name_ko": "충전기번호", "name_en": "Charger number", "abbr": "chgr_no", "domain": "번호V20",
            "data_type": "VARCHAR", "length": "20", "format": "", "description": "전기차 충전기"}
    bad = client.post("/governance/terms/new", data={**term, "data_type": "BLOB"}, headers=ko)
    assert bad.status_code == 422 and "data_type" in bad.text and 'value="충전기번호"' in bad.text
    saved = client.post("/governance/terms/new", data=term, headers=ko, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    again = client.post("/governance/terms/new", data=term, headers=ko)
    assert again.status_code == 422 and "name_ko" in again.text  # already in the dictionary
    listed = client.get("/api/v1/governance/terms", params={"q": "충전기번호"}).json()["items"][0]
    assert listed["abbr"] == "CHGR_NO" and listed["length"] == 20
    form = client.get(f"/governance/terms/{listed['id']}/edit", headers=ko).text
    assert 'value="CHGR_NO"' in form
    r = client.post(f"/governance/terms/{listed['id']}/edit", data={**term, "name_en": "EV charger number",
                                                                     "personal": "true"},
                    headers=ko, follow_redirects=False)
    assert r.status_code == 303
    changed = client.get("/api/v1/governance/terms", params={"q": "충전기번호"}).json()["items"][0]
    assert changed["name_en"] == "EV charger number" and changed["personal"] is True
    assert client.post(f"/governance/terms/{listed['id']}/edit", data=term,
                       headers=citizen.headers).status_code == 403

    # code lists
    page = client.get("/governance/code-lists", headers=ko).text
    assert "busan-district" in page and "코드 목록" in page and "/governance/code-lists/busan-district/edit" in page
    assert "/edit" not in client.get("/governance/code-lists", headers=citizen.headers).text
    edit = client.get("/governance/code-lists/busan-district/edit", headers=en).text
    assert "26110,중구,Jung-gu" in edit
    broken = client.post("/governance/code-lists/new", headers=en,
                         data={"name": "grade", "title": "등급", "title_en": "", "codes": "1,좋음\nno-label"})
    assert broken.status_code == 422 and "line 2" in broken.text and "no-label" in broken.text
    made = client.post("/governance/code-lists/new", headers=en, follow_redirects=False,
                       data={"name": "grade", "title": "등급", "title_en": "Grade", "codes": "1,좋음,Good\n2,나쁨,Bad"})
    assert made.status_code == 303
    codes = client.get("/api/v1/governance/code-lists/grade").json()["codes"]
    assert codes == [{"code": "1", "label": "좋음", "label_en": "Good"},
                     {"code": "2", "label": "나쁨", "label_en": "Bad"}]

    # a dataset's schema: one row per field plus blank rows for new ones
    gov = client.get("/governance/dataset/air", headers=ko).text
    assert "/governance/dataset/air/schema" in gov
    form = client.get("/governance/dataset/air/schema", headers=ko).text
    assert "스키마 편집" in form and 'name="rows" value="3"' in form
    fields = {"rows": "3", "f0-name": "측정소", "f0-type": "string", "f0-required": "true",
              "f0-pattern": "[A-Z]{2}[0-9]{3}",
              "f1-name": "PM10", "f1-type": "number", "f1-minimum": "0", "f1-maximum": "1000", "f1-unit": "㎍/㎥",
              "f2-name": "등급", "f2-type": "string", "f2-codeList": "grade", "primaryKey": "측정소",
              "rules": "[]"}
    refused = client.post("/governance/dataset/air/schema", headers=en, data={**fields, "rules": "[{"})
    assert refused.status_code == 422 and "rules" in refused.text and 'value="PM10"' in refused.text
    refused = client.post("/governance/dataset/air/schema", headers=en, data={**fields, "f1-type": "money"})
    assert refused.status_code == 422 and "must be one of" in refused.text
    ok = client.post("/governance/dataset/air/schema", headers=en, data=fields, follow_redirects=False)
    assert ok.status_code == 303, ok.text
    schema = client.get("/api/v1/governance/datasets/air/schema").json()["schema"]
    by_name = {f["name"]: f for f in schema["fields"]}
    assert by_name["PM10"]["constraints"] == {"minimum": 0, "maximum": 1000} and by_name["PM10"]["unit"] == "㎍/㎥"
    assert by_name["측정소"]["constraints"] == {"required": True, "pattern": "[A-Z]{2}[0-9]{3}"}
    assert by_name["등급"]["codeList"] == "grade" and schema["primaryKey"] == ["측정소"]
    again = client.get("/governance/dataset/air/schema", headers=ko).text
    assert 'value="PM10"' in again and len(re.findall(r'name="f\d+-name"', again)) == 6
    # removing a field: empty its name
    dropped = client.post("/governance/dataset/air/schema", headers=en, follow_redirects=False,
                          data={**fields, "f2-name": "", "f2-codeList": ""})
    assert dropped.status_code == 303
    names = [f["name"] for f in client.get("/api/v1/governance/datasets/air/schema").json()["schema"]["fields"]]
    assert names == ["측정소", "PM10"]
    assert client.get("/governance/dataset/air/schema", headers=citizen.headers).status_code == 403
    assert client.post("/governance/dataset/air/schema", data=fields, headers=citizen.headers).status_code == 403
