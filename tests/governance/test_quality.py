"""Quality scores: per dataset from each write's own rows, over time, sortable in search, a report,
a badge and the ranking of organizations (restricted datasets count only for those who may see them)."""

from __future__ import annotations

import io

SCHEMA = {"schema": {"fields": [
    {"name": "id", "type": "integer", "constraints": {"required": True, "unique": True}},
    {"name": "시군구코드", "type": "string", "codeList": "busan-district"},
    {"name": "값", "type": "number", "constraints": {"minimum": 0}},
]}}
GOOD = "id,시군구코드,값\n1,26110,3\n2,26140,4\n3,26170,\n4,26200,5\n"
BAD = "id,시군구코드,값\n1,26110,3\n1,26140,4\n3,99999,5\n4,26200,-1\n"


def _make(client, people, name, org, csv_text, access="public", **meta):  # noqa: ANN001, ANN003, ANN202
    steward = people.user(f"{name}@city.test", role="steward", org=org)
    body = {"name": name, "title": name, "owner_org": org, "access_level": access, **meta}
    assert client.post("/api/v1/datasets", json=body, headers=steward.headers).status_code == 201
    assert client.put(f"/api/v1/governance/datasets/{name}/schema", json=SCHEMA,
                      headers=steward.headers).status_code == 200
    files = {"upload": ("d.csv", io.BytesIO(csv_text.encode()), "text/csv")}
    r = client.post(f"/api/v1/datasets/{name}/resources", files=files, headers=steward.headers)
    assert r.status_code == 201, r.text
    return steward


def test_scores_dimensions_history_sort_report_and_ranking(client, people) -> None:  # noqa: ANN001
    people.org("env", "환경정책과")
    people.org("traffic", "교통정책과")
    people.org("secret", "비공개부서")
    steward = _make(client, people, "good", "env", GOOD, notes="설명", keywords=["대기"], theme="environment",
                    license_id="KOGL-1", update_frequency="daily", contact_email="a@b.c")
    _make(client, people, "bad", "traffic", BAD)
    _make(client, people, "hidden", "secret", GOOD, access="restricted")

    good = client.get("/api/v1/governance/datasets/good/quality").json()
    bad = client.get("/api/v1/governance/datasets/bad/quality").json()
    assert good["dimensions"]["validity"] == 100 and good["dimensions"]["completeness"] == round(100 * 11 / 12, 1)
    assert bad["dimensions"]["validity"] == 25.0  # 3 of 4 rows refused
    assert bad["dimensions"]["uniqueness"] == 75.0 and bad["dimensions"]["consistency"] == 75.0
    assert good["total"] > bad["total"] and good["grade"] in "ABC"
    assert "notes" in bad["dimensions"]["missing_metadata"]

    # search sorts by quality; restricted datasets stay out of it and out of the ranking for outsiders
    names = [d["name"] for d in client.get("/api/v1/datasets", params={"sort": "quality"}).json()["items"]]
    assert names == ["good", "bad"]
    assert [d["name"] for d in client.get("/api/v1/datasets", params={"sort": "-quality"}).json()["items"]] == \
        ["bad", "good"]
    ranking = client.get("/api/v1/governance/quality/organizations").json()
    assert [r["organization"] for r in ranking] == ["env", "traffic"] and ranking[0]["rank"] == 1
    admin = people.admin()
    assert "secret" in [r["organization"] for r in client.get("/api/v1/governance/quality/organizations",
                                                                headers=admin.headers).json()]
    assert client.get("/api/v1/governance/datasets/hidden/quality").status_code == 404

    # rows through the API update the score incrementally; metadata edits rescore too
    res_id = client.get("/api/v1/datasets/good").json()["resources"][0]["id"]
    r = client.post(f"/api/v1/governance/resources/{res_id}/rows", headers=steward.headers,
                    json={"rows": [{"id": 9, "시군구코드": "11111", "값": 1}]})
    assert r.json()["quarantined"] == 1
    after = client.get("/api/v1/governance/datasets/good/quality").json()
    assert after["dimensions"]["validity"] == 80.0 and after["dimensions"]["rows"] == 4
    assert client.patch("/api/v1/datasets/good", json={"spatial": "부산"}, headers=steward.headers).status_code == 200
    history = client.get("/api/v1/governance/datasets/good/quality/history").json()
    assert [h["trigger"] for h in history[:2]] == ["metadata", "api"] and len(history) >= 3

    report = client.get("/api/v1/governance/datasets/good/quality/report.csv")
    assert report.status_code == 200 and "attachment" in report.headers["content-disposition"]
    assert "validity,80.0" in report.text
    badge = client.get("/api/v1/governance/datasets/good/quality/badge.svg")
    assert badge.headers["content-type"].startswith("image/svg+xml") and "품질" in badge.text
