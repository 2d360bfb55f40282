"""The CKAN Action API driven by the real `ckanapi` client against the real server (both backends)."""

from __future__ import annotations

import io

import ckanapi
import pytest

from tests.conftest import People


@pytest.fixture
def ckan(live_server):  # noqa: ANN001, ANN201
    """Organizations, people and a ckanapi client for each of them."""
    people = People(live_server.app)
    admin = people.user("admin@city.test", role="admin", password=None)
    people.org("busan-transport", "도시철도본부", kind="public_body")
    people.org("welfare", "복지국")
    people.org("acme", "ACME 주식회사", kind="company")
    steward = people.user("steward@city.test", role="steward", org="busan-transport", password=None)
    colleague = people.user("member@city.test", role="citizen", org="busan-transport", password=None)
    outsider = people.user("dev@acme.test", role="citizen", org="acme", password=None)

    def client(person=None):  # noqa: ANN001, ANN202
        return ckanapi.RemoteCKAN(live_server.url, apikey=person.token if person else None)

    return {"url": live_server.url, "admin": client(admin), "steward": client(steward),
            "colleague": client(colleague), "outsider": client(outsider), "anon": client()}


def _create(api, name, **fields):  # noqa: ANN001, ANN003, ANN202
    return api.action.package_create(name=name, owner_org=fields.pop("owner_org", "busan-transport"), **fields)


def test_package_lifecycle_round_trips(ckan) -> None:  # noqa: ANN001
    admin, steward, anon = ckan["admin"], ckan["steward"], ckan["anon"]
    org = admin.action.organization_create(name="harbour", title="항만국", description="부산항")
    assert org["name"] == "harbour" and org["is_organization"] is True and org["package_count"] == 0
    assert admin.action.organization_show(id="harbour")["title"] == "항만국"

    ds = _create(steward, "bus-routes", title="부산교통공사 버스 노선", notes="노선별 정류장",
                 tags=[{"name": "교통"}, {"name": "버스"}], groups=[{"name": "transport"}],
                 license_id="KOGL-1",
                 extras=[{"key": "source", "value": "BIMS"}, {"key": "update_frequency", "value": "monthly"},
                         {"key": "title_en", "value": "Bus routes"}],
                 resources=[{"url": "https://example.com/routes.csv", "name": "routes", "format": "CSV"}])
    assert ds["type"] == "dataset" and ds["state"] == "active" and ds["private"] is False
    assert ds["organization"]["name"] == "busan-transport" and ds["owner_org"] == ds["organization"]["id"]
    assert [t["name"] for t in ds["tags"]] == ["교통", "버스"] and ds["num_tags"] == 2
    assert set(ds["tags"][0]) == {"id", "name", "display_name", "state", "vocabulary_id"}
    extras = {e["key"]: e["value"] for e in ds["extras"]}
    assert extras["source"] == "BIMS" and extras["theme"] == "transport" and extras["access_level"] == "public"
    assert extras["update_frequency"] == "monthly" and extras["title_en"] == "Bus routes"
    assert extras["synthetic"] == "false"
    assert [g["name"] for g in ds["groups"]] == ["transport"]
    assert ds["license_title"].startswith("공공누리") and ds["isopen"] is True
    assert ds["num_resources"] == 1 and ds["resources"][0]["url"] == "https://example.com/routes.csv"
    assert "+" not in ds["metadata_modified"] and "T" in ds["metadata_modified"]

    shown = anon.action.package_show(id="bus-routes")
    assert shown["id"] == ds["id"] and anon.action.package_show(id=ds["id"])["name"] == "bus-routes"

    patched = steward.action.package_patch(id="bus-routes", notes="새 설명")
    assert patched["notes"] == "새 설명" and patched["title"] == "부산교통공사 버스 노선"
    assert [t["name"] for t in patched["tags"]] == ["교통", "버스"]

    # the CKAN way of updating: show, change, update — our internal level survives as private + extra
    # (extras given to package_patch replace the free extras, as in CKAN)
    steward.action.package_patch(id="bus-routes", private=True,
                                 extras=[{"key": "access_level", "value": "internal"},
                                         {"key": "source", "value": "BIMS"}])
    full = steward.action.package_show(id="bus-routes")
    assert full["private"] is True and {"key": "access_level", "value": "internal"} in full["extras"]
    full["title"] = "버스 노선 (개정)"
    full["tags"] = [{"name": "교통"}]
    updated = steward.action.package_update(**full)
    assert updated["title"] == "버스 노선 (개정)" and [t["name"] for t in updated["tags"]] == ["교통"]
    assert updated["private"] is True and {"key": "access_level", "value": "internal"} in updated["extras"]
    assert {"key": "source", "value": "BIMS"} in updated["extras"] and updated["num_resources"] == 1
    assert updated["groups"][0]["name"] == "transport"

    # update without a resources key keeps them; with a shorter list it drops the missing ones
    updated["resources"] = []
    assert steward.action.package_update(**updated)["num_resources"] == 0

    made_public = steward.action.package_patch(id="bus-routes", private=False)
    assert made_public["private"] is False
    assert {"key": "access_level", "value": "public"} in made_public["extras"]

    assert steward.action.package_delete(id="bus-routes") is None
    with pytest.raises(ckanapi.NotFound):
        anon.action.package_show(id="bus-routes")
    assert "bus-routes" not in anon.action.package_list()


def test_resources_link_and_upload(ckan) -> None:  # noqa: ANN001
    steward, anon = ckan["steward"], ckan["anon"]
    ds = _create(steward, "stations", title="지하철역")
    link = steward.action.resource_create(package_id="stations", url="https://example.com/s.json", name="역 목록",
                                          format="JSON")
    assert link["package_id"] == ds["id"] and link["url_type"] is None and link["format"] == "JSON"
    pdf = io.BytesIO(b"%PDF-1.4 fake pdf for a test\n")
    pdf.name = "map.pdf"
    uploaded = steward.action.resource_create(package_id="stations", upload=pdf, name="노선도")
    assert uploaded["url_type"] == "upload" and uploaded["format"] == "PDF" and uploaded["size"] == 29
    assert len(uploaded["hash"]) == 64 and uploaded["position"] == 1 and uploaded["datastore_active"] is False
    assert anon.action.resource_show(id=uploaded["id"])["name"] == "노선도"
    shown = anon.action.package_show(id="stations")
    assert [r["id"] for r in shown["resources"]] == [link["id"], uploaded["id"]]
    changed = steward.action.resource_patch(id=link["id"], description="설명")
    assert changed["description"] == "설명"
    with pytest.raises(ckanapi.ValidationError) as missing:
        steward.action.resource_create(package_id="stations", name="nothing")
    assert "url" in missing.value.error_dict
    with pytest.raises(ckanapi.NotAuthorized):
        ckan["outsider"].action.resource_create(package_id="stations", url="https://example.com/x")
    steward.action.resource_delete(id=link["id"])
    with pytest.raises(ckanapi.NotFound):
        anon.action.resource_show(id=link["id"])


def test_package_search_fq_sort_and_facets(ckan) -> None:  # noqa: ANN001
    steward, admin, anon = ckan["steward"], ckan["admin"], ckan["anon"]
    _create(steward, "bus-routes", title="부산교통공사 버스 노선", tags=[{"name": "교통"}, {"name": "버스"}],
            groups=[{"name": "transport"}], resources=[{"url": "https://e.com/a.csv", "format": "CSV"}])
    _create(steward, "parking", title="공영주차장 현황", tags=[{"name": "주차"}], groups=[{"name": "transport"}],
            resources=[{"url": "https://e.com/p.pdf", "format": "PDF"}])
    _create(admin, "care-centres", title="노인복지관", owner_org="welfare", tags=[{"name": "복지"}],
            groups=[{"name": "welfare"}], resources=[{"url": "https://e.com/c.csv", "format": "csv"}])

    def names(**kw):  # noqa: ANN003, ANN202
        return sorted(d["name"] for d in anon.action.package_search(rows=100, **kw)["results"])

    assert names() == ["bus-routes", "care-centres", "parking"]
    assert names(q="교통") == ["bus-routes"]
    assert names(fq="organization:welfare") == ["care-centres"]
    assert names(fq="tags:주차") == ["parking"]
    assert names(fq="groups:transport") == ["bus-routes", "parking"]
    assert names(fq="res_format:CSV") == ["bus-routes", "care-centres"]
    assert names(fq="-organization:welfare") == ["bus-routes", "parking"]
    assert names(fq="organization:welfare OR organization:busan-transport") == ["bus-routes", "care-centres",
                                                                                "parking"]
    assert names(fq="metadata_modified:[2000-01-01T00:00:00Z TO *]") == ["bus-routes", "care-centres", "parking"]
    assert names(fq="metadata_modified:[3000-01-01T00:00:00Z TO *]") == []
    assert names(fq="+dataset_type:dataset groups:transport -tags:버스") == ["parking"]
    assert names(fq_list=["groups:transport", "res_format:PDF"]) == ["parking"]
    assert names(q="tags:복지") == ["care-centres"]
    for bad in ("foo:bar", "organization:a OR tags:b", "just words", "metadata_created:[* TO NOW]"):
        with pytest.raises(ckanapi.SearchQueryError):
            anon.action.package_search(fq=bad)
    with pytest.raises(ckanapi.SearchQueryError):
        anon.action.package_search(sort="popularity desc")

    by_name = anon.action.package_search(sort="name asc", rows=2)
    assert by_name["count"] == 3 and [d["name"] for d in by_name["results"]] == ["bus-routes", "care-centres"]
    assert [d["name"] for d in anon.action.package_search(sort="name asc", rows=2, start=2)["results"]] == ["parking"]
    ids = [d["id"] for d in anon.action.package_search(sort="id asc")["results"]]
    assert ids == sorted(ids)
    newest = anon.action.package_search(sort="metadata_modified desc")["results"]
    assert newest[0]["name"] == "care-centres"
    assert newest[0]["resources"] and newest[0]["organization"]["name"] == "welfare"

    found = anon.action.package_search(**{"facet.field": '["organization", "tags", "groups", "res_format"]',
                                          "facet.limit": 10})
    assert found["facets"]["organization"] == {"busan-transport": 2, "welfare": 1}
    assert found["facets"]["groups"] == {"transport": 2, "welfare": 1}
    assert found["facets"]["res_format"] == {"CSV": 2, "PDF": 1}
    orgs = found["search_facets"]["organization"]
    assert orgs["title"] == "organization"
    assert orgs["items"][0] == {"name": "busan-transport", "display_name": "도시철도본부", "count": 2}
    assert anon.action.package_search(**{"facet.field": ["tags"], "facet.mincount": 2})["facets"] == {"tags": {}}
    assert anon.action.package_search()["facets"] == {}


def test_errors_map_to_ckanapi_exceptions(ckan) -> None:  # noqa: ANN001
    steward, anon, outsider = ckan["steward"], ckan["anon"], ckan["outsider"]
    _create(steward, "taken", title="x")
    with pytest.raises(ckanapi.NotFound):
        anon.action.package_show(id="no-such-dataset")
    with pytest.raises(ckanapi.NotFound):
        anon.action.organization_show(id="no-such-org")
    with pytest.raises(ckanapi.NotAuthorized):
        anon.action.package_create(name="nope", owner_org="busan-transport")
    with pytest.raises(ckanapi.NotAuthorized):
        outsider.action.package_patch(id="taken", title="hijack")
    with pytest.raises(ckanapi.NotAuthorized):
        steward.action.organization_create(name="rogue", title="x")
    with pytest.raises(ckanapi.ValidationError) as dup:
        _create(steward, "taken")
    assert dup.value.error_dict["name"] == ["That URL is already in use."]
    with pytest.raises(ckanapi.ValidationError) as bad:
        steward.action.package_create(name="Bad Name!")
    assert "name" in bad.value.error_dict and bad.value.error_dict["owner_org"] == ["Missing value"]
    with pytest.raises(ckanapi.ValidationError) as group:
        _create(steward, "grouped", groups=[{"name": "no-such-theme"}])
    assert "groups" in group.value.error_dict
    with pytest.raises(ckanapi.ValidationError):
        anon.action.package_search(rows="many")
    with pytest.raises(ckanapi.NotAuthorized):
        ckanapi.RemoteCKAN(ckan["url"], apikey="not-a-token").action.package_list()
    # a failed create leaves nothing behind
    with pytest.raises(ckanapi.ValidationError):
        _create(steward, "half", resources=[{"name": "no url"}])
    with pytest.raises(ckanapi.NotFound):
        steward.action.package_show(id="half")


def test_private_datasets_stay_invisible(ckan) -> None:  # noqa: ANN001
    steward, colleague, outsider, anon = ckan["steward"], ckan["colleague"], ckan["outsider"], ckan["anon"]
    _create(steward, "open-data", title="공개", tags=[{"name": "공개"}], groups=[{"name": "transport"}])
    secret = _create(steward, "secret-data", title="비공개 교통", private=True, tags=[{"name": "비밀"}],
                     groups=[{"name": "transport"}], resources=[{"url": "https://e.com/s.csv", "format": "CSV"}])
    assert secret["private"] is True
    assert {"key": "access_level", "value": "restricted"} in secret["extras"]
    rid = secret["resources"][0]["id"]
    facet = {"facet.field": '["organization", "tags", "groups", "res_format"]', "include_private": True}
    for who in (anon, outsider):
        assert who.action.package_list() == ["open-data"]
        found = who.action.package_search(q="교통", **facet)
        assert found["count"] == 0 and found["results"] == []
        everything = who.action.package_search(**facet)
        assert everything["count"] == 1 and everything["facets"]["tags"] == {"공개": 1}
        assert everything["facets"]["groups"] == {"transport": 1} and everything["facets"]["res_format"] == {}
        with pytest.raises(ckanapi.NotFound):
            who.action.package_show(id="secret-data")
        with pytest.raises(ckanapi.NotFound):
            who.action.package_show(id=secret["id"])
        with pytest.raises(ckanapi.NotFound):
            who.action.resource_show(id=rid)
        assert who.action.tag_list() == ["공개"]
        orgs = {o["name"]: o["package_count"] for o in who.action.organization_list(all_fields=True)}
        assert orgs["busan-transport"] == 1
        assert who.action.organization_show(id="busan-transport")["package_count"] == 1
        assert {g["name"]: g["package_count"] for g in who.action.group_list(all_fields=True)}["transport"] == 1
    # members of the owner organization see it when they ask for private datasets, as in CKAN
    assert colleague.action.package_show(id="secret-data")["name"] == "secret-data"
    assert colleague.action.package_search(include_private=True)["count"] == 2
    assert colleague.action.package_search()["count"] == 1
    assert colleague.action.package_list() == ["open-data"]
    assert colleague.action.resource_show(id=rid)["id"] == rid
    assert sorted(colleague.action.tag_list()) == ["공개", "비밀"]


def test_lists_and_status(ckan) -> None:  # noqa: ANN001
    steward, anon = ckan["steward"], ckan["anon"]
    _create(steward, "a-data", title="A", tags=[{"name": "버스"}, {"name": "bus"}])
    status = anon.action.status_show()
    assert status["ckan_version"].startswith("2.") and "site_url" in status and "datastore" in status["extensions"]
    assert anon.action.organization_list() == ["acme", "busan-transport", "welfare"]
    assert anon.action.organization_list(limit=1, offset=1) == ["busan-transport"]
    ranked = anon.action.organization_list(all_fields=True, sort="package_count desc")
    assert ranked[0]["name"] == "busan-transport" and ranked[0]["package_count"] == 1
    assert anon.action.organization_list(q="복지") == ["welfare"]
    shown = anon.action.organization_show(id="busan-transport", include_datasets=True)
    assert [p["name"] for p in shown["packages"]] == ["a-data"]
    groups = anon.action.group_list()
    assert "transport" in groups and "welfare" in groups
    assert anon.action.group_show(id="transport")["title"] == "교통"
    assert anon.action.tag_list() == ["bus", "버스"]
    assert anon.action.tag_list(query="버") == ["버스"]
    assert anon.action.help_show(name="package_search").startswith("Search datasets")
    # ckanapi's get_only mode: every parameter a query string value, lists as repeated keys
    reader = ckanapi.RemoteCKAN(ckan["url"], get_only=True)
    found = reader.action.package_search(fq="tags:버스", rows=5, **{"facet.field": ["tags", "organization"]})
    assert found["count"] == 1 and found["facets"]["organization"] == {"busan-transport": 1}
    assert reader.action.package_show(id="a-data")["name"] == "a-data"
    with pytest.raises(ckanapi.CKANAPIError):
        reader.action.package_create(name="by-get", owner_org="busan-transport")


STOPS_CSV = ("정류장,구,승차,날짜\n서면역,부산진구,120,2026-01-02\n해운대역,해운대구,80,2026-01-03\n"
             "남포역,중구,50,2026-01-04\n부산역,동구,95,2026-01-05\n").encode("cp949")


def _upload_stops(api, package: str) -> dict:  # noqa: ANN001
    stream = io.BytesIO(STOPS_CSV)
    stream.name = "stops.csv"
    return api.action.resource_create(package_id=package, upload=stream, name="정류장별 승차")


def test_csv_upload_reads_back_through_the_datastore(ckan) -> None:  # noqa: ANN001
    steward, anon = ckan["steward"], ckan["anon"]
    _create(steward, "stops", title="정류장별 승차 인원")
    res = _upload_stops(steward, "stops")
    assert res["datastore_active"] is True and res["format"] == "CSV" and res["url_type"] == "upload"
    rid = res["id"]
    assert anon.action.package_show(id="stops")["resources"][0]["datastore_active"] is True

    page = anon.action.datastore_search(resource_id=rid, limit=2)
    assert page["fields"][0] == {"id": "_id", "type": "int"}
    assert {f["id"]: f["type"] for f in page["fields"]} == {"_id": "int", "정류장": "text", "구": "text",
                                                            "승차": "int", "날짜": "date"}
    assert page["total"] == 4 and page["total_was_estimated"] is False and len(page["records"]) == 2
    assert page["records"][0] == {"_id": 1, "정류장": "서면역", "구": "부산진구", "승차": 120, "날짜": "2026-01-02"}
    assert "offset=2" in page["_links"]["next"] and rid in page["_links"]["start"]

    filtered = anon.action.datastore_search(resource_id=rid, filters={"구": ["중구", "동구"]}, sort="승차 desc")
    assert [r["정류장"] for r in filtered["records"]] == ["부산역", "남포역"] and filtered["total"] == 2
    assert anon.action.datastore_search(resource_id=rid, q="해운대")["records"][0]["승차"] == 80
    second = anon.action.datastore_search(resource_id=rid, sort="승차 asc", limit=1, offset=1, fields=["정류장"])
    assert second["records"] == [{"정류장": "해운대역"}] and second["fields"] == [{"id": "정류장", "type": "text"}]
    lists = anon.action.datastore_search(resource_id=rid, records_format="lists", limit=1)
    assert lists["records"] == [[1, "서면역", "부산진구", 120, "2026-01-02"]]
    as_csv = anon.action.datastore_search(resource_id=rid, records_format="csv", sort="_id", limit=2)
    assert as_csv["records"] == "1,서면역,부산진구,120,2026-01-02\n2,해운대역,해운대구,80,2026-01-03\n"
    no_total = anon.action.datastore_search(resource_id=rid, include_total=False)
    assert "total" not in no_total and len(no_total["records"]) == 4
    with pytest.raises(ckanapi.ValidationError) as bad:
        anon.action.datastore_search(resource_id=rid, sort="없는열 desc")
    assert "sort" in bad.value.error_dict
    with pytest.raises(ckanapi.NotFound):
        anon.action.datastore_search(resource_id="00000000-0000-0000-0000-000000000000")

    info = anon.action.datastore_info(id=rid)
    assert info["meta"]["count"] == 4 and [f["id"] for f in info["fields"]] == ["정류장", "구", "승차", "날짜"]

    sql = anon.action.datastore_search_sql(
        sql=f'SELECT "구", sum("승차") AS n FROM "{rid}" GROUP BY "구" ORDER BY n DESC LIMIT 2')
    assert sql["records"] == [{"구": "부산진구", "n": 120}, {"구": "동구", "n": 95}]
    assert [f["id"] for f in sql["fields"]] == ["구", "n"]
    with pytest.raises(ckanapi.ValidationError) as write:
        steward.action.datastore_search_sql(sql=f'DELETE FROM "{rid}"')
    assert "sql" in write.value.error_dict


def test_private_datastore_stays_invisible(ckan) -> None:  # noqa: ANN001
    steward, colleague, outsider, anon = ckan["steward"], ckan["colleague"], ckan["outsider"], ckan["anon"]
    _create(steward, "secret-stops", title="비공개 정류장", private=True)
    rid = _upload_stops(steward, "secret-stops")["id"]
    query = f'SELECT count(*) AS n FROM "{rid}"'
    for who in (anon, outsider):
        with pytest.raises(ckanapi.NotFound):
            who.action.datastore_search(resource_id=rid)
        with pytest.raises(ckanapi.NotFound):
            who.action.datastore_info(id=rid)
        with pytest.raises(ckanapi.ValidationError) as hidden:
            who.action.datastore_search_sql(sql=query)
        # the same answer as for a table that does not exist
        with pytest.raises(ckanapi.ValidationError) as absent:
            who.action.datastore_search_sql(sql='SELECT count(*) AS n FROM "00000000-0000-0000-0000-000000000000"')
        assert hidden.value.error_dict["sql"] == [
            m.replace("00000000-0000-0000-0000-000000000000", rid) for m in absent.value.error_dict["sql"]]
    assert colleague.action.datastore_search(resource_id=rid)["total"] == 4
    assert colleague.action.datastore_search_sql(sql=query)["records"] == [{"n": 4}]
