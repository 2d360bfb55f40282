"""KOSIS connector against the fake KOSIS: ranges, "-" cells, the 40,000-cell split, every error path."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.kosis import VALID_KEY, KosisBehaviour, make_app
from tests.fakes.server import FakeServer

FIELDS = [{"name": "district_code", "path": "C1"}, {"name": "district", "path": "C1_NM"},
          {"name": "item", "path": "ITM_ID"}, {"name": "period", "path": "PRD_DE"},
          {"name": "value", "path": "DT", "type": "integer"}]
KEY = ["district_code", "item", "period"]


@pytest.fixture
def kosis() -> Iterator[tuple[FakeServer, KosisBehaviour]]:
    behaviour = KosisBehaviour()
    with FakeServer(make_app(behaviour)) as server:
        yield server, behaviour


def _config(server, **extra) -> dict:  # noqa: ANN001
    return {"api_key": VALID_KEY, "base_url": f"{server.url}/openapi/Param/statisticsParameterData.do",
            "org_id": "101", "tbl_id": "DT_1B040A3", "itm_id": "T20+T21+T22+", "obj_l1": "ALL", "prd_se": "M",
            "start_prd_de": "202501", "end_prd_de": "202606", **extra}


def test_period_range_with_suppressed_cells(sqlite_collect, kosis) -> None:
    server, behaviour = kosis
    src = sqlite_collect.source("pop", "kosis", _config(server), FIELDS, KEY)
    run = sqlite_collect.run("pop")
    assert run["status"] == "succeeded", run
    assert run["rows_received"] == 18 * 17 * 3 and run["rows_quarantined"] == 0
    rows = sqlite_collect.rows(src)
    assert len(rows) == 918
    suppressed = [r for r in rows if r["item"] == "T22" and r["district_code"] in ("14", "15")]
    assert suppressed and all(r["value"] is None for r in suppressed)  # "-" and "x" are no value, not errors
    sent = behaviour.requests[0]
    assert sent["method"] == "getList" and sent["objL2"] == "" and sent["jsonVD"] == "Y"
    raw = sqlite_collect.client.get(f"/api/v1/runs/{run['id']}/raw", headers=sqlite_collect.headers).json()
    assert VALID_KEY not in raw[0]["request"]["url"] and "apiKey=%2A%2A%2A" in raw[0]["request"]["url"]
    source = sqlite_collect.client.get("/api/v1/sources/pop", headers=sqlite_collect.headers).json()
    assert source["state"]["last_period"] == "202606" and source["config"]["api_key"] == "***"


def test_over_40000_cells_is_split_into_several_requests(sqlite_collect, kosis) -> None:
    server, behaviour = kosis
    behaviour.districts = 800  # 18 months x 800 x 3 = 43,200 cells > 40,000
    src = sqlite_collect.source("pop-big", "kosis", _config(server), FIELDS, KEY)
    run = sqlite_collect.run("pop-big")
    assert run["status"] == "succeeded", run
    assert run["requests"] == 3  # refused once (err 31), then two halves
    assert [(r["startPrdDe"], r["endPrdDe"]) for r in behaviour.requests] == [
        ("202501", "202606"), ("202501", "202509"), ("202510", "202606")]
    assert len(sqlite_collect.rows(src)) == 43_200


def test_expired_key_fails_the_run_with_the_reason_and_keeps_previous_rows(sqlite_collect, kosis) -> None:
    server, behaviour = kosis
    src = sqlite_collect.source("pop-key", "kosis", _config(server), FIELDS, KEY)
    assert sqlite_collect.run("pop-key")["status"] == "succeeded"
    before = sqlite_collect.rows(src)
    behaviour.fail_with = "11"
    run = sqlite_collect.run("pop-key")
    assert run["status"] == "failed"
    assert run["error"].startswith("KOSIS err 11: KOSIS API key is expired or invalid")
    assert run["upstream_message"] == "인증KEY의 기간이 만료되었습니다."
    assert sqlite_collect.rows(src) == before
    health = sqlite_collect.client.get("/api/v1/sources/pop-key", headers=sqlite_collect.headers).json()["health"]
    assert health["status"] == "failing" and health["failure_streak"] == 1
    behaviour.fail_with = None
    assert sqlite_collect.run("pop-key")["status"] == "succeeded"  # the next run retries from scratch
    health = sqlite_collect.client.get("/api/v1/sources/pop-key", headers=sqlite_collect.headers).json()["health"]
    assert health["failure_streak"] == 0


@pytest.mark.parametrize("code,words", [("10", "API key is missing"), ("20", "required parameter is missing"),
                                        ("21", "parameter is invalid"), ("41", "row limit"),
                                        ("42", "restricts this user")])
def test_every_error_code_reads_plainly(sqlite_collect, kosis, code, words) -> None:
    server, behaviour = kosis
    behaviour.fail_with = code
    sqlite_collect.source(f"pop-e{code}", "kosis", _config(server), FIELDS, KEY)
    run = sqlite_collect.run(f"pop-e{code}")
    assert run["status"] == "failed" and f"KOSIS err {code}" in run["error"] and words in run["error"]


def test_call_limit_is_retried_and_no_data_is_not_a_failure(sqlite_collect, kosis) -> None:
    server, behaviour = kosis
    behaviour.call_limit = 2
    src = sqlite_collect.source("pop-limit", "kosis", _config(server), FIELDS, KEY)
    run = sqlite_collect.run("pop-limit")
    assert run["status"] == "succeeded" and run["requests"] == 3 and len(sqlite_collect.rows(src)) == 918
    behaviour.fail_with = "30"
    run = sqlite_collect.run("pop-limit")
    assert run["status"] == "succeeded" and run["rows_received"] == 0


def test_unquoted_keys_without_jsonvd_are_tolerated(sqlite_collect, kosis) -> None:
    server, behaviour = kosis
    src = sqlite_collect.source("pop-vd", "kosis", _config(server, json_vd=False), FIELDS, KEY)
    run = sqlite_collect.run("pop-vd")
    assert run["status"] == "succeeded", run
    assert "jsonVD" not in behaviour.requests[0] and len(sqlite_collect.rows(src)) == 918
