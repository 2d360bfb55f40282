"""DCAT-AP exports: JSON-LD that parses offline with its inline context, Turtle/RDF-XML, Hydra paging,
filters, and no leak of datasets the caller may not see."""

from __future__ import annotations

import json
import socket

import pytest
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, XSD

VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
SPDX = Namespace("http://spdx.org/rdf/terms#")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
EU = "http://publications.europa.eu/resource/authority/"
SITE = "http://127.0.0.1:8000"


@pytest.fixture
def city(client, people):  # noqa: ANN001, ANN201
    people.org("busan-transport", "도시철도본부", kind="public_body")
    people.org("welfare", "복지국")
    steward = people.user("steward@city.test", role="steward", org="busan-transport")
    outsider = people.user("citizen@city.test")
    return {"steward": steward, "citizen": outsider}


def make(client, person, **fields):  # noqa: ANN001, ANN003, ANN201
    response = client.post("/api/v1/datasets", json={"owner_org": person.org, **fields}, headers=person.headers)
    assert response.status_code == 201, response.text
    return response.json()


def upload(client, person, slug, name, content: bytes, fmt=None):  # noqa: ANN001, ANN201
    data = {"format": fmt} if fmt else {}
    response = client.post(f"/api/v1/datasets/{slug}/resources", files={"upload": (name, content)}, data=data,
                           headers=person.headers)
    assert response.status_code == 201, response.text
    return response.json()


FULL = dict(
    name="bus-routes", title="부산교통공사 버스 노선", title_en="Busan bus routes", notes="노선별 정류장 목록",
    notes_en="Stops per route", keywords=["교통", "bus"], theme="transport", license_id="KOGL-1",
    update_frequency="monthly", spatial="부산광역시", temporal_start="2024-01-01", temporal_end="2024-12-31",
    contact_name="교통정보과", contact_email="traffic@busan.test",
)


def no_network(monkeypatch) -> None:  # noqa: ANN001
    """Any socket connection fails: JSON-LD must parse from its inline context alone."""
    def refuse(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_dataset_jsonld_parses_offline_with_the_dcat_ap_mapping(client, city, monkeypatch) -> None:  # noqa: ANN001
    s = city["steward"]
    ds = make(client, s, **FULL)
    res = upload(client, s, "bus-routes", "map.pdf", b"%PDF-1.4 fake pdf bytes")
    response = client.get("/dataset/bus-routes.jsonld")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/ld+json")
    doc = response.json()
    assert isinstance(doc["@context"], dict) and doc["@context"]["dcat"] == str(DCAT)
    no_network(monkeypatch)
    g = Graph().parse(data=response.text, format="json-ld")
    d = URIRef(f"{SITE}/dataset/{ds['id']}")
    assert (d, RDF.type, DCAT.Dataset) in g
    assert (d, DCTERMS.title, Literal("부산교통공사 버스 노선", lang="ko")) in g
    assert (d, DCTERMS.title, Literal("Busan bus routes", lang="en")) in g
    assert (d, DCTERMS.description, Literal("Stops per route", lang="en")) in g
    assert (d, DCAT.keyword, Literal("교통", lang="ko")) in g
    assert (d, DCAT.theme, URIRef(f"{EU}data-theme/TRAN")) in g
    assert (d, DCTERMS.accrualPeriodicity, URIRef(f"{EU}frequency/MONTHLY")) in g
    assert (d, DCTERMS.accessRights, URIRef(f"{EU}access-right/PUBLIC")) in g
    assert (d, DCTERMS.license, URIRef("https://www.kogl.or.kr/info/licenseType1.do")) in g
    assert g.value(d, DCTERMS.issued).datatype == XSD.dateTime and g.value(d, DCTERMS.modified) is not None
    publisher = g.value(d, DCTERMS.publisher)
    assert (publisher, RDF.type, FOAF.Agent) in g and (publisher, FOAF.name, Literal("도시철도본부", lang="ko")) in g
    card = g.value(d, DCAT.contactPoint)
    assert (card, RDF.type, VCARD.Kind) in g and str(g.value(card, VCARD.fn)) == "교통정보과"
    assert g.value(card, VCARD.hasEmail) == URIRef("mailto:traffic@busan.test")
    period = g.value(d, DCTERMS.temporal)
    assert (period, RDF.type, DCTERMS.PeriodOfTime) in g
    assert g.value(period, DCAT.startDate) == Literal("2024-01-01", datatype=XSD.date)
    assert g.value(period, DCAT.endDate) == Literal("2024-12-31", datatype=XSD.date)
    assert g.value(d, DCTERMS.spatial) is not None
    dist = g.value(d, DCAT.distribution)
    assert (dist, RDF.type, DCAT.Distribution) in g
    assert str(g.value(dist, DCAT.downloadURL)).endswith(f"/resource/{res['id']}/download")
    assert g.value(dist, DCAT.accessURL) is not None
    assert g.value(dist, DCAT.mediaType) == URIRef("http://www.iana.org/assignments/media-types/application/pdf")
    assert g.value(dist, DCTERMS["format"]) == URIRef(f"{EU}file-type/PDF")
    assert int(g.value(dist, DCAT.byteSize)) == len(b"%PDF-1.4 fake pdf bytes")
    checksum = g.value(dist, SPDX.checksum)
    assert g.value(checksum, SPDX.algorithm) == SPDX.checksumAlgorithm_sha256
    assert str(g.value(checksum, SPDX.checksumValue)) == res["sha256"]


def test_turtle_and_rdfxml_carry_the_same_graph(client, city) -> None:  # noqa: ANN001
    make(client, city["steward"], **FULL)
    graphs = {}
    for ext, fmt, media in (("ttl", "turtle", "text/turtle"), ("rdf", "xml", "application/rdf+xml"),
                            ("xml", "xml", "application/rdf+xml"), ("jsonld", "json-ld", "application/ld+json")):
        response = client.get(f"/dataset/bus-routes.{ext}")
        assert response.status_code == 200 and response.headers["content-type"].startswith(media)
        graphs[ext] = Graph().parse(data=response.text, format=fmt)
    from rdflib.compare import isomorphic

    assert len(graphs["ttl"]) > 20
    assert isomorphic(graphs["ttl"], graphs["rdf"]) and isomorphic(graphs["ttl"], graphs["jsonld"])


def test_invisible_dataset_is_404_and_never_in_the_catalog(client, city, people) -> None:  # noqa: ANN001
    s = city["steward"]
    make(client, s, name="open-data", title="공개 데이터", theme="economy")
    make(client, s, name="secret-plan", title="비공개 계획", access_level="restricted")
    make(client, s, name="staff-only", title="직원용", access_level="internal")
    assert client.get("/dataset/secret-plan.ttl").status_code == 404
    assert client.get("/dataset/secret-plan.jsonld", headers=city["citizen"].headers).status_code == 404
    assert client.get("/dataset/staff-only.jsonld").status_code == 404
    assert client.get("/dataset/nope.ttl").status_code == 404
    anonymous = client.get("/catalog.ttl")
    assert anonymous.status_code == 200
    assert "open-data" in anonymous.text and "secret-plan" not in anonymous.text and "staff-only" not in anonymous.text
    g = Graph().parse(data=anonymous.text, format="turtle")
    assert len(set(g.subjects(RDF.type, DCAT.Dataset))) == 1
    paging = next(g.subjects(RDF.type, HYDRA.PagedCollection))
    assert int(g.value(paging, HYDRA.totalItems)) == 1
    # the owner's steward sees all three, with the access rights each has
    own = Graph().parse(data=client.get("/catalog.jsonld", headers=s.headers).text, format="json-ld")
    rights = {str(o).rsplit("/", 1)[1] for o in own.objects(None, DCTERMS.accessRights)}
    assert rights == {"PUBLIC", "NON_PUBLIC", "RESTRICTED"}
    internal = Graph().parse(data=client.get("/dataset/staff-only.ttl", headers=s.headers).text, format="turtle")
    assert len(set(internal.subjects(RDF.type, DCAT.Dataset))) == 1


def test_catalog_pages_by_100_with_hydra_links_and_filters(client, city) -> None:  # noqa: ANN001
    s = city["steward"]
    for i in range(105):
        make(client, s, name=f"ds-{i:03d}", title=f"대기질 측정 {i}" if i < 3 else f"dataset {i}",
             theme="environment" if i < 3 else "economy")
    first = Graph().parse(data=client.get("/catalog.jsonld").text, format="json-ld")
    catalog = next(first.subjects(RDF.type, DCAT.Catalog))
    assert len(list(first.objects(catalog, DCAT.dataset))) == 100
    paging = next(first.subjects(RDF.type, HYDRA.PagedCollection))
    assert int(first.value(paging, HYDRA.totalItems)) == 105 and int(first.value(paging, HYDRA.itemsPerPage)) == 100
    assert str(first.value(paging, HYDRA.nextPage)).endswith("/catalog.jsonld?page=2")
    assert str(first.value(paging, HYDRA.lastPage)).endswith("page=2")
    assert first.value(paging, HYDRA.previousPage) is None
    second = Graph().parse(data=client.get("/catalog.ttl", params={"page": 2}).text, format="turtle")
    assert len(list(second.subjects(RDF.type, DCAT.Dataset))) == 5
    page2 = next(second.subjects(RDF.type, HYDRA.PagedCollection))
    assert second.value(page2, HYDRA.nextPage) is None and second.value(page2, HYDRA.previousPage) is not None
    names_1 = {str(o) for o in first.objects(None, DCAT.landingPage)}
    names_2 = {str(o) for o in second.objects(None, DCAT.landingPage)}
    assert not names_1 & names_2 and len(names_1 | names_2) == 105
    past = client.get("/catalog.ttl", params={"page": 3})
    assert past.status_code == 404 and "page 3" in past.text
    assert client.get("/catalog.ttl", params={"page": 0}).status_code == 422
    # q searches as the portal does (Korean n-grams); links keep the query
    found = Graph().parse(data=client.get("/catalog.ttl", params={"q": "대기질"}).text, format="turtle")
    assert len(list(found.subjects(RDF.type, DCAT.Dataset))) == 3
    hit = next(found.subjects(RDF.type, HYDRA.PagedCollection))
    assert "q=%EB%8C%80" in str(hit) and int(found.value(hit, HYDRA.totalItems)) == 3
    themed = Graph().parse(data=client.get("/catalog.ttl", params={"filter": "theme:environment"}).text,
                           format="turtle")
    assert len(list(themed.subjects(RDF.type, DCAT.Dataset))) == 3


def test_modified_since_selects_recent_changes(client, city) -> None:  # noqa: ANN001
    s = city["steward"]
    make(client, s, name="old-one", title="오래된 데이터")
    later = make(client, s, name="new-one", title="새 데이터")
    since = later["modified_at"]
    client.patch("/api/v1/datasets/old-one", json={"notes": "바뀜"}, headers=s.headers)
    changed = client.get("/catalog.jsonld", params={"modified_since": since})
    g = Graph().parse(data=changed.text, format="json-ld")
    assert {str(o).rsplit("/", 1)[1] for o in g.objects(None, DCAT.landingPage)} == {"old-one", "new-one"}
    future = client.get("/catalog.jsonld", params={"modified_since": "2999-01-01T00:00:00Z"})
    g = Graph().parse(data=future.text, format="json-ld")
    assert not list(g.subjects(RDF.type, DCAT.Dataset))
    assert client.get("/catalog.ttl", params={"modified_since": "yesterday"}).status_code == 422


def test_geojson_spatial_and_english_only_titles(client, city) -> None:  # noqa: ANN001
    area = {"type": "Polygon", "coordinates": [[[129.0, 35.1], [129.1, 35.1], [129.1, 35.2], [129.0, 35.1]]]}
    make(client, city["steward"], name="air", title="Air quality stations", spatial=json.dumps(area))
    g = Graph().parse(data=client.get("/dataset/air.ttl").text, format="turtle")
    d = next(g.subjects(RDF.type, DCAT.Dataset))
    assert (d, DCTERMS.title, Literal("Air quality stations", lang="en")) in g
    place = g.value(d, DCTERMS.spatial)
    bbox = g.value(place, DCAT.bbox)
    assert bbox is not None and str(bbox).startswith("POLYGON ((129.1 35.1")


def test_export_routes_win_over_the_portal_dataset_page(client, city) -> None:  # noqa: ANN001
    make(client, city["steward"], **FULL)
    # The portal's /dataset/{slug} page is registered after the exports; if it exists it answers the bare
    # slug with HTML, while the suffixed URLs still reach the exports (routes match in mount order).
    page = client.get("/dataset/bus-routes", headers={"accept": "text/html"})
    if page.status_code == 200:
        assert "text/html" in page.headers["content-type"]
    assert client.get("/dataset/bus-routes.jsonld").headers["content-type"].startswith("application/ld+json")
    assert client.get("/dataset/bus-routes/datapackage.json").json()["name"] == "bus-routes"


def test_catalog_accepts_ckan_fq_as_ckanext_dcat_does(client, city, people) -> None:  # noqa: ANN001
    s = city["steward"]
    people.org("parks", "공원녹지과")
    parks = people.user("parks@city.test", role="steward", org="parks")
    make(client, s, name="bus", title="버스 노선", keywords=["버스"])
    make(client, s, name="subway", title="도시철도 역", keywords=["철도"])
    make(client, parks, name="trees", title="가로수 현황", keywords=["녹지"])

    def names(**params: object) -> set[str]:
        response = client.get("/catalog.ttl", params=params)
        assert response.status_code == 200, response.text
        g = Graph().parse(data=response.text, format="turtle")
        return {str(o).rsplit("/", 1)[1] for o in g.objects(None, DCAT.landingPage)}

    assert names(fq="organization:busan-transport") == {"bus", "subway"}
    assert names(fq="tags:버스") == {"bus"}
    assert names(fq="-organization:busan-transport") == {"trees"}
    assert names(fq="organization:parks OR organization:busan-transport") == {"bus", "subway", "trees"}
    assert names(fq="metadata_modified:[2020-01-01T00:00:00Z TO *]") == {"bus", "subway", "trees"}
    assert names(fq="dataset_type:harvest") == set()
    assert names(q="organization:parks") == {"trees"}
    bad = client.get("/catalog.ttl", params={"fq": "weird_field:x"})
    assert bad.status_code == 422 and "fq" in bad.json()["errors"]
