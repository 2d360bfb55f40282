"""Issue 5 part 6 gap: the live datasets are read by the CKAN API, SQL and charts like any table, under the
dataset's access rules: a restricted live type is refused to a citizen on every door, its publisher reads it
(both backends)."""

from __future__ import annotations

from tests.context.conftest import NGSI, air, publish_snapshots_now


def _latest(client, dataset: str, headers: dict | None = None) -> str:  # noqa: ANN001
    r = client.get("/api/3/action/package_show", params={"id": dataset}, headers=headers or {})
    assert r.status_code == 200, r.text
    return next(x["id"] for x in r.json()["result"]["resources"] if x["name"] == "latest-state.csv")


def _sql(client, sql: str, headers: dict | None = None):  # noqa: ANN001, ANN202
    return client.get("/api/3/action/datastore_search_sql", params={"sql": sql}, headers=headers or {})


def _chart(client, rid: str, headers: dict):  # noqa: ANN001, ANN202
    spec = {"type": "bar", "source": {"resource_id": rid}, "x": {"column": "district"},
            "y": [{"column": "pm25", "agg": "max"}, {"agg": "count"}]}
    return client.post("/api/v1/stats/charts/data", json=spec, headers=headers)


def test_live_tables_answer_ckan_sql_and_charts(client, writer, people):
    stations = [air(1, 129.16, 35.16, pm25=40), air(2, 129.161, 35.161, pm25=60), air(3, 129.0243, 35.0979, pm25=9)]
    assert client.post(f"{NGSI}/entityOperations/upsert", json=stations, headers=writer.headers).status_code == 201
    publish_snapshots_now(client.app)
    citizen = people.user("citizen@city.test")
    rid = _latest(client, "live-airqualityobserved", citizen.headers)
    r = client.get("/api/3/action/datastore_search", params={"resource_id": rid, "filters": '{"district": "Seo-gu"}'},
                   headers=citizen.headers)
    assert r.status_code == 200, r.text
    assert [(x["id"], float(x["pm25"])) for x in r.json()["result"]["records"]] == [(stations[2]["id"], 9.0)]
    r = _sql(client, f'SELECT district, COUNT(*) AS n, MAX(pm25) AS top FROM "{rid}" GROUP BY district '
                     "ORDER BY district", citizen.headers)
    assert r.status_code == 200, r.text
    got = {x["district"]: (int(x["n"]), float(x["top"])) for x in r.json()["result"]["records"]}
    assert got == {"Haeundae-gu": (2, 60.0), "Seo-gu": (1, 9.0)}
    r = _chart(client, rid, citizen.headers)
    assert r.status_code == 200, r.text
    assert {row[0]: (row[1], row[2]) for row in r.json()["rows"]} == {"Haeundae-gu": (60, 2), "Seo-gu": (9, 1)}
    # a new reading reaches the table at the next refresh
    client.post(f"{NGSI}/entityOperations/upsert", json=[air(2, 129.161, 35.161, pm25=70)], headers=writer.headers)
    publish_snapshots_now(client.app)
    rid = _latest(client, "live-airqualityobserved", citizen.headers)
    r = _sql(client, f'SELECT MAX(pm25) AS top FROM "{rid}"', citizen.headers)
    assert float(r.json()["result"]["records"][0]["top"]) == 70.0


def test_a_restricted_live_type_is_refused_on_every_door(client, people):
    people.org("busan-ctrl", "관제센터")
    owner = people.user("owner@city.test", role="steward", org="busan-ctrl")
    citizen = people.user("citizen@city.test")
    body = {"name": "live-airqualityobserved", "title": "restricted air", "owner_org": "busan-ctrl",
            "access_level": "restricted"}
    assert client.post("/api/v1/datasets", json=body, headers=owner.headers).status_code == 201
    secret = air(1, 129.16, 35.16, pm25=123.5)
    assert client.post(f"{NGSI}/entityOperations/upsert", json=[secret], headers=owner.headers).status_code == 201
    publish_snapshots_now(client.app)
    rid = _latest(client, "live-airqualityobserved", owner.headers)
    sql = f'SELECT id, pm25 FROM "{rid}"'
    mine = _sql(client, sql, owner.headers)
    assert mine.status_code == 200 and float(mine.json()["result"]["records"][0]["pm25"]) == 123.5
    assert _chart(client, rid, owner.headers).status_code == 200
    for headers in ({}, citizen.headers):
        assert client.get("/api/3/action/package_show", params={"id": "live-airqualityobserved"},
                          headers=headers).status_code in (403, 404)
        r = _sql(client, sql, headers)
        assert r.status_code != 200 and "123.5" not in r.text
        r = client.get("/api/3/action/datastore_search", params={"resource_id": rid}, headers=headers)
        assert r.status_code != 200 and "123.5" not in r.text
        if headers:
            r = _chart(client, rid, headers)
            assert r.status_code != 200 and "123.5" not in r.text
        r = client.get(f"{NGSI}/entities", params={"type": "AirQualityObserved"}, headers=headers)
        assert r.status_code == 200 and r.json() == []


def test_a_write_committed_after_a_refresh_pass_began_is_still_published(settings, backend):
    """modified_at is stamped before the commit: a write whose transaction outlives a scheduled refresh pass
    (stamped before the pass began, committed after it read the changed types) still reaches the table."""
    import time

    from fastapi.testclient import TestClient

    from cityhub.app import create_app
    from cityhub.cli import SYSTEM
    from cityhub.context import entities
    from cityhub.ctx import RequestContext
    from tests.conftest import People
    from tests.context.receivers import wait_until

    if backend == "sqlite":
        import pytest

        pytest.skip("SQLite has one writer: no refresh pass can run while the write is open")
    app = create_app(settings.model_copy(update={
        "context_catalog_org": "busan-ctrl", "context_catalog_refresh_seconds": 0.3,
        "context_retention_interval_seconds": 0}))
    with TestClient(app) as c:
        people = People(app)
        op = people.user("ops@city.test", role="operator", org=people.org("busan-ctrl", "관제센터"))
        assert c.post(f"{NGSI}/entityOperations/upsert", json=[air(1)], headers=op.headers).status_code == 201

        def rows() -> int | None:
            r = c.get("/api/3/action/package_show", params={"id": "live-airqualityobserved"})
            res = [x for x in r.json()["result"]["resources"] if x["name"] == "latest-state.csv"] \
                if r.status_code == 200 else []
            if not res:
                return None
            found = c.get("/api/3/action/datastore_search", params={"resource_id": res[0]["id"], "limit": 0})
            return found.json()["result"]["total"] if found.status_code == 200 else None

        assert wait_until(lambda: rows() == 1, timeout=30)
        db = app.state.session_factory()
        try:
            ctx = RequestContext(actor=SYSTEM, db=db, settings=app.state.settings, bus=app.state.bus)
            assert entities.batch(ctx, op="upsert", bodies=[air(2)]).created
            time.sleep(2)  # refresh passes run meanwhile (every 0.3 s) and see nothing new yet
            db.commit()
        finally:
            db.close()
        assert wait_until(lambda: rows() == 2, timeout=60), "a write committed late was never published"
