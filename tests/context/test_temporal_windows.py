"""Issue 5 part 3 gaps: timerel=after, lastN inside a window, every aggregate method per PT1M, and a retention
policy per entity type set over HTTP and applied by the scheduled pass (other types keep the default)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from tests.context.conftest import NGSI, air
from tests.context.receivers import wait_until

EID = "urn:ngsi-ld:AirQualityObserved:busan-0001"


def _iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def _send(client, headers, values: list[tuple[datetime, float]], n: int = 1) -> None:  # noqa: ANN001
    for ts, v in values:
        body = air(n, pm25=v)
        body["pm25"]["observedAt"] = _iso(ts)
        r = client.post(f"{NGSI}/entityOperations/upsert", json=[body], headers=headers)
        assert r.status_code in (201, 204), r.text


def test_after_last_n_and_per_minute_aggregates(client, writer):
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    # three minutes, four values each (15 s apart), out of order
    values = [(start + timedelta(seconds=15 * i), float(i)) for i in range(12)]
    _send(client, writer.headers, values[6:] + values[:6])
    after = _iso(start + timedelta(seconds=50))  # between two values: no claim on the boundary's side
    r = client.get(f"{NGSI}/temporal/entities/{EID}", params={"attrs": "pm25", "timerel": "after", "timeAt": after})
    assert r.status_code == 200, r.text
    assert [i["value"] for i in r.json()["pm25"]] == [float(i) for i in range(4, 12)]
    r = client.get(f"{NGSI}/temporal/entities/{EID}", params={
        "attrs": "pm25", "timerel": "after", "timeAt": after, "lastN": 3, "options": "temporalValues"})
    assert [v[0] for v in r.json()["pm25"]["values"]] == [11.0, 10.0, 9.0]  # lastN: newest first
    r = client.get(f"{NGSI}/temporal/entities/{EID}", params={
        "attrs": "pm25", "aggrMethods": "avg,min,max,sum,totalCount", "aggrPeriodDuration": "PT1M"})
    assert r.status_code == 200, r.text
    agg = r.json()["pm25"]
    minutes = [[float(4 * m + k) for k in range(4)] for m in range(3)]
    spans = [[_iso(start + timedelta(minutes=m)), _iso(start + timedelta(minutes=m + 1))] for m in range(3)]
    assert agg["avg"] == [[sum(g) / 4, *s] for g, s in zip(minutes, spans, strict=True)]
    assert agg["min"] == [[min(g), *s] for g, s in zip(minutes, spans, strict=True)]
    assert agg["max"] == [[max(g), *s] for g, s in zip(minutes, spans, strict=True)]
    assert agg["sum"] == [[sum(g), *s] for g, s in zip(minutes, spans, strict=True)]
    assert agg["totalCount"] == [[4, *s] for s in spans]


def test_retention_policy_per_entity_type_over_http(settings, tmp_path):
    from cityhub.app import create_app
    from tests.conftest import People

    app = create_app(settings.model_copy(update={"context_retention_interval_seconds": 0.3,
                                                 "context_raw_retention_days": 30}))
    with TestClient(app) as c:
        people = People(c.app)
        op = people.user("ops@city.test", role="operator", org=people.org("busan-ctrl", "관제센터"))
        citizen = people.user("citizen@city.test", role="citizen")
        h = op.headers
        assert c.get("/api/v1/context/retention").json() == {
            "default": {"raw_days": 30, "rollup_days": c.app.state.settings.context_rollup_retention_days},
            "items": []}
        body = {"raw_days": 7, "rollup_days": 365}
        assert c.put("/api/v1/context/retention/AirQualityObserved", json=body,
                     headers=citizen.headers).status_code == 403
        bad = c.put("/api/v1/context/retention/AirQualityObserved", json={"raw_days": 7, "rollup_days": 3},
                    headers=h)
        assert bad.status_code == 400 and "raw_days" in bad.text
        r = c.put("/api/v1/context/retention/AirQualityObserved", json=body, headers=h)
        assert r.status_code == 200, r.text
        assert c.get("/api/v1/context/retention").json()["items"] == [{"entity_type": "AirQualityObserved", **body}]
        now = datetime.now(UTC)
        ten_days = now - timedelta(days=10)
        _send(c, h, [(ten_days, 1.0), (now - timedelta(minutes=1), 2.0)])
        gauge = "urn:ngsi-ld:WaterLevelObserved:oncheon-9"
        for ts, level in ((ten_days, 0.5), (now - timedelta(minutes=1), 0.7)):
            r = c.post(f"{NGSI}/entityOperations/upsert", headers=h, json=[{
                "id": gauge, "type": "WaterLevelObserved",
                "waterLevel": {"type": "Property", "value": level, "observedAt": _iso(ts)}}])
            assert r.status_code in (201, 204), r.text

        def raw(eid: str, attr: str) -> list[float]:
            return [i["value"] for i in c.get(f"{NGSI}/temporal/entities/{eid}", params={"attrs": attr}).json()[attr]]

        assert wait_until(lambda: raw(EID, "pm25") == [2.0], timeout=30), "the type's 7-day policy was not applied"
        # the river gauge has no policy of its own: the 30-day default keeps its 10-day-old value
        assert raw(gauge, "waterLevel") == [0.5, 0.7]
        r = c.get(f"{NGSI}/temporal/entities/{EID}", params={"attrs": "pm25", "aggrMethods": "totalCount",
                                                             "aggrPeriodDuration": "P1D"})
        assert sum(a[0] for a in r.json()["pm25"]["totalCount"]) == 2  # rollups kept longer
