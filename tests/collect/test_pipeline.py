"""The pipeline end to end over SQLite and PostgreSQL: land, map, upsert by key, idempotence, events."""

from __future__ import annotations

import gzip
import hashlib

from tests.collect.conftest import READING_FIELDS


def _paged(server) -> dict:  # noqa: ANN001
    return {"url": f"{server.url}/items", "record_path": "data.items", "paging": "page", "page_size": 10,
            "total_path": "data.total"}


def test_paged_harvest_lands_raw_maps_and_upserts(collect, rest) -> None:
    server, behaviour = rest
    events = []
    collect.app.state.bus.subscribe("dataset.updated", lambda t, p: events.append(p))
    src = collect.source("air", "http", _paged(server), READING_FIELDS, key=["id"])
    run = collect.run("air")
    assert run["status"] == "succeeded", run
    assert run["requests"] == 10 and run["rows_received"] == 95 and run["rows_inserted"] == 95
    rows = collect.rows(src)
    assert len(rows) == 95 and rows[0]["value"] == 1.5 and rows[0]["station"] == "st-1"
    assert str(rows[22]["measured"]).replace("T", " ").startswith("2025-05-10 00:00")  # hour 24: next day's midnight
    assert events and events[-1]["id"] == src["dataset_id"]

    raw = collect.client.get(f"/api/v1/runs/{run['id']}/raw", headers=collect.headers).json()
    assert len(raw) == 10 and all(p["outcome"] == "ok" for p in raw)
    assert "size=10" in raw[0]["request"]["url"]
    settings = collect.app.state.settings
    first = raw[0]["sha256"]
    body = gzip.decompress((settings.raw_dir / first[:2] / first[2:4] / f"{first}.gz").read_bytes())
    assert hashlib.sha256(body).hexdigest() == first and b'"items"' in body

    ds = collect.client.get("/api/v1/sources/air", headers=collect.headers).json()
    assert ds["health"]["status"] == "ok" and ds["health"]["failure_streak"] == 0


def test_same_payload_twice_changes_nothing_and_changes_are_counted(collect, rest) -> None:
    server, behaviour = rest
    src = collect.source("air2", "http", _paged(server), READING_FIELDS, key=["id"])
    assert collect.run("air2")["rows_inserted"] == 95
    again = collect.run("air2")
    assert (again["rows_inserted"], again["rows_updated"], again["rows_unchanged"]) == (0, 0, 95)
    before = collect.rows(src)
    behaviour.value_offset = 1
    behaviour.total = 100
    changed = collect.run("air2")
    assert (changed["rows_inserted"], changed["rows_updated"], changed["rows_unchanged"]) == (5, 95, 0)
    after = collect.rows(src)
    assert len(after) == 100 and [r["_id"] for r in after[:95]] == [r["_id"] for r in before]


def test_bad_values_go_to_quarantine_with_reason(collect, rest) -> None:
    server, behaviour = rest
    behaviour.bad_value_ids = {3, 50}
    src = collect.source("air3", "http", _paged(server), READING_FIELDS, key=["id"])
    run = collect.run("air3")
    assert run["status"] == "succeeded" and run["rows_quarantined"] == 2 and run["rows_inserted"] == 93
    q = collect.client.get(f"/api/v1/runs/{run['id']}/quarantine", headers=collect.headers).json()
    assert q["total"] == 2
    assert q["items"][0]["field"] == "value" and "'not-a-number' is not a valid number" in q["items"][0]["reason"]
    assert q["items"][0]["record"]["id"] == 3
    assert len(collect.rows(src)) == 93


def test_quality_rescored_at_most_every_few_seconds_and_settled_at_the_end(sqlite_collect, rest) -> None:
    """Ten pages commit within a second or two: governance rescores the dataset's quality at the first
    page and then at most every few seconds, and the run's end settles the score on all 95 rows."""
    server, _behaviour = rest
    config = {"url": f"{server.url}/items", "record_path": "data.items", "paging": "page", "page_size": 10,
              "total_path": "data.total"}
    src = sqlite_collect.source("scored", "http", config, READING_FIELDS, ["id"])
    run = sqlite_collect.run("scored")
    assert run["status"] == "succeeded" and run["rows_inserted"] == 95
    dataset = src["dataset_id"]
    score = sqlite_collect.client.get(f"/api/v1/governance/datasets/{dataset}/quality",
                                      headers=sqlite_collect.headers).json()
    assert score["dimensions"]["rows"] == 95, score
    history = sqlite_collect.client.get(f"/api/v1/governance/datasets/{dataset}/quality/history",
                                        headers=sqlite_collect.headers).json()
    collected = [h for h in history if h["trigger"] == "collect"]
    assert 1 <= len(collected) < 10, history
