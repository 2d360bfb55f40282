"""The data market: terms before a request, steward approval/refusal, an expiring grant and a token
scoped to the one dataset (it gains nothing else), usage metered on every data path and shown to both
sides, clear 4xx for refused, undecided, expired and unoffered requests."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import update

from cityhub.auth.models import AccessGrant
from cityhub.governance.models_market import AccessRequest

CSV = "정류장,승차,하차\nA,10,3\nB,20,5\nC,30,7\n"
API = "/api/v1/governance"


def _dataset(client, steward, name, access, market=True):  # noqa: ANN001, ANN202
    body = {"name": name, "title": name, "owner_org": "transit", "access_level": access, "license_id": "KOGL-1",
            "extras": {"market": market}}
    assert client.post("/api/v1/datasets", json=body, headers=steward.headers).status_code == 201
    r = client.post(f"/api/v1/datasets/{name}/resources", headers=steward.headers,
                    files={"upload": ("d.csv", io.BytesIO(CSV.encode()), "text/csv")})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _ask(client, person, name, **over):  # noqa: ANN001, ANN003, ANN202
    today = date.today()
    body = {"purpose": "교통 수요 예측 연구 (research on demand)", "organization": "Acme Mobility",
            "period_start": today.isoformat(), "period_end": (today + timedelta(days=30)).isoformat(),
            "accept_terms": True, "terms_version": "2026-1", **over}
    return client.post(f"{API}/datasets/{name}/access-requests", json=body, headers=person.headers)


def test_request_approve_scoped_token_and_metering(client, people) -> None:  # noqa: ANN001
    people.org("transit", "교통정책과")
    people.org("other", "다른부서")
    steward = people.user("s@city.test", role="steward", org="transit")
    other_steward = people.user("x@city.test", role="steward", org="other")
    corp = people.user("data@acme.test")
    rid = _dataset(client, steward, "bus-od", "restricted")
    open_rid = _dataset(client, steward, "open-od", "public")
    _dataset(client, steward, "hidden-od", "restricted", market=False)

    terms = client.get(f"{API}/datasets/bus-od/access-terms", headers=corp.headers).json()
    assert terms["license_id"] == "KOGL-1" and terms["terms_version"] == "2026-1" and terms["terms"]["ko"]
    assert _ask(client, corp, "bus-od", accept_terms=False).status_code == 422
    assert _ask(client, corp, "bus-od", terms_version="2020").status_code == 422
    assert _ask(client, corp, "hidden-od").status_code == 404  # not offered: as invisible as ever
    assert _ask(client, corp, "no-such").status_code == 404
    assert _ask(client, corp, "open-od").status_code == 409
    assert client.post(f"{API}/datasets/bus-od/access-requests", json={}).status_code in (401, 422)
    r = _ask(client, corp, "bus-od")
    assert r.status_code == 201, r.text
    req = r.json()
    assert req["status"] == "pending" and req["license_id"] == "KOGL-1"
    assert _ask(client, corp, "bus-od").status_code == 409  # one pending request at a time

    assert client.get("/api/v1/datasets/bus-od", headers=corp.headers).status_code == 404
    assert client.post(f"{API}/access-requests/{req['id']}/token", headers=corp.headers).status_code == 409
    decision = f"{API}/access-requests/{req['id']}/decision"
    assert client.post(decision, json={"approve": True}, headers=corp.headers).status_code == 403
    assert client.post(decision, json={"approve": True}, headers=other_steward.headers).status_code == 403
    assert client.post(decision, json={"approve": False}, headers=steward.headers).status_code == 422
    assert [x["id"] for x in client.get(f"{API}/access-requests/inbox", headers=steward.headers).json()] == [req["id"]]
    assert client.get(f"{API}/access-requests/inbox", headers=other_steward.headers).json() == []
    r = client.post(decision, json={"approve": True, "reason": "연구 목적 확인"}, headers=steward.headers)
    assert r.status_code == 200 and r.json()["status"] == "approved" and r.json()["grant_id"]
    assert client.post(decision, json={"approve": False, "reason": "x"}, headers=steward.headers).status_code == 409

    claimed = client.post(f"{API}/access-requests/{req['id']}/token", headers=corp.headers)
    assert claimed.status_code == 201, claimed.text
    token = claimed.json()
    assert token["scopes"].startswith("dataset:") and token["expires_at"]
    scoped = {"Authorization": f"Bearer {token['token']}"}

    # the scoped token reads the granted dataset on every path ...
    assert client.get("/api/v1/datasets/bus-od", headers=scoped).status_code == 200
    assert client.get(f"/api/v1/datastore/{rid}", headers=scoped).json()["total"] == 3
    csv = client.get(f"/api/v1/datastore/{rid}/download.csv", headers=scoped)
    assert csv.status_code == 200
    ckan = client.post("/api/3/action/datastore_search", json={"resource_id": rid, "limit": 2}, headers=scoped)
    assert ckan.status_code == 200 and len(ckan.json()["result"]["records"]) == 2
    sql = client.post("/api/v1/sql", json={"sql": f'SELECT * FROM "{rid}" LIMIT 1'}, headers=scoped)
    assert sql.status_code == 200 and len(sql.json()["records"]) == 1
    ckan_sql = client.get("/api/3/action/datastore_search_sql", params={"sql": f'SELECT * FROM "{rid}"'},
                          headers=scoped)
    assert ckan_sql.status_code == 200, ckan_sql.text
    # ... and gains nothing else: no other dataset (not even public ones), no writes, no new tokens
    assert client.get("/api/v1/datasets/open-od", headers=scoped).status_code == 404
    assert client.get(f"/api/v1/datastore/{open_rid}", headers=scoped).status_code == 404
    other_sql = client.post("/api/v1/sql", json={"sql": f'SELECT * FROM "{open_rid}"'}, headers=scoped)
    assert 400 <= other_sql.status_code < 500
    assert [d["name"] for d in client.get("/api/v1/datasets", headers=scoped).json()["items"]] == ["bus-od"]
    assert client.patch("/api/v1/datasets/bus-od", json={"title": "x"}, headers=scoped).status_code in (403, 404)
    assert client.post(f"{API}/access-requests/{req['id']}/token", headers=scoped).status_code == 403

    mine = client.get(f"{API}/usage/mine", headers=corp.headers).json()
    assert len(mine) == 1 and mine[0]["dataset"] == "bus-od"
    assert mine[0]["requests"] == 5 and mine[0]["rows"] == 3 + 3 + 2 + 1 + 3
    assert mine[0]["bytes"] >= len(csv.content) + len(sql.content)
    seen = client.get(f"{API}/datasets/bus-od/usage", headers=steward.headers).json()
    assert seen[0]["consumer"] == "data@acme.test" and seen[0]["rows"] == 12
    assert client.get(f"{API}/datasets/bus-od/usage", headers=corp.headers).status_code == 403

    for lang, word in (("ko", "데이터 이용 신청"), ("en", "Data access requests")):
        page = client.get("/governance/access", headers={**corp.headers, "accept-language": lang})
        assert page.status_code == 200 and word in page.text and "bus-od" in page.text
    assert "Acme Mobility" in client.get("/governance/access", headers=steward.headers).text

    # the period ends: the grant lapses, reads stop and no new token is issued
    factory = client.app.state.session_factory
    with factory() as db:
        db.execute(update(AccessGrant).where(AccessGrant.id == r.json()["grant_id"])
                   .values(expires_at=datetime.now(UTC) - timedelta(minutes=1)))
        db.execute(update(AccessRequest).where(AccessRequest.id == req["id"])
                   .values(period_end=date.today() - timedelta(days=2)))
        db.commit()
    assert client.get("/api/v1/datasets/bus-od", headers=scoped).status_code == 404
    assert client.get(f"/api/v1/datastore/{rid}", headers=scoped).status_code == 404
    expired = client.post(f"{API}/access-requests/{req['id']}/token", headers=corp.headers)
    assert expired.status_code == 403 and "ended" in expired.text


def test_refused_request(client, people) -> None:  # noqa: ANN001
    people.org("transit", "교통정책과")
    steward = people.user("s2@city.test", role="steward", org="transit")
    researcher = people.user("r@uni.test")
    _dataset(client, steward, "cards", "internal")
    req = _ask(client, researcher, "cards").json()
    r = client.post(f"{API}/access-requests/{req['id']}/decision", headers=steward.headers,
                    json={"approve": False, "reason": "개인정보 포함 (contains personal data)"})
    assert r.status_code == 200 and r.json()["status"] == "refused"
    claim = client.post(f"{API}/access-requests/{req['id']}/token", headers=researcher.headers)
    assert claim.status_code == 403 and "personal data" in claim.text
    assert client.get("/api/v1/datasets/cards", headers=researcher.headers).status_code == 404
    mine = client.get(f"{API}/access-requests/mine", headers=researcher.headers).json()
    assert mine[0]["status"] == "refused" and mine[0]["reason"].startswith("개인정보")
