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


def test_request_decide_and_rollback_from_pages(sqlite_client, sqlite_people) -> None:  # noqa: ANN001
    from datetime import date, timedelta

    client, people = sqlite_client, sqlite_people
    people.org("transit", "교통정책과")
    steward = people.user("p@city.test", role="steward", org="transit")
    corp = people.user("p@acme.test")
    body = {"name": "od", "title": "기종점", "owner_org": "transit", "access_level": "restricted",
            "license_id": "KOGL-1", "extras": {"market": True}}
    assert client.post("/api/v1/datasets", json=body, headers=steward.headers).status_code == 201
    for lang, word in (("ko", "이용 약관"), ("en", "Terms of use")):
        form = client.get("/governance/access/request/od", headers={**corp.headers, "accept-language": lang})
        assert form.status_code == 200 and word in form.text and "KOGL-1" in form.text
    fields = {"purpose": "연구 목적으로 이용합니다", "organization": "Acme", "terms_version": "2026-1",
              "period_start": date.today().isoformat(), "period_end": (date.today() + timedelta(days=7)).isoformat()}
    refused = client.post("/governance/access/request/od", data=fields, headers=corp.headers, follow_redirects=False)
    assert refused.status_code == 422  # the terms were not accepted
    sent = client.post("/governance/access/request/od", data={**fields, "accept_terms": "true"}, headers=corp.headers,
                       follow_redirects=False)
    assert sent.status_code == 303, sent.text
    req = client.get("/api/v1/governance/access-requests/mine", headers=corp.headers).json()[0]
    inbox = client.get("/governance/access", headers=steward.headers).text
    assert f'/governance/access/{req["id"]}/decide' in inbox
    done = client.post(f"/governance/access/{req['id']}/decide", data={"approve": "true", "reason": ""},
                       headers=steward.headers, follow_redirects=False)
    assert done.status_code == 303
    assert client.get("/api/v1/datasets/od", headers=corp.headers).status_code == 200

    client.patch("/api/v1/datasets/od", json={"title": "기종점 통행량"}, headers=steward.headers)
    page = client.get("/governance/dataset/od/lineage", headers=steward.headers).text
    assert "/governance/dataset/od/versions/1/rollback" in page
    back = client.post("/governance/dataset/od/versions/1/rollback", headers=steward.headers, follow_redirects=False)
    assert back.status_code == 303
    assert client.get("/api/v1/datasets/od", headers=steward.headers).json()["title"] == "기종점"


def test_public_market_listing_shows_licence_and_terms_before_a_request(sqlite_client, sqlite_people) -> None:  # noqa: ANN001
    client, people = sqlite_client, sqlite_people
    people.org("transit", "교통정책과")
    steward = people.user("m@city.test", role="steward", org="transit")
    offered = {"name": "od-market", "title": "기종점 통행량", "title_en": "Origin-destination trips",
               "owner_org": "transit", "access_level": "restricted", "license_id": "KOGL-3",
               "extras": {"market": True}}
    hidden = {"name": "secret-plan", "title": "비공개 계획", "owner_org": "transit", "access_level": "restricted"}
    public = {"name": "open-market", "title": "공개 자료", "owner_org": "transit", "access_level": "public",
              "extras": {"market": True}}
    for body in (offered, hidden, public):
        assert client.post("/api/v1/datasets", json=body, headers=steward.headers).status_code == 201
    for lang, words in (("ko", ("데이터 마켓", "기종점 통행량", "이용 약관", "제3자에게 재제공하지", "제한")),
                        ("en", ("Data market", "Origin-destination trips", "Terms of use", "Request access"))):
        page = client.get("/governance/market", headers={"accept-language": lang})  # anonymous visitor
        assert page.status_code == 200
        for word in words:
            assert word in page.text, (lang, word)
        assert "KOGL-3" in page.text and "/governance/access/request/od-market" in page.text
        # not offered, or public (no request needed): not listed
        assert "비공개 계획" not in page.text and "secret-plan" not in page.text and "open-market" not in page.text
    # the listed dataset's rows stay closed until a request is approved
    assert client.get("/api/v1/datasets/od-market").status_code == 404
    assert "/governance/market" in client.get("/governance/access").text
