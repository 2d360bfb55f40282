"""Demonstration dashboards over demo data (a small slice of the demo catalogue plus the KOSIS seed)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])
WANTED = ("air-quality-hourly", "traffic-speed-links", "haeundae-gu-cctv-locations", "jung-gu-cctv-locations")


def test_demonstration_dashboards_render(client) -> None:  # noqa: ANN001
    from cityhub.cli import SYSTEM
    from cityhub.ctx import RequestContext
    from cityhub.demo.catalogue import catalogue_size, plan_datasets
    from cityhub.demo.organizations import seed_organizations, seed_users
    from cityhub.demo.seed import SeedReport, _seed_dataset
    from cityhub.ops.demo_history import seed_history
    from cityhub.stats.demo_analyses import seed_analyses
    from cityhub.stats.derived import publish
    from cityhub.stats.kosis_demo import seed_statistics

    app = client.app
    db = app.state.session_factory()
    ctx = RequestContext(actor=SYSTEM, db=db, settings=app.state.settings, bus=app.state.bus)
    try:
        seed_organizations(ctx)
        seed_users(ctx)
        db.commit()
        report = SeedReport()
        for plan in plan_datasets(catalogue_size(), rows_scale=0.02):
            if plan.data.name in WANTED:
                _seed_dataset(ctx, plan, report)
        assert report.datasets_created == len(WANTED), report.failures
        seed_statistics(ctx)
        assert seed_history(ctx, days=7) > 500
        assert seed_history(ctx, days=7) == 0  # idempotent
        _sensor_rollups(db)
        publish(ctx, org="smart-city-division")
        db.commit()
        made = seed_analyses(ctx)
        assert made == ["air-quality-traffic", "population-ageing", "incident-hot-spots", "cctv-coverage"]
        assert seed_analyses(ctx) == []
    finally:
        db.close()
    air = {c["title_en"]: c for c in client.get("/api/v1/stats/dashboards/air-quality-traffic/data").json()}
    assert air["Sensor PM2.5, hourly mean by district"]["chart"]["rows"] == [
        ["2026-12-01T03:00", "Haeundae-gu", 25.0]]
    for slug in ("air-quality-traffic", "population-ageing", "incident-hot-spots", "cctv-coverage"):
        cards = client.get(f"/api/v1/stats/dashboards/{slug}/data").json()
        assert cards and all(c["status"] == "ok" for c in cards), [(c["title"], c["message"]) for c in cards]
        assert all((c["chart"] and c["chart"]["rows"]) or c["indicator"] for c in cards), slug
    ageing = client.get("/api/v1/stats/dashboards/population-ageing/data").json()
    choropleth = next(c for c in ageing if c["spec"] and c["spec"]["type"] == "choropleth")
    assert len(choropleth["chart"]["rows"]) == 16
    cctv = {c["title_en"]: c for c in client.get("/api/v1/stats/dashboards/cctv-coverage/data").json()}
    gaps = cctv["Cameras per 10,000 residents (low = gap)"]["chart"]["rows"]
    assert {r[0] for r in gaps} == {"해운대구", "중구"} and all(r[1] > 0 for r in gaps)
    load = cctv["Incidents per camera (high = gap)"]["chart"]["rows"]
    assert {r[0] for r in load} == {"해운대구", "중구"} and all(r[1] > 0 for r in load)
    assert cctv["Incident-dense cells without a camera"]["chart"]["rows"]
    hot = {c["title_en"]: c for c in client.get("/api/v1/stats/dashboards/incident-hot-spots/data").json()}
    week = hot["Incidents by weekday and hour (KST)"]["chart"]["rows"]
    assert {r[1] for r in week} <= set(range(1, 8)) and len({r[0] for r in week}) == 24
    # the dashboard's district filter applies to every card
    one = client.get("/api/v1/stats/dashboards/incident-hot-spots/data", params={"district": "Haeundae-gu"}).json()
    by_district = next(c for c in one if c["title_en"] == "Incidents by district")["chart"]["rows"]
    assert [r[0] for r in by_district] == ["해운대구"]  # the filter reaches English, Korean and code columns
    assert client.get("/api/v1/stats/dashboards/population-ageing/embed").status_code == 200


def _sensor_rollups(db) -> None:  # noqa: ANN001
    """One station's hour of PM2.5 as the live layer's rollups hold it."""
    from datetime import UTC, datetime

    from cityhub.context.models import ContextEntity, Rollup

    station = "urn:ngsi-ld:AirQualityObserved:demo-1"
    db.add(ContextEntity(id=station, type="AirQualityObserved", attrs={}, district="Haeundae-gu", lon=129.16,
                         lat=35.16))
    db.add(Rollup(entity_id=station, attr="pm25", grain="h", bucket=datetime(2026, 12, 1, 3, tzinfo=UTC), count=4,
                  sum=100.0, min=20.0, max=30.0, entity_type="AirQualityObserved"))
    db.commit()
