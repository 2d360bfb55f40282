"""Derived analysis datasets: the incident register and hourly sensor history, published as datasets and
refreshed incrementally, in their open form only (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update


def _ctx(app):  # noqa: ANN001, ANN202
    from cityhub.cli import SYSTEM
    from cityhub.ctx import RequestContext

    db = app.state.session_factory()
    return RequestContext(actor=SYSTEM, db=db, settings=app.state.settings, bus=app.state.bus)


def _incident(**kw):  # noqa: ANN003, ANN202
    from cityhub.ops.models import Incident

    now = datetime.now(UTC)
    values = {"type": "fire", "subtype": "building", "lifecycle": "fire", "state": "dispatched", "source": "agency",
              "title": "화재", "description": "3층 주택 화재, 신고자 김철수 010-1234-5678", "address": "해운대로 1",
              "lon": 129.16321, "lat": 35.16345, "district": "Haeundae-gu", "created_at": now, "updated_at": now}
    return Incident(**{**values, **kw})


def test_incident_register_is_published_coarse_and_refreshed_incrementally(client, people) -> None:  # noqa: ANN001
    from cityhub.ops.models import Incident
    from cityhub.stats.derived import publish, refresh

    org = people.org("smart-city")
    ctx = _ctx(client.app)
    try:
        fire, sos = _incident(), _incident(type="vulnerable_person", subtype="child", lifecycle="generic",
                                          state="reported", title="아동 SOS")
        ctx.db.add_all([fire, sos])
        ctx.db.commit()
        done = {d["dataset"]: d for d in publish(ctx, org=org)}
        ctx.db.commit()
        assert done["incident-register"]["rows"] == 1  # the child's SOS position is never published
        assert refresh(ctx)[0]["inserted"] == 0  # nothing new: nothing rewritten
        ctx.db.execute(update(Incident).where(Incident.id == fire.id).values(
            state="closed", updated_at=datetime.now(UTC) + timedelta(seconds=1)))
        ctx.db.add(_incident(lon=129.0403, lat=35.1796, district="Busanjin-gu"))
        ctx.db.commit()
        again = refresh(ctx)[0]
        ctx.db.commit()
        assert (again["inserted"], again["updated"], again["rows"]) == (1, 1, 2)
        resource = again["resource"]
    finally:
        ctx.db.close()

    r = client.get("/api/3/action/datastore_search", params={"resource_id": resource, "sort": "district asc"})
    assert r.status_code == 200, r.text
    result = r.json()["result"]
    columns = {f["id"] for f in result["fields"]}
    assert not columns & {"description", "address", "title", "created_by", "source_ref"}
    busanjin, haeundae = result["records"]
    assert haeundae["incident_id"] == fire.id and haeundae["state"] == "closed"
    assert (haeundae["district_ko"], haeundae["district_code"]) == ("해운대구", "26350")
    assert (haeundae["lat"], haeundae["lon"]) == (35.163, 129.163)  # about 100 m
    assert busanjin["district"] == "Busanjin-gu"
    # hour and weekday in Korean time
    local = fire.created_at.astimezone(UTC) + timedelta(hours=9)
    assert (haeundae["hour"], haeundae["weekday"]) == (local.hour, local.isoweekday())
    # an ordinary public dataset: searchable and readable through SQL by anyone
    hits = client.get("/api/3/action/package_search", params={"q": "사건 대장"}).json()["result"]["results"]
    assert "incident-register" in [h["name"] for h in hits]
    sql = f'SELECT count(*) AS n FROM "{resource}"'
    assert client.get("/api/3/action/datastore_search_sql", params={"sql": sql}).json()["result"]["records"] == [
        {"n": 2}]


def test_hourly_sensor_history_follows_the_rollups(client, people) -> None:  # noqa: ANN001
    from cityhub.context.models import ContextEntity, Rollup
    from cityhub.stats.derived import publish, refresh

    org = people.org("smart-city")
    hour = datetime(2026, 12, 1, 3, tzinfo=UTC)
    ctx = _ctx(client.app)
    try:
        ctx.db.add(ContextEntity(id="urn:ngsi-ld:AirQualityObserved:s1", type="AirQualityObserved", attrs={},
                                 district="Haeundae-gu", lon=129.16, lat=35.16))
        ctx.db.add_all([Rollup(entity_id="urn:ngsi-ld:AirQualityObserved:s1", attr="pm25", grain=g, bucket=hour,
                               count=4, sum=100.0, min=20.0, max=30.0, entity_type="AirQualityObserved")
                        for g in ("m", "h", "d")])
        ctx.db.commit()
        done = {d["dataset"]: d for d in publish(ctx, org=org)}
        ctx.db.commit()
        assert done["sensor-history-hourly"]["rows"] == 1
        # the open hour grows: the same row is updated, not doubled
        ctx.db.execute(update(Rollup).where(Rollup.grain == "h").values(count=5, sum=130.0, max=30.0))
        ctx.db.commit()
        again = {d["dataset"]: d for d in refresh(ctx)}["sensor-history-hourly"]
        ctx.db.commit()
        assert (again["updated"], again["rows"]) == (1, 1)
        resource = again["resource"]
        assert ctx.db.scalar(select(Rollup.count).where(Rollup.grain == "h")) == 5
    finally:
        ctx.db.close()
    records = client.get("/api/3/action/datastore_search",
                         params={"resource_id": resource}).json()["result"]["records"]
    assert [(r["attribute"], r["district"], r["average"], r["readings"]) for r in records] == [
        ("pm25", "Haeundae-gu", 26.0, 5)]
