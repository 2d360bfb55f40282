"""The demo city: seeding is idempotent, covers every theme, names Busan's 16 districts with their
codes, and labels everything synthetic. Small counts and scaled-down tables keep it fast."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient

from cityhub.app import create_app
from cityhub.auth.service import list_organizations
from cityhub.catalog.schemas import THEMES, DatasetSearch
from cityhub.catalog.service import search_datasets
from cityhub.cli import system_ctx
from cityhub.demo.catalogue import catalogue_size, plan_datasets
from cityhub.demo.districts import districts
from cityhub.demo.seed import seed_demo_city
from cityhub.settings import Settings

SMALL = 18  # the first plans cover all eight themes, CP949 CSVs, a PNG, a GeoJSON, an XLSX and a PDF


def _snapshot(settings: Settings) -> dict:
    with system_ctx(settings) as ctx:
        found = search_datasets(ctx, query=DatasetSearch(limit=1000, facet_fields=["theme", "format"]))
        orgs = list_organizations(ctx).items
    return {
        "datasets": sorted(d.name for d in found.items),
        "resources": sorted(r.id for d in found.items for r in d.resources),
        "orgs": sorted(o.name for o in orgs),
        "facets": found.facets,
        "items": found.items,
        "org_items": orgs,
    }


def test_seeding_twice_adds_nothing_the_second_time(settings: Settings) -> None:
    with system_ctx(settings) as ctx:
        first = seed_demo_city(ctx, datasets=SMALL, rows_scale=0.002)
    assert first.failures == []
    assert first.datasets_created == SMALL and first.organizations_created >= 16 + 10
    before = _snapshot(settings)
    with system_ctx(settings) as ctx:
        second = seed_demo_city(ctx, datasets=SMALL, rows_scale=0.002)
    assert (second.datasets_created, second.organizations_created, second.users_created) == (0, 0, 0)
    assert second.datasets_existing == SMALL and second.failures == []
    after = _snapshot(settings)
    for key in ("datasets", "resources", "orgs"):
        assert after[key] == before[key], key

    # every theme, and the files a city really publishes
    assert set(after["facets"]["theme"]) == set(THEMES)
    assert {"CSV", "XLSX", "GEOJSON", "PNG", "PDF"} <= set(after["facets"]["format"])

    # the 16 districts, with their official names and sigungu codes
    by_name = {o.name: o for o in after["org_items"]}
    for d in districts():
        org = by_name[d.slug]
        assert (org.kind, org.title, org.title_en) == ("district", d.name_ko, d.name_en)
        assert d.code in (org.description or "")
    assert len([o for o in after["org_items"] if o.kind == "district"]) == 16

    # labelled synthetic everywhere
    for ds in after["items"]:
        assert ds.synthetic is True
        assert "합성 데이터" in (ds.notes or "") and "synthetic" in (ds.notes_en or "").lower()
    assert {ds.access_level for ds in after["items"]} >= {"public", "internal"}


def test_seeded_city_is_searchable_and_its_tables_are_loaded(settings: Settings) -> None:
    with system_ctx(settings) as ctx:
        assert seed_demo_city(ctx, datasets=SMALL, rows_scale=0.002).failures == []
    with TestClient(create_app(settings)) as client:
        found = client.get("/api/v1/datasets", params={"q": "교통"}).json()
        assert found["total"] >= 2 and all(d["access_level"] == "public" for d in found["items"])
        air = client.get("/api/v1/datasets/air-quality-hourly").json()
        table = next(r for r in air["resources"] if r["format"] == "CSV")
        assert table["datastore_active"] and table["row_count"] >= 100
        chart = next(r for r in air["resources"] if r["format"] == "PNG")
        assert client.get(f"/api/v1/resources/{chart['id']}/file").content.startswith(b"\x89PNG")
        # a CP949 upload: its Korean header survives the round trip
        cp949 = client.get("/api/v1/datasets/local-currency-payments").json()["resources"][0]
        assert cp949["datastore_active"]
        raw = client.get(f"/api/v1/resources/{cp949['id']}/file").content
        assert next(csv.reader(io.StringIO(raw.decode("cp949"))))[0] == "일자"
        # internal datasets stay out of anonymous search
        internal = client.get("/api/v1/datasets", params={"filter": "access_level:internal"}).json()
        assert internal["total"] == 0


def test_catalogue_plans_are_stable_and_cover_300_datasets() -> None:
    assert catalogue_size() >= 300
    first = [p.data.name for p in plan_datasets(40, rows_scale=0.001)]
    assert first == [p.data.name for p in plan_datasets(40, rows_scale=0.001)]
    plans = plan_datasets(300, rows_scale=0.001)
    assert len({p.data.name for p in plans}) == 300
    assert {p.data.theme for p in plans} == set(THEMES)
    assert {p.data.access_level for p in plans} == {"public", "internal", "restricted"}
    assert sum(p.big for p in plans) >= 3
    spatial = " ".join(p.data.spatial or "" for p in plans)
    assert all(d.code in spatial for d in districts())


def _browse_and_live(ctx) -> tuple:  # noqa: ANN001
    """Facets browsing the whole catalog (stored counts) and the same set counted live (a filter
    on every theme forces the live pass; every demo dataset has a theme)."""
    stored = search_datasets(ctx, query=DatasetSearch(limit=0))
    live = search_datasets(ctx, query=DatasetSearch(limit=0, filters={"theme": list(THEMES)}))
    return (stored.total, stored.facets), (live.total, live.facets)


def test_stored_browse_facets_match_live_counts_for_every_caller(settings: Settings) -> None:
    from cityhub.auth.service import actor_for_user, get_user_by_email
    from cityhub.catalog.schemas import DatasetUpdate
    from cityhub.catalog.service import update_dataset
    from cityhub.ctx import ANONYMOUS

    with system_ctx(settings) as ctx:
        assert seed_demo_city(ctx, datasets=SMALL, rows_scale=0.002).failures == []
        # a restricted dataset of the safety office, visible to its steward and the admin only
        update_dataset(ctx, id_or_name="shelters", data=DatasetUpdate(access_level="restricted"))
    with system_ctx(settings) as ctx:
        people = {"anonymous": ANONYMOUS, "admin": ctx.actor}
        for email in ("citizen@demo.cityhub.kr", "analyst@demo.cityhub.kr",
                      "steward.safety-office@demo.cityhub.kr"):
            people[email] = actor_for_user(ctx.db, get_user_by_email(ctx.db, email))
        seen = {}
        for who, actor in people.items():
            stored, live = _browse_and_live(ctx.with_actor(actor))
            for field in live[1]:
                assert stored[1][field] == live[1][field], (who, field, stored[1][field], live[1][field])
            assert stored[0] == live[0], who
            seen[who] = stored[0]
    assert seen["anonymous"] == seen["citizen@demo.cityhub.kr"] < seen["analyst@demo.cityhub.kr"]
    assert seen["analyst@demo.cityhub.kr"] < seen["steward.safety-office@demo.cityhub.kr"] <= seen["admin"]
