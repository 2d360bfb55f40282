"""CKAN fq/q/sort parsing: every form harvesters send maps to a filter; anything else is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cityhub.catalog.ckan_envelope import SearchQueryError
from cityhub.catalog.ckan_fq import parse_fq, parse_sort


@pytest.mark.parametrize(("fq", "filters", "exclude"), [
    ("organization:busan-transport", {"organization": ["busan-transport"]}, {}),
    ("owner_org:0f1e", {"organization": ["0f1e"]}, {}),
    ("tags:교통", {"keywords": ["교통"]}, {}),
    ('tags:"bus stop"', {"keywords": ["bus stop"]}, {}),
    ("groups:transport", {"theme": ["transport"]}, {}),
    ("res_format:CSV", {"format": ["CSV"]}, {}),
    ("license_id:KOGL-1", {"license_id": ["KOGL-1"]}, {}),
    ("-organization:welfare", {}, {"organization": ["welfare"]}),
    ("NOT tags:x", {}, {"keywords": ["x"]}),
    ("organization:a OR organization:b", {"organization": ["a", "b"]}, {}),
    ("organization:(a OR b)", {"organization": ["a", "b"]}, {}),
    ("(organization:a OR organization:b) AND tags:x", {"organization": ["a", "b"], "keywords": ["x"]}, {}),
    ("+dataset_type:dataset +organization:a", {"organization": ["a"]}, {}),
    ("capacity:public", {"access_level": ["public"]}, {}),
    ("capacity:private", {"access_level": ["internal", "restricted"]}, {}),
    ("groups:transport -res_format:PDF", {"theme": ["transport"]}, {"format": ["PDF"]}),
    ("*:*", {}, {}),
])
def test_fq_forms(fq: str, filters: dict, exclude: dict) -> None:
    parsed = parse_fq([fq])
    assert parsed.filters == filters and parsed.exclude == exclude and not parsed.nothing


def test_date_ranges() -> None:
    parsed = parse_fq(["metadata_modified:[2026-01-01T00:00:00Z TO *]"])
    assert parsed.modified_since == datetime(2026, 1, 1, tzinfo=UTC) and parsed.modified_until is None
    parsed = parse_fq(["metadata_modified:[* TO 2026-02-01T00:00:00.000Z]",
                       "metadata_modified:[2026-01-15T00:00:00Z TO NOW]"])
    assert parsed.modified_since == datetime(2026, 1, 15, tzinfo=UTC)
    assert parsed.modified_until == datetime(2026, 2, 1, tzinfo=UTC)
    recent = parse_fq(["metadata_modified:[NOW-1DAY TO *]"]).modified_since
    assert recent is not None and (datetime.now(UTC) - recent).total_seconds() == pytest.approx(86400, abs=60)


def test_conditions_nothing_matches() -> None:
    assert parse_fq(["dataset_type:harvest"]).nothing
    assert parse_fq(["organization:a", "organization:b"]).nothing
    assert not parse_fq(["organization:a", "organization:(a OR b)"]).nothing


@pytest.mark.parametrize("fq", [
    "foo:bar", "free words", "organization:a OR tags:b", "metadata_created:[* TO NOW]",
    "-metadata_modified:[* TO NOW]", "metadata_modified:[yesterday TO *]", "tags:a tags:b",
    "organization:(a AND b)", "OR tags:x", "tags:x OR", "(tags:x", "state:deleted", "capacity:secret",
])
def test_unsupported_forms_are_refused(fq: str) -> None:
    with pytest.raises(SearchQueryError) as err:
        parse_fq([fq])
    assert err.value.type_ == "Search Query Error" and err.value.status == 400
    assert err.value.body["message"].startswith("Search Query is invalid: ")


def test_q_splits_field_terms_from_words() -> None:
    parsed = parse_fq([], "name:bus-routes 버스")
    assert parsed.filters == {"name": ["bus-routes"]} and parsed.words == ["버스"]
    assert parse_fq([], "부산 버스 노선").words == ["부산 버스 노선"]
    assert parse_fq([], "*:*").words == []


def test_sort_forms() -> None:
    assert parse_sort(None) == "relevance"
    assert parse_sort("score desc, metadata_modified desc") == "relevance"
    assert parse_sort("metadata_modified desc") == "modified"
    assert parse_sort("metadata_modified asc") == "-modified"
    assert parse_sort("id asc") == "id"
    assert parse_sort("name asc") == "name"
    assert parse_sort("name") == "name"
    assert parse_sort("title_string asc") == "title"
    for bad in ("views desc", "name sideways", "name asc extra"):
        with pytest.raises(SearchQueryError):
            parse_sort(bad)
