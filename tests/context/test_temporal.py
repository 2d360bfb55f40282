"""History: every observed value kept; timerel, lastN, temporalValues; aggregates from rollups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.context.conftest import LD, NGSI, air

EID = "urn:ngsi-ld:AirQualityObserved:busan-0001"


def _iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def _send(client, headers, values: list[tuple[datetime, float]]) -> None:  # noqa: ANN001
    for ts, v in values:
        body = air(1, pm25=v)
        body["pm25"]["observedAt"] = _iso(ts)
        r = client.post(f"{NGSI}/entityOperations/upsert", json=[body], headers=headers)
        assert r.status_code in (201, 204), r.text


def test_history_and_hourly_aggregates_out_of_order(client, writer):
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=5)
    values = [(start + timedelta(minutes=10 * i), float(i)) for i in range(18)]  # 3 hours, 6 per hour
    shuffled = values[9:] + values[:9]  # out of order on purpose
    _send(client, writer.headers, shuffled)
    _send(client, writer.headers, values[:3])  # re-sent values are kept once
    r = client.get(f"{NGSI}/temporal/entities/{EID}", params={"attrs": "pm25"})
    assert r.status_code == 200, r.text
    inst = r.json()["pm25"]
    assert len(inst) == 18 and [i["value"] for i in inst] == [float(i) for i in range(18)]
    r = client.get(f"{NGSI}/temporal/entities/{EID}", params={
        "attrs": "pm25", "aggrMethods": "avg,min,max,sum,totalCount", "aggrPeriodDuration": "PT1H"})
    agg = r.json()["pm25"]
    assert [a[0] for a in agg["avg"]] == [2.5, 8.5, 14.5]
    assert [a[0] for a in agg["totalCount"]] == [6, 6, 6]
    assert [a[0] for a in agg["max"]] == [5, 11, 17]
    assert agg["avg"][0][1] == _iso(start) and agg["avg"][0][2] == _iso(start + timedelta(hours=1))
    r = client.get(f"{NGSI}/temporal/entities/{EID}", params={"attrs": "pm25", "aggrMethods": "sum",
                                                               "aggrPeriodDuration": "P1D"})
    assert sum(a[0] for a in r.json()["pm25"]["sum"]) == sum(range(18))
    # timerel + lastN + temporalValues
    r = client.get(f"{NGSI}/temporal/entities", params={
        "type": "AirQualityObserved", "attrs": "pm25", "timerel": "between", "timeAt": _iso(start + timedelta(hours=1)),
        "endTimeAt": _iso(start + timedelta(hours=2)), "options": "temporalValues"})
    assert [v[0] for v in r.json()[0]["pm25"]["values"]] == [6, 7, 8, 9, 10, 11]
    r = client.get(f"{NGSI}/temporal/entities/{EID}", params={"attrs": "pm25", "lastN": 2})
    assert [i["value"] for i in r.json()["pm25"]] == [17, 16]  # lastN: newest first
    before = _iso(start + timedelta(minutes=15))
    r = client.get(f"{NGSI}/temporal/entities/{EID}", params={"timerel": "before", "timeAt": before, "attrs": "pm25"})
    assert [i["value"] for i in r.json()["pm25"]] == [0, 1]


def test_temporal_bad_parameters_and_delete(client, writer):
    c, h = client, writer.headers
    _send(c, h, [(datetime.now(UTC) - timedelta(minutes=5), 3.0)])
    t0 = "2026-01-01T00:00:00Z"
    for params in ({"timerel": "during", "timeAt": t0}, {"timerel": "between", "timeAt": t0},
                   {"aggrMethods": "median"}, {"aggrMethods": "avg", "aggrPeriodDuration": "1 hour"}, {"lastN": "x"}):
        r = c.get(f"{NGSI}/temporal/entities/{EID}", params=params)
        assert r.status_code == 400, params
    assert c.delete(f"{NGSI}/temporal/entities/{EID}", headers=h).status_code == 204
    assert c.get(f"{NGSI}/temporal/entities/{EID}").status_code == 404
    assert c.get(f"{NGSI}/entities/{EID}").status_code == 404


def test_retention_drops_old_raw_values_and_keeps_rollups(client, writer):
    from cityhub.cli import SYSTEM
    from cityhub.context import temporal
    from cityhub.ctx import RequestContext

    c, h = client, writer.headers
    old = datetime.now(UTC) - timedelta(days=10)
    _send(c, h, [(old, 1.0), (datetime.now(UTC) - timedelta(minutes=1), 2.0)])
    app = c.app
    db = app.state.session_factory()
    ctx = RequestContext(actor=SYSTEM, db=db, settings=app.state.settings, bus=app.state.bus)
    temporal.set_retention(ctx, entity_type="AirQualityObserved", raw_days=7, rollup_days=365)
    removed = temporal.apply_retention(ctx)
    db.commit()
    db.close()
    assert removed["observations"] == 1 and removed["rollups"] == 0
    r = c.get(f"{NGSI}/temporal/entities/{EID}", params={"attrs": "pm25"})
    assert [i["value"] for i in r.json()["pm25"]] == [2.0]
    r = c.get(f"{NGSI}/temporal/entities/{EID}", params={"attrs": "pm25", "aggrMethods": "totalCount",
                                                          "aggrPeriodDuration": "P1D"})
    assert sum(a[0] for a in r.json()["pm25"]["totalCount"]) == 2


def test_repeated_entity_in_one_batch_keeps_every_value(client, writer):
    c, h = client, writer.headers
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    batch = []
    for i in range(5):
        body = air(1, pm25=float(i))
        body["pm25"]["observedAt"] = _iso(start + timedelta(minutes=i))
        batch.append(body)
    r = c.post(f"{NGSI}/entityOperations/upsert", json=batch, headers=h)
    assert r.status_code == 201 and r.json() == [EID]
    r = c.get(f"{NGSI}/temporal/entities/{EID}", params={"attrs": "pm25"})
    assert [i["value"] for i in r.json()["pm25"]] == [0, 1, 2, 3, 4]
    assert c.get(f"{NGSI}/entities/{EID}").json()["pm25"]["value"] == 4


def test_post_temporal_entity_creates_then_adds_history(client, writer):
    h = writer.headers
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
    eid = "urn:ngsi-ld:WaterLevelObserved:temporal-01"
    body = {"id": eid, "type": "WaterLevelObserved",
            "waterLevel": [{"type": "Property", "value": 1.0 + i / 10, "observedAt": _iso(start + timedelta(minutes=i))}
                           for i in (2, 0, 1)],  # out of order on purpose
            "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [129.05, 35.2]}}}
    r = client.post(f"{NGSI}/temporal/entities", json=body, headers=h)
    assert r.status_code == 201, r.text
    assert r.headers["Location"].endswith(eid)
    # the latest state follows the newest instance; history keeps all of them
    assert client.get(f"{NGSI}/entities/{eid}").json()["waterLevel"]["value"] == 1.2
    r = client.get(f"{NGSI}/temporal/entities/{eid}", params={"attrs": "waterLevel", "options": "temporalValues"})
    assert [v[0] for v in r.json()["waterLevel"]["values"]] == [1.0, 1.1, 1.2]
    # an older instance is history only; a newer one moves the state; a re-sent one is kept once
    older = {"id": eid, "type": "WaterLevelObserved", "waterLevel": [
        {"type": "Property", "value": 0.5, "observedAt": _iso(start - timedelta(minutes=5))},
        {"type": "Property", "value": 1.0, "observedAt": _iso(start)}]}
    assert client.post(f"{NGSI}/temporal/entities/", json=older, headers=h).status_code == 204
    assert client.get(f"{NGSI}/entities/{eid}").json()["waterLevel"]["value"] == 1.2
    newer = {"waterLevel": {"type": "Property", "value": 2.5, "observedAt": _iso(start + timedelta(minutes=9))}}
    r = client.post(f"{NGSI}/temporal/entities/{eid}/attrs", json=newer, headers=h)
    assert r.status_code == 204, r.text
    assert client.get(f"{NGSI}/entities/{eid}").json()["waterLevel"]["value"] == 2.5
    r = client.get(f"{NGSI}/temporal/entities/{eid}", params={"attrs": "waterLevel", "aggrMethods": "totalCount,sum",
                                                            "aggrPeriodDuration": "P1D"})
    agg = r.json()["waterLevel"]
    assert sum(a[0] for a in agg["totalCount"]) == 5
    assert round(sum(a[0] for a in agg["sum"]), 6) == round(0.5 + 1.0 + 1.1 + 1.2 + 2.5, 6)
    r = client.get(f"{NGSI}/temporal/entities", params={"type": "WaterLevelObserved", "attrs": "waterLevel"})
    assert [e["id"] for e in r.json()] == [eid]


def test_post_temporal_entity_bad_input_writes_nothing(client, writer):
    c, h = client, writer.headers
    eid = "urn:ngsi-ld:AirQualityObserved:temporal-bad"
    good = {"type": "Property", "value": 1.0, "observedAt": "2026-01-01T00:00:00Z"}
    for body, field in (
            ({"id": eid, "type": "AirQualityObserved", "pm25": [good, {"type": "Property", "value": 2.0}]},
             "pm25[1].observedAt"),
            ({"id": eid, "type": "AirQualityObserved",
              "pm25": [good, {"type": "Property", "value": 2.0, "observedAt": "9999-01-01T00:00:00Z"}]},
             "pm25[1].observedAt"),
            ({"id": "not a uri", "type": "AirQualityObserved", "pm25": [good]}, "id"),
            ({"id": eid, "type": "AirQualityObserved", "pm25": ["x"]}, "pm25[0]")):
        r = c.post(f"{NGSI}/temporal/entities", json=body, headers=h)
        assert r.status_code == 400, (body, r.text)
        assert field in r.text, (field, r.text)
    assert c.get(f"{NGSI}/temporal/entities/{eid}").status_code == 404
    assert c.get(f"{NGSI}/entities/{eid}").status_code == 404
    r = c.post(f"{NGSI}/temporal/entities/{eid}/attrs", json={"pm25": [good]}, headers=h)
    assert r.status_code == 404
    assert c.post(f"{NGSI}/temporal/entities", json={"id": eid, "type": "AirQualityObserved", "pm25": [good]}
                  ).status_code in (401, 403)


def test_aggregates_over_periods_of_several_buckets_and_the_whole_window(client, writer):
    """PT20M from minute buckets, PT2H from hour buckets, and no period (one over the window) agree with the
    raw values, for two entities in one query."""
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=6)
    values = [(start + timedelta(minutes=7 * i), float(i % 11)) for i in range(40)]  # 4 h 33 min
    batch = []
    for n in (1, 2):
        for ts, v in values:
            body = air(n, pm25=v + n)
            body["pm25"]["observedAt"] = _iso(ts)
            batch.append(body)
    for k in range(0, len(batch), 2):  # an entity appears once per batch
        r = client.post(f"{NGSI}/entityOperations/upsert", json=batch[k:k + 2], headers=writer.headers)
        assert r.status_code in (201, 204), r.text
    end = start + timedelta(hours=5)

    def expect(n: int, period: timedelta) -> list[list]:
        groups: dict[datetime, list[float]] = {}
        for ts, v in values:
            groups.setdefault(start + period * ((ts - start) // period), []).append(v + n)
        return [[sum(g) / len(g), len(g), min(g), max(g), _iso(p), _iso(p + period)] for p, g in sorted(groups.items())]

    for duration, period in (("PT20M", timedelta(minutes=20)), ("PT2H", timedelta(hours=2))):
        r = client.get(f"{NGSI}/temporal/entities", params={
            "type": "AirQualityObserved", "attrs": "pm25", "aggrMethods": "avg,totalCount,min,max",
            "aggrPeriodDuration": duration, "timerel": "between", "timeAt": _iso(start), "endTimeAt": _iso(end)})
        assert r.status_code == 200, r.text
        got = {e["id"]: e["pm25"] for e in r.json()}
        for n in (1, 2):
            agg = got[f"urn:ngsi-ld:AirQualityObserved:busan-{n:04d}"]
            rows = [[a[0], c[0], lo[0], hi[0], a[1], a[2]]
                    for a, c, lo, hi in zip(agg["avg"], agg["totalCount"], agg["min"], agg["max"], strict=True)]
            assert rows == expect(n, period), duration
    r = client.get(f"{NGSI}/temporal/entities/urn:ngsi-ld:AirQualityObserved:busan-0002", params={
        "attrs": "pm25", "aggrMethods": "sum,totalCount", "timerel": "between", "timeAt": _iso(start),
        "endTimeAt": _iso(end)})
    agg = r.json()["pm25"]
    assert agg["sum"] == [[sum(v + 2 for _, v in values), _iso(start), _iso(end)]]
    assert agg["totalCount"][0][0] == len(values)


def test_daily_aggregates_of_many_entities_in_one_request(client, writer):
    """P1D over day rollups for several stations in one query: the database's per-bucket values, spliced into
    the response as JSON (ld+json too), equal the raw values' and what the service gives Python callers."""
    from cityhub.cli import SYSTEM
    from cityhub.context import temporal
    from cityhub.ctx import RequestContext

    day0 = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=3)
    stamps = [day0 + timedelta(days=d, hours=h) for d in range(3) for h in (6, 12)]
    for k, ts in enumerate(stamps):  # binary fractions: every sum is exact whatever the order of addition
        batch = [air(n, pm25=n + k * 0.25) for n in (1, 2, 3)]
        for body in batch:
            body["pm25"]["observedAt"] = _iso(ts)
        assert client.post(f"{NGSI}/entityOperations/upsert", json=batch, headers=writer.headers).status_code in (
            201, 204)
    quiet = air(4)  # an entity with no value in the window is listed without the attribute
    quiet["pm25"]["observedAt"] = _iso(day0 - timedelta(days=2))
    assert client.post(f"{NGSI}/entityOperations/upsert", json=[quiet], headers=writer.headers).status_code in (
        201, 204)
    params = {"type": "AirQualityObserved", "attrs": "pm25", "aggrMethods": "avg,max,totalCount",
              "aggrPeriodDuration": "P1D", "timerel": "between", "timeAt": _iso(day0),
              "endTimeAt": _iso(day0 + timedelta(days=3))}
    r = client.get(f"{NGSI}/temporal/entities", params=params, headers={"Accept": LD})
    assert r.status_code == 200, r.text
    got = {e["id"]: e for e in r.json()}
    assert all("@context" in e for e in got.values()) and "pm25" not in got[quiet["id"]]
    for n in (1, 2, 3):
        agg = got[f"urn:ngsi-ld:AirQualityObserved:busan-{n:04d}"]["pm25"]
        for d in range(3):
            day = [n + k * 0.25 for k in (2 * d, 2 * d + 1)]
            span = [_iso(day0 + timedelta(days=d)), _iso(day0 + timedelta(days=d + 1))]
            assert agg["avg"][d] == [sum(day) / 2, *span] and agg["max"][d] == [max(day), *span]
            assert agg["totalCount"][d] == [2, *span]
    db = client.app.state.session_factory()
    try:
        ctx = RequestContext(actor=SYSTEM, db=db, settings=client.app.state.settings, bus=client.app.state.bus)
        tq = temporal.build_query(params)
        tq.types, tq.attrs = ["AirQualityObserved"], ["pm25"]
        plain = temporal.query_temporal(ctx, tq=tq)  # Python callers (the board) get plain lists
    finally:
        db.close()
    assert {e["id"]: e.get("pm25") for e in plain} == {i: e.get("pm25") for i, e in got.items()}
