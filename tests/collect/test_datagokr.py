"""data.go.kr connector against the fake AirKorea: XML and JSON, item shapes, keys, gateway errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.datagokr import DECODED_KEY, ENCODED_KEY, PATH, DataGoKrBehaviour, make_app
from tests.fakes.server import FakeServer

FIELDS = [{"name": "station", "path": "stationName"}, {"name": "measured", "path": "dataTime", "type": "datetime"},
          {"name": "pm10", "path": "pm10Value", "type": "integer"},
          {"name": "pm25", "path": "pm25Value", "type": "integer"},
          {"name": "khai_grade", "path": "khaiGrade", "type": "integer"}, {"name": "pm10_flag", "path": "pm10Flag"}]
KEY = ["station", "measured"]


@pytest.fixture
def airkorea() -> Iterator[tuple[FakeServer, DataGoKrBehaviour]]:
    behaviour = DataGoKrBehaviour()
    with FakeServer(make_app(behaviour)) as server:
        yield server, behaviour


def _cfg(server, key: str = DECODED_KEY, **extra) -> dict:  # noqa: ANN001
    return {"url": server.url + PATH, "service_key": key, "params": {"sidoName": "부산", "ver": "1.0"},
            "num_of_rows": 10, **extra}


@pytest.mark.parametrize("return_type,shape,key", [("xml", "list", DECODED_KEY), ("json", "list", ENCODED_KEY),
                                                   ("json", "item", DECODED_KEY)])
def test_envelopes_shapes_and_both_key_forms(sqlite_collect, airkorea, return_type, shape, key) -> None:
    server, behaviour = airkorea
    behaviour.items_shape = shape
    src = sqlite_collect.source("airkorea", "datagokr", _cfg(server, key, return_type=return_type), FIELDS, KEY)
    run = sqlite_collect.run("airkorea")
    assert run["status"] == "succeeded", run
    assert run["requests"] == 3 and run["rows_inserted"] == 23  # pages of 10, 10 and 3 by totalCount
    rows = sqlite_collect.rows(src)
    assert str(rows[0]["measured"]).replace("T", " ").startswith("2025-05-10 00:00")  # hour 24 (ISO as stored)
    assert rows[2]["pm10"] is None and rows[2]["pm10_flag"] == "점검및교정" and rows[0]["pm10_flag"] in (None, "")
    assert ("returnType" in behaviour.requests[0]) == (return_type == "json")


def test_single_row_object_and_empty_items(sqlite_collect, airkorea) -> None:
    server, behaviour = airkorea
    behaviour.items_shape, behaviour.stations = "item", 1
    src = sqlite_collect.source("one", "datagokr", _cfg(server), FIELDS, KEY)
    assert sqlite_collect.run("one")["rows_inserted"] == 1
    behaviour.result_code = "03"
    run = sqlite_collect.run("one")
    assert run["status"] == "succeeded" and run["rows_received"] == 0 and len(sqlite_collect.rows(src)) == 1


def test_double_encoded_key_is_a_clear_gateway_error(sqlite_collect, airkorea) -> None:
    server, behaviour = airkorea
    sqlite_collect.source("wrong-key", "datagokr", _cfg(server, "not-registered"), FIELDS, KEY)
    run = sqlite_collect.run("wrong-key")
    assert run["status"] == "failed"
    assert "gateway error 30: service key is not registered (SERVICE_KEY_IS_NOT_REGISTERED_ERROR)" in run["error"]


def test_gateway_request_limit_is_retried(sqlite_collect, airkorea) -> None:
    server, behaviour = airkorea
    behaviour.gateway_limit_times = 1
    sqlite_collect.source("limited", "datagokr", _cfg(server), FIELDS, KEY)
    run = sqlite_collect.run("limited")
    assert run["status"] == "succeeded" and run["requests"] == 4


def test_result_error_code_fails_with_message(sqlite_collect, airkorea) -> None:
    server, behaviour = airkorea
    behaviour.result_code = "30"
    sqlite_collect.source("res-err", "datagokr", _cfg(server, return_type="json"), FIELDS, KEY)
    run = sqlite_collect.run("res-err")
    assert run["status"] == "failed" and run["error"].startswith("data.go.kr result 30")
