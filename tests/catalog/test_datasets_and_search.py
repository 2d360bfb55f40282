"""Catalog: dataset CRUD, Korean search, facets and counts that never include what the caller may not see."""

from __future__ import annotations

import pytest


@pytest.fixture
def city(client, people):  # noqa: ANN001, ANN201
    people.org("busan-transport", "도시철도본부", kind="public_body")
    people.org("welfare", "복지국")
    people.org("acme", "ACME 주식회사", kind="company")
    steward = people.user("steward@city.test", role="steward", org="busan-transport")
    welfare = people.user("welfare@city.test", role="steward", org="welfare")
    company = people.user("dev@acme.test", role="citizen", org="acme")
    citizen = people.user("citizen@city.test")
    return {"steward": steward, "welfare": welfare, "company": company, "citizen": citizen}


def make(client, person, **fields):  # noqa: ANN001, ANN003, ANN201
    body = {"owner_org": person.org, **fields}
    response = client.post("/api/v1/datasets", json=body, headers=person.headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_create_show_update_delete(client, city) -> None:  # noqa: ANN001
    s = city["steward"]
    ds = make(client, s, name="bus-routes", title="부산교통공사 버스 노선", title_en="Bus routes",
              keywords=["교통", "버스"], theme="transport", license_id="KOGL-1", update_frequency="monthly")
    assert ds["organization"]["name"] == "busan-transport" and ds["keywords"] == ["교통", "버스"]
    shown = client.get("/api/v1/datasets/bus-routes").json()
    assert shown["id"] == ds["id"] and shown["theme"] == "transport"
    patched = client.patch("/api/v1/datasets/bus-routes", json={"notes": "노선별 정류장"}, headers=s.headers)
    assert patched.status_code == 200 and patched.json()["notes"] == "노선별 정류장"
    assert patched.json()["title"] == "부산교통공사 버스 노선"
    # a citizen may read but not change
    denied = client.patch("/api/v1/datasets/bus-routes", json={"notes": "x"}, headers=city["citizen"].headers)
    assert denied.status_code == 403
    # another organization's steward may not either
    other = client.patch("/api/v1/datasets/bus-routes", json={"notes": "x"}, headers=city["welfare"].headers)
    assert other.status_code == 403
    assert client.delete("/api/v1/datasets/bus-routes", headers=s.headers).status_code == 204
    assert client.get("/api/v1/datasets/bus-routes").status_code == 404


def test_bad_dataset_input_names_the_field(client, city) -> None:  # noqa: ANN001
    s = city["steward"]
    bad = client.post("/api/v1/datasets", json={"name": "Bad Name", "title": "x", "owner_org": s.org},
                      headers=s.headers)
    assert bad.status_code == 422 and "name" in bad.json()["errors"]
    bad = client.post("/api/v1/datasets", json={"name": "ok-name", "title": "x", "owner_org": s.org,
                                                "theme": "nonsense"}, headers=s.headers)
    assert bad.status_code == 422 and "theme" in bad.json()["errors"]
    make(client, s, name="dup", title="x")
    dup = client.post("/api/v1/datasets", json={"name": "dup", "title": "y", "owner_org": s.org}, headers=s.headers)
    assert dup.status_code == 409 and "name" in dup.json()["errors"]
    # stewards create only in their own organizations
    other = client.post("/api/v1/datasets", json={"name": "z1", "title": "z", "owner_org": "welfare"},
                        headers=s.headers)
    assert other.status_code == 403


def test_korean_search_finds_substrings(client, city) -> None:  # noqa: ANN001
    s = city["steward"]
    make(client, s, name="bus-routes", title="부산교통공사 버스 노선", theme="transport")
    make(client, s, name="parking", title="공영주차장 현황", theme="transport", keywords=["주차"])
    make(client, s, name="air", title="Air quality stations", notes="PM2.5 측정소", theme="environment")
    hits = client.get("/api/v1/datasets", params={"q": "교통"}).json()
    assert [d["name"] for d in hits["items"]] == ["bus-routes"]
    assert client.get("/api/v1/datasets", params={"q": "교통공사 노선"}).json()["total"] == 1
    assert client.get("/api/v1/datasets", params={"q": "주차"}).json()["total"] == 1
    assert client.get("/api/v1/datasets", params={"q": "quality"}).json()["items"][0]["name"] == "air"
    assert client.get("/api/v1/datasets", params={"q": "측정소"}).json()["total"] == 1
    assert client.get("/api/v1/datasets", params={"q": "없는단어"}).json()["total"] == 0
    # organization title is searchable too
    assert client.get("/api/v1/datasets", params={"q": "도시철도"}).json()["total"] == 3
    by_theme = client.get("/api/v1/datasets", params={"filter": "theme:transport"}).json()
    assert by_theme["total"] == 2 and by_theme["facets"]["theme"] == {"transport": 2}
    named = client.get("/api/v1/datasets", params={"sort": "name"}).json()
    assert [d["name"] for d in named["items"]] == ["air", "bus-routes", "parking"]
    bad = client.get("/api/v1/datasets", params={"filter": "nonsense:x"})
    assert bad.status_code == 422


def test_counts_and_facets_never_include_what_caller_cannot_see(client, city) -> None:  # noqa: ANN001
    w = city["welfare"]
    make(client, w, name="open-welfare", title="복지시설 목록", keywords=["복지"], theme="welfare")
    make(client, w, name="staff-welfare", title="복지 담당자 현황", keywords=["복지", "내부"],
         theme="welfare", access_level="internal")
    make(client, w, name="secret-welfare", title="복지 수급자 명단", keywords=["복지", "비밀"],
         theme="welfare", access_level="restricted")

    def view(person=None):  # noqa: ANN001, ANN202
        headers = person.headers if person else {}
        r = client.get("/api/v1/datasets", params={"q": "복지"}, headers=headers).json()
        return r["total"], r["facets"].get("keywords", {}), r["facets"].get("access_level", {})

    total, keywords, levels = view()
    assert total == 1 and "비밀" not in keywords and "내부" not in keywords and levels == {"public": 1}
    total, keywords, _ = view(city["company"])  # a company is not a city member
    assert total == 1 and "내부" not in keywords
    total, keywords, _ = view(city["steward"])  # city staff see internal, not restricted
    assert total == 2 and "내부" in keywords and "비밀" not in keywords
    total, keywords, _ = view(w)  # the owner organization sees all
    assert total == 3 and keywords["복지"] == 3
    assert client.get("/api/v1/datasets/secret-welfare", headers=city["steward"].headers).status_code == 404
    assert client.get("/api/v1/datasets/secret-welfare").status_code == 404
    assert client.get("/api/v1/datasets/secret-welfare", headers=w.headers).status_code == 200


def test_restricted_dataset_shared_with_named_organization_and_user(client, city) -> None:  # noqa: ANN001
    w = city["welfare"]
    make(client, w, name="clients", title="수급자 통계", access_level="restricted")
    company, citizen, steward = city["company"], city["citizen"], city["steward"]
    for person in (company, citizen, steward):
        assert client.get("/api/v1/datasets/clients", headers=person.headers).status_code == 404
    # only the publisher's stewards may grant
    denied = client.post("/api/v1/datasets/clients/grants", json={"organization": "acme"}, headers=steward.headers)
    assert denied.status_code == 404
    g = client.post("/api/v1/datasets/clients/grants", json={"organization": "acme"}, headers=w.headers)
    assert g.status_code == 201, g.text
    client.post("/api/v1/datasets/clients/grants", json={"user": "citizen@city.test"}, headers=w.headers)
    assert client.get("/api/v1/datasets/clients", headers=company.headers).status_code == 200
    assert client.get("/api/v1/datasets", params={"q": "수급자"}, headers=citizen.headers).json()["total"] == 1
    assert client.get("/api/v1/datasets", params={"q": "수급자"}, headers=steward.headers).json()["total"] == 0
    bad = client.post("/api/v1/datasets/clients/grants", json={"organization": "acme", "user": "x@y.z"},
                      headers=w.headers)
    assert bad.status_code == 422
    grants = client.get("/api/v1/datasets/clients/grants", headers=w.headers).json()
    assert {x["organization"] or x["user"] for x in grants} == {"acme", "citizen@city.test"}
    revoke = client.delete(f"/api/v1/datasets/clients/grants/{g.json()['id']}", headers=w.headers)
    assert revoke.status_code == 204
    assert client.get("/api/v1/datasets/clients", headers=company.headers).status_code == 404
