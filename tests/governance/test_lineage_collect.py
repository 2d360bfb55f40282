"""Lineage from collection: source → run → raw payloads (sha256) and run → the version it produced;
a changed file makes a new version whose diff counts the changed row; citizens see no sources or runs."""

from __future__ import annotations


def test_collection_lineage_and_versions(client, people, tmp_path) -> None:  # noqa: ANN001
    people.org("env", "환경정책과")
    steward = people.user("c@city.test", role="steward", org="env", capacity="editor")
    citizen = people.user("citizen@city.test")
    assert client.post("/api/v1/datasets", json={"name": "stops", "title": "정류소", "owner_org": "env"},
                       headers=steward.headers).status_code == 201
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "a.csv").write_text("정류소,승차\n서면,120\n남포,80\n", encoding="utf-8")
    body = {"name": "stops-drop", "title": "정류소 파일", "connector": "file", "dataset": "stops",
            "config": {"path": str(folder), "pattern": "*.csv"},
            "fields": [{"name": "stop", "path": "정류소"}, {"name": "boardings", "path": "승차", "type": "integer"}],
            "key": ["stop"]}
    r = client.post("/api/v1/sources", json=body, headers=steward.headers)
    assert r.status_code == 201, r.text
    run = client.post("/api/v1/sources/stops-drop/runs", headers=steward.headers).json()
    assert run["status"] == "succeeded", run
    (folder / "a.csv").write_text("정류소,승차\n서면,125\n남포,80\n", encoding="utf-8")
    run2 = client.post("/api/v1/sources/stops-drop/runs", headers=steward.headers).json()
    assert run2["rows_updated"] == 1, run2

    items = client.get("/api/v1/governance/datasets/stops/versions").json()["items"]
    assert items[0]["trigger"] == "rows" and items[0]["diff"]["rows_changed"] == 1, items[0]
    assert items[0]["diff"]["rows_added"] == 0 and items[0]["diff"]["rows_removed"] == 0

    graph = client.get("/api/v1/governance/datasets/stops/lineage", headers=steward.headers).json()
    kinds = {n["kind"] for n in graph["nodes"]}
    assert {"source", "run", "raw", "version", "dataset"} <= kinds, kinds
    rel = {(e["source"].split(":")[0], e["relation"], e["target"].split(":")[0]) for e in graph["edges"]}
    assert {("source", "ran", "run"), ("raw", "read by", "run"), ("run", "produced", "version"),
            ("version", "version of", "dataset")} <= rel, rel
    raw = next(n for n in graph["nodes"] if n["kind"] == "raw")
    assert len(raw["detail"]["sha256"]) == 64

    public = client.get("/api/v1/governance/datasets/stops/lineage", headers=citizen.headers).json()
    assert not {"source", "run", "raw"} & {n["kind"] for n in public["nodes"]}
