"""Seoul Open Data Plaza connector against the fake: 1,000-row paging, XML, citydata nesting, codes, layout."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.seoul import VALID_KEY, SeoulBehaviour, make_app
from tests.fakes.server import FakeServer


@pytest.fixture
def seoul() -> Iterator[tuple[FakeServer, SeoulBehaviour]]:
    behaviour = SeoulBehaviour()
    with FakeServer(make_app(behaviour)) as server:
        yield server, behaviour


def _cfg(server, service: str, **extra) -> dict:  # noqa: ANN001
    return {"api_key": VALID_KEY, "service": service, "base_url": server.url, **extra}


AIR = [{"name": "measured", "path": "MSRDT", "type": "datetime"}, {"name": "station", "path": "MSRSTE_NM"},
       {"name": "pm10", "path": "PM10", "type": "number"}, {"name": "pm25", "path": "PM25", "type": "number"}]


def test_realtime_city_air(sqlite_collect, seoul) -> None:
    server, behaviour = seoul
    src = sqlite_collect.source("seoul-air", "seoul", _cfg(server, "RealtimeCityAir"), AIR, ["station", "measured"])
    run = sqlite_collect.run("seoul-air")
    assert run["status"] == "succeeded" and run["rows_inserted"] == 25 and run["requests"] == 1
    assert behaviour.requests[0].endswith("/json/RealtimeCityAir/1/1000")
    rows = sqlite_collect.rows(src)
    assert rows[0]["station"] == "중구" and rows[0]["pm10"] == 25.0


@pytest.mark.parametrize("kind", ["json", "xml"])
def test_pages_of_1000_until_list_total_count(sqlite_collect, seoul, kind) -> None:
    server, behaviour = seoul
    fields = [{"name": "id", "path": "ID", "type": "integer"}, {"name": "name", "path": "NAME"},
              {"name": "x", "path": "X", "type": "number"}]
    src = sqlite_collect.source(f"wifi-{kind}", "seoul", _cfg(server, "TbBigList", type=kind), fields, ["id"])
    run = sqlite_collect.run(f"wifi-{kind}")
    assert run["status"] == "succeeded", run
    assert run["requests"] == 3 and run["rows_inserted"] == 2345
    assert [p.rsplit("/", 2)[-2:] for p in behaviour.requests] == [["1", "1000"], ["1001", "2000"], ["2001", "3000"]]
    assert len(sqlite_collect.rows(src)) == 2345


def test_citydata_nested_records_by_path(sqlite_collect, seoul) -> None:
    server, behaviour = seoul
    fields = [{"name": "area", "path": "AREA_NM"},
              {"name": "congestion", "path": "LIVE_PPLTN_STTS.0.AREA_CONGEST_LVL"},
              {"name": "people_min", "path": "LIVE_PPLTN_STTS.0.AREA_PPLTN_MIN", "type": "integer"},
              {"name": "road_speed", "path": "ROAD_TRAFFIC_STTS.AVG_ROAD_DATA.ROAD_TRAFFIC_SPD", "type": "number"},
              {"name": "observed", "path": "LIVE_PPLTN_STTS.0.PPLTN_TIME", "type": "datetime"}]
    cfg = _cfg(server, "citydata", areas=["광화문·덕수궁", "강남역"], record_key="CITYDATA", page_size=5)
    src = sqlite_collect.source("citydata", "seoul", cfg, fields, ["area", "observed"])
    run = sqlite_collect.run("citydata")
    assert run["status"] == "succeeded", run
    rows = sqlite_collect.rows(src)
    assert [r["area"] for r in rows] == ["광화문·덕수궁", "강남역"]
    assert rows[0]["people_min"] == 32000 and rows[0]["road_speed"] == 18.0 and rows[0]["congestion"] == "보통"


def test_renamed_fields_fail_loudly_and_keep_last_good_rows(sqlite_collect, seoul) -> None:
    server, behaviour = seoul
    fields = [{"name": "day", "path": "MSRDATE", "type": "date"}, {"name": "station", "path": "MSRSTENAME"},
              {"name": "pm10", "path": "PM10", "type": "number"}, {"name": "grade", "path": "GRADE"}]
    src = sqlite_collect.source("district-air", "seoul", _cfg(server, "ListAirQualityByDistrictService"), fields,
                                ["station", "day"])
    assert sqlite_collect.run("district-air")["status"] == "succeeded"
    good = sqlite_collect.rows(src)
    behaviour.new_layout = True
    run = sqlite_collect.run("district-air")
    assert run["status"] == "failed"
    assert "missing fields day (path MSRDATE), station (path MSRSTENAME), pm10 (path PM10), grade (path GRADE)" \
        in run["error"]
    assert "MSRMT_YMD" in run["error"]  # says what came instead
    assert run["rows_inserted"] == 0 and sqlite_collect.rows(src) == good


def test_codes_invalid_key_and_server_error_retry(sqlite_collect, seoul) -> None:
    server, behaviour = seoul
    sqlite_collect.source("bad-key", "seoul", {**_cfg(server, "RealtimeCityAir"), "api_key": "nope"}, AIR)
    run = sqlite_collect.run("bad-key")
    assert run["status"] == "failed" and run["error"].startswith("Seoul INFO-100: invalid Seoul API key")
    assert run["upstream_message"] == "인증키가 유효하지 않습니다."
    behaviour.server_error_times = 2
    sqlite_collect.source("retry", "seoul", _cfg(server, "RealtimeCityAir"), AIR, ["station", "measured"])
    run = sqlite_collect.run("retry")
    assert run["status"] == "succeeded" and run["requests"] == 3
    behaviour.error_code = "ERROR-337"
    run = sqlite_collect.run("retry")
    assert run["status"] == "failed" and "daily call limit" in run["error"] and run["requests"] == 1
