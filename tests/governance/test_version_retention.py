"""Retention of versions' big-table copies: a per-dataset rule (or the city default) keeps the last N
copies and any younger than D days; older versions stay listed with their diffs but answer 410 when
restored; unused and stray copies are dropped. Applied by the scheduler's job and by the CLI."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

V1 = "id,name,value\n1,a,10\n2,b,20\n3,c,30\n"


def _tables(client) -> set[str]:  # noqa: ANN001
    from cityhub.governance.versions import COPY_PREFIX

    with client.app.state.session_factory() as db:
        return {t for t in sa.inspect(db.connection()).get_table_names() if t.startswith(COPY_PREFIX)}


def _copies(client, name: str, number: int) -> set[str]:  # noqa: ANN001
    shown = client.get(f"/api/v1/governance/datasets/{name}/versions/{number}").json()
    return {r["table_copy"] for r in shown["resources"] if r.get("table_copy")}


def _pointer(client, name: str, number: int) -> dict:  # noqa: ANN001
    shown = client.get(f"/api/v1/governance/datasets/{name}/versions/{number}").json()
    return shown["resources"][0]["table_delta"]


def _big_dataset_with_versions(client, people, monkeypatch, name: str):  # noqa: ANN001, ANN202
    """An upload and three appends of a table kept as copies (cap lowered): five versions, four copies."""
    from cityhub.governance import versions

    monkeypatch.setattr(versions, "SNAPSHOT_ROW_CAP", 2)
    people.org("env", "환경정책과")
    steward = people.user(f"{name}@city.test", role="steward", org="env")
    assert client.post("/api/v1/datasets", json={"name": name, "title": name, "owner_org": "env"},
                       headers=steward.headers).status_code == 201
    rid = client.post(f"/api/v1/datasets/{name}/resources", headers=steward.headers,
                      files={"upload": ("a.csv", io.BytesIO(V1.encode()), "text/csv")}).json()["id"]
    for i in range(3):
        r = client.post(f"/api/v1/governance/resources/{rid}/rows", headers=steward.headers,
                        json={"rows": [{"id": 10 + i, "name": "n", "value": i}]})
        assert r.status_code in (200, 201), r.text
    items = client.get(f"/api/v1/governance/datasets/{name}/versions").json()["items"]
    assert [v["trigger"] for v in items] == ["rows"] * 4 + ["created"]
    return steward, rid, items


def test_retention_rule_prunes_old_copies_but_keeps_versions_listed(client, people, monkeypatch) -> None:  # noqa: ANN001
    from cityhub.governance.api_versions import run_retention

    steward, rid, items = _big_dataset_with_versions(client, people, monkeypatch, "keep")
    outsider = people.user("keep-o@city.test")
    url = "/api/v1/governance/datasets/keep/version-retention"
    default = client.get(url, headers=steward.headers).json()
    assert default["city_default"] is True and (default["keep_copies"], default["keep_days"]) == (5, 30)
    assert client.put(url, json={"keep_copies": 2, "keep_days": 0}, headers=outsider.headers).status_code == 403
    bad = client.put(url, json={"keep_copies": 0, "keep_days": 0}, headers=steward.headers)
    assert bad.status_code == 422 and "keep_copies" in bad.text
    assert client.put(url, json={"keep_copies": 2, "keep_days": 0}, headers=steward.headers).json()["city_default"] \
        is False
    # an upload is its own table (no copy); appends keep a marker each: four pointers, no copy tables
    pointers = [_pointer(client, "keep", v["number"]) for v in items[:4]]
    assert [p["change"] for p in pointers] == [3, 2, 1, 0] and not _tables(client)

    done = run_retention(client.app)  # the scheduler's job
    assert done["versions_pruned"] == 2 and done["copies_dropped"] == 0
    listed = client.get("/api/v1/governance/datasets/keep/versions").json()
    assert listed["total"] == 5  # pruned versions stay listed, with their diff summaries
    flags = [(v["restorable"], v["pruned_at"] is not None) for v in listed["items"]]
    assert flags == [(True, False), (True, False), (False, True), (False, True), (True, False)]
    assert listed["items"][3]["diff"]["rows_added"] == 3

    page = client.get("/governance/dataset/keep/lineage", headers={**steward.headers, "Accept-Language": "en"}).text
    assert page.count("no longer restorable") == 2 and page.count("Roll back to this version") == 3
    page = client.get("/governance/dataset/keep/lineage", headers={**steward.headers, "Accept-Language": "ko"}).text
    assert page.count("되돌릴 수 없음") == 2
    gone = client.post(f"/api/v1/governance/datasets/keep/versions/{items[3]['number']}/rollback",
                       headers=steward.headers)
    assert gone.status_code == 410 and "retention" in gone.json()["detail"]
    kept = client.post(f"/api/v1/governance/datasets/keep/versions/{items[1]['number']}/rollback",
                       headers=steward.headers)
    assert kept.status_code == 200, kept.text
    assert client.get(f"/api/v1/datastore/{rid}", headers=steward.headers).json()["total"] == 5
    assert run_retention(client.app)["copies_dropped"] == 0  # idempotent; the roll-back reuses a kept copy


def test_young_versions_keep_their_copies_and_strays_are_dropped(sqlite_client, sqlite_people, monkeypatch) -> None:  # noqa: ANN001
    """Under the city default (last 5 or younger than 30 days) fresh copies all stay; a copy no version
    or pending change refers to is dropped by the CLI command, which reports what it did."""
    client = sqlite_client
    steward, _, items = _big_dataset_with_versions(client, sqlite_people, monkeypatch, "young")
    url = "/api/v1/governance/datasets/young/version-retention"
    assert client.put(url, json={"keep_copies": 1, "keep_days": 30}, headers=steward.headers).status_code == 200
    before = _tables(client)
    with client.app.state.session_factory() as db:
        db.connection().exec_driver_sql('CREATE TABLE "_gov_version_stray0000" (x INTEGER)')
        db.commit()
    settings = client.app.state.settings
    env = {**os.environ, "CITYHUB_DATA_DIR": str(settings.data_dir), "CITYHUB_DATABASE_URL": settings.database_url}
    cli = Path(sys.executable).parent / "cityhub"
    out = subprocess.run([str(cli), "governance", "prune-versions"], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "versions pruned: 0" in out.stdout and "copies dropped: 1" in out.stdout
    assert _tables(client) == before
    assert all(v["restorable"] for v in client.get("/api/v1/governance/datasets/young/versions").json()["items"])
    assert client.delete(url, headers=steward.headers).json()["city_default"] is True
