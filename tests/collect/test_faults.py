"""Faults: upstream down, slow, HTML, truncated, error on page 7 of 10, duplicates; and replay from raw."""

from __future__ import annotations

from tests.collect.conftest import READING_FIELDS


def _paged(server, **extra) -> dict:  # noqa: ANN001
    return {"url": f"{server.url}/items", "record_path": "data.items", "paging": "page", "page_size": 10,
            "total_path": "data.total", **extra}


def test_upstream_down_fails_after_retries_and_recovers(sqlite_collect, rest) -> None:
    server, behaviour = rest
    sqlite_collect.source("down", "http", _paged(server), READING_FIELDS, ["id"], max_retries=2)
    behaviour.down = True
    run = sqlite_collect.run("down")
    assert run["status"] == "failed" and "HTTP 503" in run["error"] and run["requests"] == 3
    assert run["upstream_message"] == "service unavailable"
    behaviour.down, behaviour.fail_first = False, 2  # two 502s, then fine: retried inside the run
    run = sqlite_collect.run("down")
    assert run["status"] == "succeeded" and run["rows_inserted"] == 95 and run["requests"] == 12


def test_unreachable_upstream(sqlite_collect) -> None:
    sqlite_collect.source("nowhere", "http", {"url": "http://127.0.0.1:9/x"}, READING_FIELDS, ["id"], max_retries=0)
    run = sqlite_collect.run("nowhere")
    assert run["status"] == "failed" and "upstream unreachable" in run["error"]


def test_slow_upstream_times_out(sqlite_collect, rest) -> None:
    server, behaviour = rest
    behaviour.slow = 1.0
    sqlite_collect.source("slow", "http", _paged(server), READING_FIELDS, ["id"], timeout_seconds=0.2, max_retries=1)
    run = sqlite_collect.run("slow")
    assert run["status"] == "failed" and "timed out after 0.2s" in run["error"] and run["requests"] == 2


def test_run_time_limit_ends_the_run_and_keeps_committed_pages(sqlite_collect, rest) -> None:
    """Each page answers slowly (0.4 s) and the source allows a whole run 1 s: the run ends failed,
    naming the limit, long before its 10 pages; the pages committed before the limit stay."""
    server, behaviour = rest
    behaviour.slow = 0.4
    src = sqlite_collect.source("limited", "http", _paged(server), READING_FIELDS, ["id"], run_timeout_seconds=1.0,
                                max_retries=0)
    assert src["run_timeout_seconds"] == 1.0
    run = sqlite_collect.run("limited")
    assert run["status"] == "failed" and "run time limit of 1 s reached" in run["error"], run
    assert run["error_code"] == "run_timeout" and run["requests"] < 10
    stored = sqlite_collect.rows(src)
    assert len(stored) == run["rows_inserted"] < 95
    assert [r["id"] for r in stored] == list(range(1, len(stored) + 1))  # whole pages, from the start
    pages_done = len(stored) // 10
    assert run["cursor"] == {"position": pages_done + 1}
    behaviour.slow = 0
    r = sqlite_collect.client.patch("/api/v1/sources/limited", json={"run_timeout_seconds": 3600},
                                    headers=sqlite_collect.headers)
    assert r.status_code == 200 and r.json()["run_timeout_seconds"] == 3600, r.text
    # The next run continues at the first page not committed, not at page 1.
    again = sqlite_collect.run("limited")
    assert again["status"] == "succeeded" and again["resumed_from"] == run["id"], again
    assert again["requests"] == 10 - pages_done and again["rows_inserted"] == 95 - len(stored)
    assert again["rows_unchanged"] == 0
    urls = [p["request"]["url"] for p in sqlite_collect.client.get(
        f"/api/v1/runs/{again['id']}/raw", headers=sqlite_collect.headers).json()]
    assert f"page={pages_done + 1}" in urls[0], urls
    assert [r["id"] for r in sqlite_collect.rows(src)] == list(range(1, 96))
    # A run that completed leaves nothing to resume: the one after starts at the beginning.
    third = sqlite_collect.run("limited")
    assert third["resumed_from"] is None and third["requests"] == 10 and third["rows_unchanged"] == 95


def test_html_instead_of_json(sqlite_collect, rest) -> None:
    server, behaviour = rest
    behaviour.html = True
    sqlite_collect.source("html", "http", _paged(server), READING_FIELDS, ["id"])
    run = sqlite_collect.run("html")
    assert run["status"] == "failed"
    assert run["error"] == "upstream returned an HTML page instead of JSON, XML or CSV: Maintenance 점검중"


def test_truncated_body_fails_and_keeps_earlier_pages(sqlite_collect, rest) -> None:
    server, behaviour = rest
    behaviour.truncated_on_page = 4
    src = sqlite_collect.source("trunc", "http", _paged(server), READING_FIELDS, ["id"])
    run = sqlite_collect.run("trunc")
    assert run["status"] == "failed" and "not valid JSON (truncated or corrupt" in run["error"]
    assert run["rows_inserted"] == 30 and len(sqlite_collect.rows(src)) == 30
    assert run["cursor"] == {"position": 4}  # the next run may resume at the failing page


def test_error_envelope_on_page_7_of_10(collect, rest) -> None:
    """Both backends: previous data intact, the run failed with the upstream's message."""
    server, behaviour = rest
    behaviour.total = 100
    src = collect.source("p7", "http", _paged(server), READING_FIELDS, ["id"], max_retries=1)
    assert collect.run("p7")["rows_inserted"] == 100
    before = collect.rows(src)
    behaviour.error_on_page = 7
    behaviour.value_offset = 0  # same data: nothing may change
    run = collect.run("p7")
    assert run["status"] == "failed" and run["requests"] == 8  # pages 1-6, then page 7 tried twice
    assert "HTTP 500" in run["error"] and "backend exploded on page 7" in run["upstream_message"]
    assert (run["rows_inserted"], run["rows_updated"], run["rows_unchanged"]) == (0, 0, 60)
    assert collect.rows(src) == before
    runs = collect.client.get("/api/v1/sources/p7/runs", headers=collect.headers).json()
    assert [r["status"] for r in runs["items"]] == ["failed", "succeeded"]


def test_duplicate_deliveries_do_not_duplicate_rows(sqlite_collect, tmp_path) -> None:
    folder = tmp_path / "dup"
    folder.mkdir()
    (folder / "a.csv").write_text("id,v\n1,a\n2,b\n2,b\n3,c\n", encoding="utf-8")
    (folder / "b.csv").write_text("id,v\n1,a\n3,c\n", encoding="utf-8")  # the same rows delivered again
    src = sqlite_collect.source("dup", "file", {"path": str(folder)}, [{"name": "id", "type": "integer"},
                                                                      {"name": "v"}], ["id"])
    run = sqlite_collect.run("dup")
    assert (run["rows_received"], run["rows_inserted"], run["rows_unchanged"]) == (6, 3, 3)
    assert [r["id"] for r in sqlite_collect.rows(src)] == [1, 2, 3]


def test_replay_from_raw_gives_the_same_rows(collect, rest) -> None:
    server, behaviour = rest
    src = collect.source("replay", "http", _paged(server), READING_FIELDS, ["id"])
    collect.run("replay")
    behaviour.value_offset, behaviour.total = 2, 105
    collect.run("replay")
    expected = collect.rows(src)
    from sqlalchemy import text

    with collect.app.state.engine.begin() as conn:  # lose the table: the raw zone must rebuild it
        conn.execute(text(f'DELETE FROM "{src["resource_id"]}"'))
    behaviour.down = True  # and the upstream is gone
    r = collect.client.post("/api/v1/sources/replay/replay", headers=collect.headers)
    assert r.status_code == 201 and r.json()["status"] == "succeeded", r.text
    assert r.json()["trigger"] == "replay" and r.json()["requests"] == 0
    got = collect.rows(src)
    assert [{k: v for k, v in row.items() if k != "_id"} for row in got] == \
        [{k: v for k, v in row.items() if k != "_id"} for row in expected]
