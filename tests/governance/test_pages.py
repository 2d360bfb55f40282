"""Governance pages in Korean and English: dashboard, terms, a dataset's governance view."""

from __future__ import annotations

import io


def test_governance_pages_in_both_languages(sqlite_client, sqlite_people) -> None:  # noqa: ANN001
    client, people = sqlite_client, sqlite_people
    people.org("welfare", "복지국")
    steward = people.user("s@city.test", role="steward", org="welfare")
    body = {"name": "visits", "title": "방문 기록", "owner_org": "welfare", "access_level": "internal"}
    assert client.post("/api/v1/datasets", json=body, headers=steward.headers).status_code == 201
    files = {"upload": ("v.csv", io.BytesIO("성명,연락처\n김철수,010-1234-5678\n".encode()), "text/csv")}
    assert client.post("/api/v1/datasets/visits/resources", files=files, headers=steward.headers).status_code == 201

    ko = client.get("/governance", headers={"Accept-Language": "ko"})
    assert ko.status_code == 200 and "기관별 품질 순위" in ko.text
    en = client.get("/governance", headers={"Accept-Language": "en"})
    assert "Organizations by quality" in en.text
    terms = client.get("/governance/terms", params={"q": "주소"}, headers={"Accept-Language": "ko"})
    assert "ADDR" in terms.text and "표준용어 사전" in terms.text
    page = client.get("/governance/dataset/visits", headers={**steward.headers, "Accept-Language": "ko"})
    assert page.status_code == 200 and "010-****-5678" in page.text and "010-1234-5678" not in page.text
    assert "미조치 개인정보" in page.text
    # outsiders do not learn the dataset exists
    assert client.get("/governance/dataset/visits").status_code == 404
