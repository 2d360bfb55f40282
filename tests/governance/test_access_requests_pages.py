"""The quality badge on the portal's dataset page and in search results, with alt text in both languages,
and the lineage link; the badge itself answers as SVG."""

from __future__ import annotations


def test_quality_badge_on_portal_pages(sqlite_client, sqlite_people) -> None:  # noqa: ANN001
    client, people = sqlite_client, sqlite_people
    people.org("env", "환경정책과")
    steward = people.user("b@city.test", role="steward", org="env")
    body = {"name": "air-badge", "title": "대기 배지", "owner_org": "env"}
    assert client.post("/api/v1/datasets", json=body, headers=steward.headers).status_code == 201
    badge = 'src="/api/v1/governance/datasets/air-badge/quality/badge.svg"'
    for lang, alt in (("ko", "품질 점수 (Quality score)"), ("en", "Quality score (품질 점수)")):
        headers = {"accept-language": lang}
        page = client.get("/dataset/air-badge", headers=headers).text
        assert badge in page and alt in page and "/governance/dataset/air-badge/lineage" in page
        results = client.get("/dataset", headers=headers).text
        assert badge in results and alt in results
    svg = client.get("/api/v1/governance/datasets/air-badge/quality/badge.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
