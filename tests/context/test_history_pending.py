"""Write-behind history: a batch's observations are acknowledged with the entity state and expanded
into observations and rollups later; readers never see history behind what was acknowledged."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from cityhub.context import history_pending
from cityhub.context.history_pending import HistoryWriter
from tests.context.conftest import NGSI, air


def _iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def _batch(start: int, when: datetime, pm25: float) -> list[dict]:
    out = []
    for n in range(start, start + 20):
        body = air(n, pm25=pm25)
        body["pm25"]["observedAt"] = body["pm10"]["observedAt"] = _iso(when)
        out.append(body)
    return out


def _pending(app) -> int:  # noqa: ANN001
    db = app.state.session_factory()
    try:
        return history_pending.pending_count(db)
    finally:
        db.close()


def test_acknowledged_history_is_read_before_expansion_and_expanded_later(client, writer):
    app = client.app
    app.state.context_history_writer.stop()  # as if the process died right after acknowledging
    base = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    for k in range(3):
        r = client.post(f"{NGSI}/entityOperations/upsert", json=_batch(0, base + timedelta(minutes=k), 10.0 + k),
                        headers=writer.headers)
        assert r.status_code in (201, 204), r.text
    assert _pending(app) == 3 * 20 * 2
    # a reader settles what is pending first: every value and the rollups built from them
    eid = "urn:ngsi-ld:AirQualityObserved:busan-0005"
    r = client.get(f"{NGSI}/temporal/entities/{eid}", params={"attrs": "pm25"})
    assert r.status_code == 200, r.text
    assert [i["value"] for i in r.json()["pm25"]] == [10.0, 11.0, 12.0]
    r = client.get(f"{NGSI}/temporal/entities/{eid}", params={"attrs": "pm25", "aggrMethods": "sum,totalCount",
                                                              "aggrPeriodDuration": "P1D"})
    agg = r.json()["pm25"]
    assert sum(a[0] for a in agg["totalCount"]) == 3 and sum(a[0] for a in agg["sum"]) == 33.0
    assert _pending(app) == 0
    # a batch left pending (as across kill -9) is expanded by a writer started later; re-sent values count once
    for k in (3, 2):
        r = client.post(f"{NGSI}/entityOperations/upsert", json=_batch(0, base + timedelta(minutes=k), 10.0 + k),
                        headers=writer.headers)
        assert r.status_code in (201, 204), r.text
    assert _pending(app) == 2 * 20 * 2
    later = HistoryWriter(app.state.session_factory, interval=0.05)
    later.start()
    try:
        deadline = time.monotonic() + 30
        while _pending(app) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        later.stop()
    assert _pending(app) == 0
    r = client.get(f"{NGSI}/temporal/entities/{eid}", params={"attrs": "pm25", "aggrMethods": "totalCount",
                                                              "aggrPeriodDuration": "P1D"})
    assert sum(a[0] for a in r.json()["pm25"]["totalCount"]) == 4


def test_deleting_history_first_settles_what_is_pending(sqlite_client, sqlite_writer):
    c, h = sqlite_client, sqlite_writer.headers
    c.app.state.context_history_writer.stop()
    when = datetime.now(UTC) - timedelta(minutes=5)
    assert c.post(f"{NGSI}/entityOperations/upsert", json=_batch(0, when, 7.0), headers=h).status_code in (201, 204)
    eid = "urn:ngsi-ld:AirQualityObserved:busan-0003"
    assert c.delete(f"{NGSI}/temporal/entities/{eid}", headers=h).status_code == 204
    assert _pending(c.app) == 0
    # the deleted entity's pending values did not come back after the delete
    assert c.get(f"{NGSI}/temporal/entities/{eid}", params={"attrs": "pm25"}).status_code == 404


def _gauge(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in metrics")


def test_history_backlog_is_on_the_metrics_endpoint(client, writer):
    app = client.app
    app.state.context_history_writer.stop()  # the backlog stays until a reader or a writer expands it
    when = datetime.now(UTC) - timedelta(minutes=5)
    for k in range(2):
        r = client.post(f"{NGSI}/entityOperations/upsert", json=_batch(100 * k, when, 12.0), headers=writer.headers)
        assert r.status_code in (201, 204), r.text
    time.sleep(0.05)
    text = client.get("/metrics").text
    assert _gauge(text, "cityhub_context_history_pending_batches") == 2
    assert _gauge(text, "cityhub_context_history_pending_readings") == 2 * 20 * 2
    assert _gauge(text, "cityhub_context_history_pending_oldest_seconds") > 0
    history_pending.settle(app.state.session_factory())
    text = client.get("/metrics").text
    assert _gauge(text, "cityhub_context_history_pending_batches") == 0
    assert _gauge(text, "cityhub_context_history_pending_oldest_seconds") == 0
