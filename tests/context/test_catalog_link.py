"""Each entity type is also a catalog dataset with its latest state as a datastore table."""

from __future__ import annotations

from tests.context.conftest import NGSI, air, publish_snapshots_now


def test_entity_types_become_datasets(client, writer):
    from cityhub.catalog import service as catalog
    from cityhub.cli import SYSTEM
    from cityhub.ctx import RequestContext

    c = client
    r = c.post(f"{NGSI}/entityOperations/upsert", json=[air(i, pm25=10 + i) for i in range(5)],
               headers=writer.headers)
    assert r.status_code == 201
    app = c.app

    def run() -> list[dict]:
        return publish_snapshots_now(app)

    done = run()
    assert {d["dataset"]: d["rows"] for d in done} == {"live-airqualityobserved": 5}
    c.post(f"{NGSI}/entityOperations/upsert", json=[air(9, pm25=1)], headers=writer.headers)
    done = run()  # refreshed: the latest-state table is replaced, not duplicated
    assert done[0]["rows"] == 6
    db = app.state.session_factory()
    try:
        ctx = RequestContext(actor=SYSTEM, db=db, settings=app.state.settings, bus=app.state.bus)
        ds = catalog.get_dataset(ctx, id_or_name="live-airqualityobserved")
        names = sorted(r.name for r in ds.resources)
        assert names == ["history (NGSI-LD temporal API)", "latest-state.csv"]
        latest = next(r for r in ds.resources if r.name == "latest-state.csv")
        assert latest.datastore_active and latest.row_count == 6
        assert ds.title_en == "Live air quality"
    finally:
        db.close()


def test_scheduled_catalog_refresh_and_retention(settings):
    from datetime import UTC, datetime, timedelta

    from fastapi.testclient import TestClient

    from cityhub.app import create_app
    from tests.conftest import People
    from tests.context.receivers import wait_until

    settings = settings.model_copy(update={
        "context_catalog_org": "busan-ctrl", "context_catalog_refresh_seconds": 0.3,
        "context_retention_interval_seconds": 0.3, "context_raw_retention_days": 30})
    with TestClient(create_app(settings)) as c:
        people = People(c.app)
        op = people.user("ops@city.test", role="operator", org=people.org("busan-ctrl", "관제센터"))
        old = air(1, pm25=7)
        old["pm25"]["observedAt"] = (datetime.now(UTC) - timedelta(days=40)).isoformat()
        assert c.post(f"{NGSI}/entityOperations/upsert", json=[old], headers=op.headers).status_code == 201
        assert c.post(f"{NGSI}/entityOperations/upsert", json=[air(1, pm25=9)], headers=op.headers).status_code == 204

        def latest_rows() -> int | None:
            r = c.get("/api/3/action/package_show", params={"id": "live-airqualityobserved"})
            if r.status_code != 200:
                return None
            res = [x for x in r.json()["result"]["resources"] if x["name"] == "latest-state.csv"]
            if not res:
                return None
            found = c.get("/api/3/action/datastore_search", params={"resource_id": res[0]["id"], "limit": 0})
            # a refresh replaces the resource: a listing read just before it may name the old one
            return found.json()["result"]["total"] if found.status_code == 200 else None

        def raw_values() -> list[float]:
            r = c.get(f"{NGSI}/temporal/entities/{old['id']}", params={"attrs": "pm25"})
            return [i["value"] for i in r.json()["pm25"]]

        assert wait_until(lambda: latest_rows() == 1, timeout=20), "the live dataset was not published"
        assert wait_until(lambda: raw_values() == [9], timeout=20), "raw values past retention were kept"
        r = c.get(f"{NGSI}/temporal/entities/{old['id']}", params={"attrs": "pm25", "aggrMethods": "totalCount",
                                                                  "aggrPeriodDuration": "P1D"})
        assert sum(a[0] for a in r.json()["pm25"]["totalCount"]) == 2  # rollups are kept longer
        assert c.post(f"{NGSI}/entityOperations/upsert", json=[air(2, pm25=3)], headers=op.headers).status_code == 201
        assert wait_until(lambda: latest_rows() == 2, timeout=20), "a changed type was not refreshed"
