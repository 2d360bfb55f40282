"""Each entity type is also a catalog dataset with its latest state as a datastore table."""

from __future__ import annotations

from tests.context.conftest import NGSI, air


def test_entity_types_become_datasets(sqlite_client, sqlite_writer):
    from cityhub.catalog import service as catalog
    from cityhub.cli import SYSTEM
    from cityhub.context.catalog_link import publish_snapshots
    from cityhub.ctx import RequestContext

    c = sqlite_client
    r = c.post(f"{NGSI}/entityOperations/upsert", json=[air(i, pm25=10 + i) for i in range(5)],
               headers=sqlite_writer.headers)
    assert r.status_code == 201
    app = c.app

    def run() -> list[dict]:
        db = app.state.session_factory()
        try:
            ctx = RequestContext(actor=SYSTEM, db=db, settings=app.state.settings, bus=app.state.bus)
            done = publish_snapshots(ctx, org="busan-ctrl")
            db.commit()
            return done
        finally:
            db.close()

    done = run()
    assert {d["dataset"]: d["rows"] for d in done} == {"live-airqualityobserved": 5}
    c.post(f"{NGSI}/entityOperations/upsert", json=[air(9, pm25=1)], headers=sqlite_writer.headers)
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
