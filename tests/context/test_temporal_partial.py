"""Temporal answers cut at MAX_INSTANCES per entity+attribute: 206 Partial Content with
`Content-Range: date-time <first>-<last>/<lastN or *>` (NGSI-LD 1.4+ temporal pagination), ascending order
unless lastN (newest first), and the rest reachable with timerel from the range's last time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cityhub.context.temporal_instances import MAX_INSTANCES
from tests.context.conftest import NGSI

LONG = "urn:ngsi-ld:WaterLevelObserved:partial-long"
SHORT = "urn:ngsi-ld:WaterLevelObserved:partial-short"
EXTRA = 5  # instances past the cap


def _iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def _instances(times: list[datetime], base: float = 0.0) -> list[dict]:
    return [{"type": "Property", "value": base + i, "observedAt": _iso(t)} for i, t in enumerate(times)]


def _load(client, headers) -> tuple[datetime, list[datetime]]:  # noqa: ANN001
    """LONG: MAX_INSTANCES + EXTRA waterLevel values a minute apart (and 3 of temperature); SHORT: 3 values early
    in that span and one past the cap's bound. Returns the start and LONG's waterLevel times."""
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=10)
    times = [start + timedelta(minutes=i) for i in range(MAX_INSTANCES + EXTRA)]
    body = {"id": LONG, "type": "WaterLevelObserved", "waterLevel": _instances(times),
            "temperature": _instances(times[:3], 10.0)}
    r = client.post(f"{NGSI}/temporal/entities", json=body, headers=headers)
    assert r.status_code == 201, r.text
    short_times = [times[1], times[2], times[3], times[-1]]
    body = {"id": SHORT, "type": "WaterLevelObserved", "waterLevel": _instances(short_times, 100.0)}
    assert client.post(f"{NGSI}/temporal/entities", json=body, headers=headers).status_code == 201
    return start, times


def test_cut_answer_is_206_with_content_range_and_the_rest_follows(client, writer):
    start, times = _load(client, writer.headers)
    bound = times[MAX_INSTANCES - 1]
    params = {"type": "WaterLevelObserved", "attrs": "waterLevel,temperature"}
    r = client.get(f"{NGSI}/temporal/entities", params=params)
    assert r.status_code == 206, r.text
    assert r.headers["Content-Range"] == f"date-time {_iso(start)}-{_iso(bound)}/*"
    got = {e["id"]: e for e in r.json()}
    long_values = [i["value"] for i in got[LONG]["waterLevel"]]
    assert long_values == [float(i) for i in range(MAX_INSTANCES)]  # the cap, ascending
    assert [i["value"] for i in got[LONG]["temperature"]] == [10.0, 11.0, 12.0]
    # the cap is per entity+attribute: the short series after the long one is not starved, and it is trimmed
    # to the same window (its value past the bound comes with the next window)
    assert [i["value"] for i in got[SHORT]["waterLevel"]] == [100.0, 101.0, 102.0]
    # the next window from the range's last time: the rest, complete, and 200 (nothing cut)
    r = client.get(f"{NGSI}/temporal/entities", params={**params, "timerel": "after", "timeAt": _iso(bound)})
    assert r.status_code == 200 and "Content-Range" not in r.headers, r.text
    got = {e["id"]: e for e in r.json()}
    rest = [i["value"] for i in got[LONG]["waterLevel"] if i["observedAt"] > _iso(bound)]
    assert rest == [float(i) for i in range(MAX_INSTANCES, MAX_INSTANCES + EXTRA)]
    assert [i["value"] for i in got[SHORT]["waterLevel"]] == [103.0]
    # one entity, temporalValues: the same cut
    r = client.get(f"{NGSI}/temporal/entities/{LONG}", params={"attrs": "waterLevel", "options": "temporalValues"})
    assert r.status_code == 206 and r.headers["Content-Range"] == f"date-time {_iso(start)}-{_iso(bound)}/*"
    values = r.json()["waterLevel"]["values"]
    assert len(values) == MAX_INSTANCES and values[-1] == [float(MAX_INSTANCES - 1), _iso(bound)]
    # a window under the cap is whole: 200 without Content-Range
    r = client.get(f"{NGSI}/temporal/entities/{LONG}", params={
        "attrs": "waterLevel", "timerel": "between", "timeAt": _iso(start), "endTimeAt": _iso(times[100])})
    assert r.status_code == 200 and "Content-Range" not in r.headers
    assert len(r.json()["waterLevel"]) == 100
    # aggregates read rollups and are never cut
    r = client.get(f"{NGSI}/temporal/entities/{LONG}", params={
        "attrs": "waterLevel", "aggrMethods": "totalCount", "aggrPeriodDuration": "P1D"})
    assert r.status_code == 200 and "Content-Range" not in r.headers
    assert sum(a[0] for a in r.json()["waterLevel"]["totalCount"]) == MAX_INSTANCES + EXTRA


def test_last_n_is_newest_first_and_cut_at_the_cap(client, writer):
    start, times = _load(client, writer.headers)
    r = client.get(f"{NGSI}/temporal/entities/{LONG}", params={"attrs": "waterLevel", "lastN": 3})
    assert r.status_code == 200 and "Content-Range" not in r.headers
    newest = float(MAX_INSTANCES + EXTRA - 1)
    assert [i["value"] for i in r.json()["waterLevel"]] == [newest, newest - 1, newest - 2]
    last_n = MAX_INSTANCES + 3
    params = {"type": "WaterLevelObserved", "attrs": "waterLevel", "lastN": last_n}
    r = client.get(f"{NGSI}/temporal/entities", params=params)
    assert r.status_code == 206, r.text
    bound = times[EXTRA]  # the oldest of LONG's newest MAX_INSTANCES
    assert r.headers["Content-Range"] == f"date-time {_iso(times[-1])}-{_iso(bound)}/{last_n}"
    got = {e["id"]: e for e in r.json()}
    assert [i["value"] for i in got[LONG]["waterLevel"]] == [float(i) for i in range(len(times) - 1, EXTRA - 1, -1)]
    assert [i["value"] for i in got[SHORT]["waterLevel"]] == [103.0]  # trimmed to the same window
    # the older rest: timerel=before the range's last time
    r = client.get(f"{NGSI}/temporal/entities", params={**params, "timerel": "before", "timeAt": _iso(bound)})
    assert r.status_code == 200 and "Content-Range" not in r.headers
    got = {e["id"]: e for e in r.json()}
    assert [i["value"] for i in got[LONG]["waterLevel"]] == [float(i) for i in range(EXTRA - 1, -1, -1)]
    assert [i["value"] for i in got[SHORT]["waterLevel"]] == [102.0, 101.0, 100.0]
