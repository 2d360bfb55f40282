"""Broad word searches (search_broad.py): title hits first, newest-changed first, estimated facets —
and, whatever the path, totals, pages and facets agree with the joined path and never include what
the caller may not see. The limits are lowered so a handful of datasets takes the broad rules."""

from __future__ import annotations

import pytest

from cityhub.catalog import search_broad

ALL_LEVELS = [("filter", "access_level:public"), ("filter", "access_level:internal"),
              ("filter", "access_level:restricted")]


@pytest.fixture
def city(client, people):  # noqa: ANN001, ANN201
    people.org("welfare", "복지국")
    people.org("acme", "ACME 주식회사", kind="company")
    steward = people.user("steward@city.test", role="steward", org="welfare")
    outsider = people.user("dev@acme.test", role="citizen", org="acme")
    citizen = people.user("citizen@city.test")
    analyst = people.user("analyst@city.test", role="analyst")  # city staff: reads internal, not restricted
    return {"steward": steward, "outsider": outsider, "citizen": citizen, "analyst": analyst}


def make(client, person, **fields):  # noqa: ANN001, ANN003, ANN201
    response = client.post("/api/v1/datasets", json={"owner_org": person.org, **fields}, headers=person.headers)
    assert response.status_code == 201, response.text
    return response.json()


def seed(client, steward) -> None:  # noqa: ANN001
    for i in range(4):
        make(client, steward, name=f"title-{i}", title=f"복지시설 목록 {i}", keywords=["복지", f"k{i % 2}"],
             theme="welfare")
        make(client, steward, name=f"notes-{i}", title=f"시설 현황 {i}", notes="노인 복지 관련 자료",
             keywords=["시설"], theme="population")
    make(client, steward, name="inside", title="복지 담당자 현황", keywords=["복지", "내부"],
         theme="welfare", access_level="internal")
    make(client, steward, name="secret", title="복지 수급자 명단", keywords=["복지", "비밀"],
         theme="welfare", access_level="restricted")
    make(client, steward, name="draft", title="복지 초안", state="draft")


def search(client, person, *extra, **params):  # noqa: ANN001, ANN002, ANN003, ANN201
    headers = person.headers if person else {}
    query = [("q", "복지"), *extra, *params.items()]
    response = client.get("/api/v1/datasets", params=query, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def broad(monkeypatch):  # noqa: ANN001, ANN201
    """Every search above 0 matches takes the broad rules; the sample is the whole match set."""
    monkeypatch.setattr(search_broad, "RANK_LIMIT", 0)
    monkeypatch.setattr(search_broad, "FACET_EXACT_LIMIT", 0)
    monkeypatch.setattr(search_broad, "FACET_SAMPLE", 10**9)


def test_broad_search_agrees_with_joined_path_for_every_caller(client, city, broad) -> None:  # noqa: ANN001
    seed(client, city["steward"])
    expected_totals = {None: 8, "outsider": 8, "citizen": 8, "analyst": 9, "steward": 10}
    for who, total in expected_totals.items():
        person = city[who] if who else None
        fast = search(client, person, limit=100)
        joined = search(client, person, *ALL_LEVELS, limit=100)  # a filter forces the joined path
        assert fast["total"] == joined["total"] == total, who
        assert sorted(d["name"] for d in fast["items"]) == sorted(d["name"] for d in joined["items"])
        assert fast["facets"] == joined["facets"], who
        names = {d["name"] for d in fast["items"]}
        assert "draft" not in names
        assert ("secret" in names) == (who == "steward")
        assert ("inside" in names) == (who in ("analyst", "steward"))
        assert ("비밀" in fast["facets"]["keywords"]) == (who == "steward")


def test_title_hits_come_first_then_newest_changed(client, city, broad) -> None:  # noqa: ANN001
    s = city["steward"]
    seed(client, s)
    names = [d["name"] for d in search(client, None, limit=100)["items"]]
    assert names[:4] == ["title-3", "title-2", "title-1", "title-0"]
    assert names[4:] == ["notes-3", "notes-2", "notes-1", "notes-0"]
    # a change moves a dataset to the front of its group
    assert client.patch("/api/v1/datasets/notes-0", json={"notes_en": "welfare"}, headers=s.headers).status_code == 200
    names = [d["name"] for d in search(client, None, limit=100)["items"]]
    assert names[4] == "notes-0" and names[0] == "title-3"
    # pages across the title/other boundary join up exactly
    paged = []
    for offset in range(0, 8, 3):
        paged += [d["name"] for d in search(client, None, limit=3, offset=offset)["items"]]
    assert paged == names


def test_sampled_facets_are_scaled_estimates_of_visible_matches(client, city, monkeypatch) -> None:  # noqa: ANN001
    seed(client, city["steward"])
    monkeypatch.setattr(search_broad, "FACET_EXACT_LIMIT", 0)
    monkeypatch.setattr(search_broad, "FACET_SAMPLE", 4)  # about half the 8 public matches
    result = search(client, None)
    assert result["total"] == 8
    facets = result["facets"]
    assert set(facets["access_level"]) == {"public"}
    assert "비밀" not in facets["keywords"] and "내부" not in facets["keywords"]
    assert set(facets["theme"]) <= {"welfare", "population"}
    assert sum(facets["theme"].values()) in range(6, 11)  # scaled to the exact total, give or take rounding


def test_other_sorts_order_all_visible_matches(client, city, broad) -> None:  # noqa: ANN001
    seed(client, city["steward"])
    fast = search(client, city["analyst"], sort="name", limit=100)
    joined = search(client, city["analyst"], *ALL_LEVELS, sort="name", limit=100)
    assert [d["name"] for d in fast["items"]] == [d["name"] for d in joined["items"]]
    assert fast["items"][0]["name"] == "inside"


def test_dataset_scoped_token_finds_only_its_datasets(client, city, people) -> None:  # noqa: ANN001
    """A token scoped to one dataset (the data market) reads nothing wholesale, not even public ones."""
    from cityhub.auth import service as auth_service

    seed(client, city["steward"])
    target = client.get("/api/v1/datasets/title-1").json()["id"]
    with people._ctx() as ctx:
        token = auth_service.create_token(ctx, user_id=city["citizen"].user_id, scopes=f"dataset:{target}").token
        ctx.db.commit()
    headers = {"Authorization": f"Bearer {token}"}
    for params in ({"q": "복지"}, {}):  # the broad path and the stored-count browse
        result = client.get("/api/v1/datasets", params=params, headers=headers).json()
        assert result["total"] == 1 and [d["name"] for d in result["items"]] == ["title-1"], params
        assert result["facets"]["access_level"] == {"public": 1}


def test_facet_codes_follow_every_change(client, city, broad) -> None:  # noqa: ANN001
    """Facets are counted from each row's stored value codes (search_codes.py): after an update that
    hides a dataset or changes its values, and after a delete, no path counts what it was."""
    steward = city["steward"]
    seed(client, steward)
    patch = client.patch("/api/v1/datasets/title-0", headers=steward.headers,
                         json={"keywords": ["복지", "새말"], "theme": "economy", "access_level": "restricted"})
    assert patch.status_code == 200, patch.text
    assert client.delete("/api/v1/datasets/title-1", headers=steward.headers).status_code in (200, 204)
    for who in (None, "analyst", "steward"):
        person = city[who] if who else None
        fast = search(client, person)
        joined = search(client, person, *ALL_LEVELS[:1 if who is None else 3])
        for result in (fast, joined):
            facets = result["facets"]
            assert sum(facets["theme"].values()) == result["total"], who
            assert ("새말" in facets["keywords"]) == ("economy" in facets["theme"]) == (who == "steward"), who
            assert facets["keywords"].get("k1", 0) == 1, who  # title-1 deleted, title-3 left


def test_facet_codes_held_in_memory_follow_changes_made_after_they_were_read(client, city, broad) -> None:  # noqa: ANN001
    """The codes a worker holds (search_code_cache.py) are checked against the database's token on every
    search: a change committed after they were read — here to the newest dataset, whose key the database
    would hand out again if keys could be reused — and a full rebuild are both seen by the next search."""
    from cityhub.catalog import search as catalog_search

    steward = city["steward"]
    seed(client, steward)
    assert search(client, None)["facets"]["keywords"]["k1"] == 2  # the codes are now held
    make(client, steward, name="newest", title="복지 새 자료", keywords=["복지", "첫말"])
    assert search(client, None)["facets"]["keywords"]["첫말"] == 1
    assert client.delete("/api/v1/datasets/newest", headers=steward.headers).status_code in (200, 204)
    make(client, steward, name="newer", title="복지 다른 자료", keywords=["복지", "둘째말"])
    patch = client.patch("/api/v1/datasets/newer", headers=steward.headers, json={"keywords": ["복지", "셋째말"]})
    assert patch.status_code == 200, patch.text
    keywords = search(client, None)["facets"]["keywords"]
    assert "첫말" not in keywords and "둘째말" not in keywords and keywords["셋째말"] == 1
    with client.app.state.session_factory() as db:
        catalog_search.rebuild(db)  # every key given out afresh
        db.commit()
    result = search(client, None)
    assert result["facets"] == search(client, None, *ALL_LEVELS[:1])["facets"]
    assert result["facets"]["keywords"]["셋째말"] == 1 and result["total"] == 9
