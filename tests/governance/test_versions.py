"""Dataset versions: metadata and row changes make versions with diff summaries; any version can be
viewed and its rows downloaded; a steward rolls back (metadata and rows), itself a new version."""

from __future__ import annotations

import io
import json

V1 = "id,name,value\n1,a,10\n2,b,20\n3,c,30\n"
V2 = "id,name,value\n1,a,10\n2,b,25\n4,d,40\n5,e,50\n"


def test_versions_diff_download_and_rollback(client, people) -> None:  # noqa: ANN001
    people.org("env", "환경정책과")
    steward = people.user("v@city.test", role="steward", org="env")
    outsider = people.user("o@city.test")
    body = {"name": "air", "title": "대기", "owner_org": "env", "access_level": "public"}
    versions = "/api/v1/governance/datasets/air/versions"
    assert client.post("/api/v1/datasets", json=body, headers=steward.headers).status_code == 201
    client.get(versions)  # versions are recorded in the background; a reader settles what is pending
    r = client.post("/api/v1/datasets/air/resources", headers=steward.headers,
                    files={"upload": ("a.csv", io.BytesIO(V1.encode()), "text/csv")})
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    client.get(versions)
    assert client.patch("/api/v1/datasets/air", json={"title": "대기질"}, headers=steward.headers).status_code == 200

    items = client.get(versions).json()["items"]
    assert [v["trigger"] for v in items] == ["metadata", "rows", "created"]
    assert items[0]["diff"]["metadata_changed"] == ["title"]
    assert items[1]["diff"]["rows_added"] == 3 and items[1]["diff"]["resources_added"] == [rid]
    rows_version = items[1]["number"]

    # edited rows count as changed when a key (schema primaryKey, else a unique first column) pairs them
    from cityhub.governance import versions

    assert versions.diff_rows((["id", "v"], [("1", "a"), ("2", "b"), ("3", "c")]),
                              (["id", "v"], [("1", "a"), ("2", "x"), ("4", "d"), ("5", "e")]), []) == \
        {"rows_added": 2, "rows_changed": 1, "rows_removed": 1}

    shown = client.get(f"/api/v1/governance/datasets/air/versions/{rows_version}").json()
    assert shown["meta"]["title"] == "대기" and shown["resources"][0]["row_count"] == 3
    csv_v = client.get(f"/api/v1/governance/datasets/air/versions/{rows_version}/resources/{rid}.csv")
    text = csv_v.text.replace("\r\n", "\n").lstrip("\ufeff")
    assert csv_v.status_code == 200 and text.startswith("id,name,value\n1,a,10")

    # only the publisher's stewards roll back
    assert client.post(f"/api/v1/governance/datasets/air/versions/{rows_version}/rollback",
                       headers=outsider.headers).status_code == 403
    r = client.post(f"/api/v1/governance/datasets/air/versions/{rows_version}/rollback", headers=steward.headers)
    assert r.status_code == 200, r.text
    assert r.json()["trigger"] == "rollback" and r.json()["diff"]["metadata_changed"] == ["title"]
    assert client.get("/api/v1/datasets/air").json()["title"] == "대기"
    after = client.get("/api/v1/governance/datasets/air/versions").json()
    assert after["items"][0]["trigger"] == "rollback" and after["total"] == 4  # no extra version after commit
    assert client.get("/api/v1/governance/datasets/air/versions/99").status_code == 404


def test_rollback_restores_rows(client, people) -> None:  # noqa: ANN001
    people.org("env", "환경정책과")
    steward = people.user("r@city.test", role="steward", org="env")
    body = {"name": "rows", "title": "rows", "owner_org": "env"}
    assert client.post("/api/v1/datasets", json=body, headers=steward.headers).status_code == 201
    rid = client.post("/api/v1/datasets/rows/resources", headers=steward.headers,
                      files={"upload": ("a.csv", io.BytesIO(V1.encode()), "text/csv")}).json()["id"]
    first = client.get("/api/v1/governance/datasets/rows/versions").json()["items"][0]["number"]
    # rows change through the governance rows API (appends)
    r = client.post(f"/api/v1/governance/resources/{rid}/rows", headers=steward.headers,
                    json={"rows": [{"id": 9, "name": "z", "value": 90}]})
    assert r.status_code in (200, 201), r.text
    latest = client.get("/api/v1/governance/datasets/rows/versions").json()["items"][0]
    assert latest["trigger"] == "rows" and latest["diff"]["rows_added"] == 1, latest
    r = client.post(f"/api/v1/governance/datasets/rows/versions/{first}/rollback", headers=steward.headers)
    assert r.status_code == 200, r.text
    assert r.json()["diff"]["rows_removed"] == 1
    found = client.get(f"/api/v1/datastore/{rid}", headers=steward.headers)
    assert found.status_code == 200
    assert client.get("/api/v1/governance/datasets/restricted-nothing/versions").status_code == 404


def test_metadata_edit_reuses_the_row_snapshot(sqlite_client, sqlite_people) -> None:  # noqa: ANN001
    client, people = sqlite_client, sqlite_people
    people.org("env", "환경정책과")
    steward = people.user("m@city.test", role="steward", org="env")
    assert client.post("/api/v1/datasets", json={"name": "meta", "title": "m", "owner_org": "env"},
                       headers=steward.headers).status_code == 201
    client.post("/api/v1/datasets/meta/resources", headers=steward.headers,
                files={"upload": ("a.csv", io.BytesIO(V1.encode()), "text/csv")})
    client.get("/api/v1/governance/datasets/meta/versions")  # the upload's version settled before the edit
    client.patch("/api/v1/datasets/meta", json={"notes": "설명"}, headers=steward.headers)
    newest, before = client.get("/api/v1/governance/datasets/meta/versions").json()["items"][:2]
    assert newest["trigger"] == "metadata" and newest["diff"]["metadata_changed"] == ["notes"]
    snap = [client.get(f"/api/v1/governance/datasets/meta/versions/{v['number']}").json()["resources"][0]["snapshot"]
            for v in (newest, before)]
    assert snap[0] == snap[1] and len(snap[0]) == 64


def test_large_tables_keep_versions_as_engine_copies_and_roll_back(client, people, monkeypatch) -> None:  # noqa: ANN001
    """Tables above the CSV snapshot cap (200k rows; lowered here so the test stays small) are versioned
    inside the datastore engine without a copy (the uploaded table is the version; a later append keeps a
    delta) and rolled back from there, row ids and all."""
    from cityhub.governance import versions

    monkeypatch.setattr(versions, "SNAPSHOT_ROW_CAP", 2)
    people.org("env", "환경정책과")
    steward = people.user("big@city.test", role="steward", org="env")
    assert client.post("/api/v1/datasets", json={"name": "big", "title": "big", "owner_org": "env"},
                       headers=steward.headers).status_code == 201
    rid = client.post("/api/v1/datasets/big/resources", headers=steward.headers,
                      files={"upload": ("a.csv", io.BytesIO(V1.encode()), "text/csv")}).json()["id"]
    first = client.get("/api/v1/governance/datasets/big/versions").json()["items"][0]
    shown = client.get(f"/api/v1/governance/datasets/big/versions/{first['number']}").json()["resources"][0]
    assert shown["snapshot"] is None and shown["table_delta"]["change"] == 0 and not shown.get("table_copy")

    r = client.post(f"/api/v1/governance/resources/{rid}/rows", headers=steward.headers,
                    json={"rows": [{"id": 9, "name": "z", "value": 90}, {"id": 10, "name": "y", "value": 100}]})
    assert r.status_code in (200, 201), r.text
    latest = client.get("/api/v1/governance/datasets/big/versions").json()["items"][0]
    assert latest["trigger"] == "rows" and latest["diff"]["rows_added"] == 2 and latest["diff"]["rows_removed"] == 0
    # a metadata edit reuses the pointer (no copy)
    client.patch("/api/v1/datasets/big", json={"notes": "설명"}, headers=steward.headers)
    meta_v = client.get("/api/v1/governance/datasets/big/versions").json()["items"][0]
    kept = [client.get(f"/api/v1/governance/datasets/big/versions/{n}").json()["resources"][0]["table_delta"]
            for n in (meta_v["number"], latest["number"])]
    assert meta_v["trigger"] == "metadata" and kept[0] == kept[1] and kept[0]["change"] == 1

    r = client.post(f"/api/v1/governance/datasets/big/versions/{first['number']}/rollback", headers=steward.headers)
    assert r.status_code == 200, r.text
    assert r.json()["diff"]["rows_removed"] == 2 and r.json()["restored_from"] == first["number"]
    rows = client.get(f"/api/v1/datastore/{rid}", params={"sort": "_id"}, headers=steward.headers).json()
    assert rows["total"] == 3 and [rec["id"] for rec in rows["records"]] == [1, 2, 3]
    assert [rec["_id"] for rec in rows["records"]] == [1, 2, 3]
    # the restored rows answer filters (the table's value histograms described the replaced rows)
    meta = client.app.state.session_factory()
    try:
        from cityhub.datastore.models import DatastoreTable

        assert meta.get(DatastoreTable, rid).histograms == {}
    finally:
        meta.close()
    found = client.get(f"/api/v1/datastore/{rid}", params={"filters": json.dumps({"name": "b"})},
                       headers=steward.headers).json()
    assert found["total"] == 1
    after = client.get("/api/v1/governance/datasets/big/versions").json()
    assert after["items"][0]["trigger"] == "rollback"  # no extra version once the rollback committed
    # the roll-back answered with a row-count diff; the recorder compared the copies since
    assert r.json()["diff"]["provisional"] is True and "provisional" not in after["items"][0]["diff"]
    assert after["items"][0]["diff"]["rows_removed"] == 2 and after["items"][0]["diff"]["per_resource"]
    # the retired rows and the deltas are not reachable through the SQL door
    for name in (versions.COPY_PREFIX + kept[0]["gen"], "_gov_delta_" + kept[0]["gen"], "_gov_delta_" + rid):
        sql = client.post("/api/v1/sql", json={"sql": f'SELECT * FROM "{name}"'}, headers=steward.headers)
        assert sql.status_code in (400, 403, 404, 422)


def test_versions_are_recorded_off_the_request_and_survive_a_dead_worker(sqlite_client, sqlite_people) -> None:  # noqa: ANN001
    """A change leaves an outbox row in its own transaction; a recorder started later (as after kill -9)
    records the version. The write itself never waits for the snapshot and diff."""
    import time

    from sqlalchemy import select

    from cityhub.governance.models_market import DatasetVersion, VersionOutbox
    from cityhub.governance.version_outbox import VersionRecorder

    client, people = sqlite_client, sqlite_people
    app = client.app
    app.state.version_recorder.stop()  # the worker is gone, as if its process were killed
    people.org("env", "환경정책과")
    steward = people.user("k@city.test", role="steward", org="env")
    assert client.post("/api/v1/datasets", json={"name": "k9", "title": "k9", "owner_org": "env"},
                       headers=steward.headers).status_code == 201
    r = client.post("/api/v1/datasets/k9/resources", headers=steward.headers,
                    files={"upload": ("a.csv", io.BytesIO(V1.encode()), "text/csv")})
    assert r.status_code == 201, r.text
    ds_id = client.get("/api/v1/datasets/k9").json()["id"]

    def stored() -> tuple[list, list]:
        with app.state.session_factory() as db:
            outbox = list(db.scalars(select(VersionOutbox.status).where(VersionOutbox.dataset_id == ds_id)))
            made = list(db.scalars(select(DatasetVersion.number).where(DatasetVersion.dataset_id == ds_id)))
        return outbox, made

    outbox, made = stored()
    assert outbox and set(outbox) == {"pending"} and made == []  # committed change, version still owed

    recorder = VersionRecorder(app.state.session_factory, app.state.settings, app.state.bus)
    recorder.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "pending" in stored()[0]:
            time.sleep(0.1)
    finally:
        recorder.stop()
    outbox, made = stored()
    assert set(outbox) == {"done"} and sorted(made) == [1, 2]  # one version per change
    items = client.get("/api/v1/governance/datasets/k9/versions").json()["items"]
    assert [v["trigger"] for v in items] == ["rows", "created"] and items[0]["diff"]["rows_added"] == 3


def _changes_before_the_recorder(client, people, name: str) -> tuple[str, list[dict]]:  # noqa: ANN001
    """Four changes committed while no recorder runs (as when it lags or its process was killed):
    creation, an upload, a row append and a metadata edit; then a reader settles them."""
    client.app.state.version_recorder.stop()
    people.org("env", "환경정책과")
    steward = people.user(f"{name}@city.test", role="steward", org="env")
    assert client.post("/api/v1/datasets", json={"name": name, "title": "b", "owner_org": "env"},
                       headers=steward.headers).status_code == 201
    rid = client.post(f"/api/v1/datasets/{name}/resources", headers=steward.headers,
                      files={"upload": ("a.csv", io.BytesIO(V1.encode()), "text/csv")}).json()["id"]
    r = client.post(f"/api/v1/governance/resources/{rid}/rows", headers=steward.headers,
                    json={"rows": [{"id": 9, "name": "z", "value": 90}, {"id": 10, "name": "y", "value": 100}]})
    assert r.status_code in (200, 201), r.text
    assert client.patch(f"/api/v1/datasets/{name}", json={"notes": "설명"},
                        headers=steward.headers).status_code == 200
    return rid, client.get(f"/api/v1/governance/datasets/{name}/versions").json()["items"]


def _assert_one_version_per_change(items: list[dict]) -> None:
    assert [v["trigger"] for v in items] == ["metadata", "rows", "rows", "created"]
    meta, append, upload = items[0]["diff"], items[1]["diff"], items[2]["diff"]
    assert meta["metadata_changed"] == ["notes"] and meta["rows_added"] == 0 and not meta["per_resource"]
    assert meta["metadata_values"] == {"notes": {"before": None, "after": "설명"}}
    assert append["rows_added"] == 2 and append["rows_removed"] == 0 and append["metadata_changed"] == []
    assert upload["rows_added"] == 3 and upload["metadata_changed"] == []


def test_each_change_made_before_the_recorder_reaches_it_gets_its_own_version(sqlite_client, sqlite_people) -> None:  # noqa: ANN001
    """Each change's metadata and rows are captured in its own transaction: changes committed before the
    recorder gets to the first still make one version each, with their own diffs, and each version's
    rows are the rows that change left (not the table as it stands now)."""
    client = sqlite_client
    rid, items = _changes_before_the_recorder(client, sqlite_people, "each")
    _assert_one_version_per_change(items)
    upload = items[2]["number"]
    text = client.get(f"/api/v1/governance/datasets/each/versions/{upload}/resources/{rid}.csv").text
    assert text.replace("\r\n", "\n").lstrip("\ufeff") == V1


def test_each_change_of_a_big_table_gets_its_own_copy(client, people, monkeypatch) -> None:  # noqa: ANN001
    """The same for tables kept in the engine (cap lowered so the test stays small): each change's pointer
    reads the rows as that change left them, and rolling back to the upload restores 3 rows."""
    from cityhub.governance import versions

    monkeypatch.setattr(versions, "SNAPSHOT_ROW_CAP", 2)
    rid, items = _changes_before_the_recorder(client, people, "eachbig")
    _assert_one_version_per_change(items)
    shown = [client.get(f"/api/v1/governance/datasets/eachbig/versions/{v['number']}").json()["resources"][0]
             for v in items[:3]]
    assert shown[0]["table_delta"] == shown[1]["table_delta"] != shown[2]["table_delta"]  # metadata edit
    assert [s["row_count"] for s in shown] == [5, 5, 3]
    steward = people.user("eachbig2@city.test", role="steward", org="env")
    r = client.post(f"/api/v1/governance/datasets/eachbig/versions/{items[2]['number']}/rollback",
                    headers=steward.headers)
    assert r.status_code == 200, r.text
    assert r.json()["diff"]["rows_removed"] == 2
    assert client.get(f"/api/v1/datastore/{rid}", headers=steward.headers).json()["total"] == 3


KILLED_WRITER = """
import io, os, signal, sys
from cityhub.auth.schemas import OrganizationCreate
from cityhub.auth.service import create_organization
from cityhub.catalog import service as catalog
from cityhub.catalog.schemas import DatasetCreate, DatasetUpdate, ResourceCreate
from cityhub.cli import system_ctx
from cityhub.governance import rows
from cityhub.settings import Settings

settings = Settings(data_dir=sys.argv[1])
with system_ctx(settings) as ctx:
    create_organization(ctx, data=OrganizationCreate(name="env", title="환경정책과"))
    catalog.create_dataset(ctx, data=DatasetCreate(name="k9", title="k9", owner_org="env"))
with system_ctx(settings) as ctx:
    rid = catalog.create_resource(ctx, dataset="k9", data=ResourceCreate(name="a.csv"),
                                  upload=io.BytesIO(sys.argv[2].encode()), filename="a.csv").id
with system_ctx(settings) as ctx:
    rows.write_rows(ctx, resource_id=rid,
                    rows=[{"id": 9, "name": "z", "value": 90}, {"id": 10, "name": "y", "value": 100}])
with system_ctx(settings) as ctx:
    catalog.update_dataset(ctx, id_or_name="k9", data=DatasetUpdate(notes="설명"))
print(rid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # no recorder ever ran in this process
"""


def test_changes_committed_by_a_killed_process_get_their_own_versions(tmp_path) -> None:  # noqa: ANN001
    """kill -9 after four committed changes and before any version was recorded: the next process
    records one version per change from what each change's transaction captured."""
    import os
    import subprocess
    import sys

    from fastapi.testclient import TestClient

    from cityhub.app import create_app
    from cityhub.settings import Settings

    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYHUB_")}
    done = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(tmp_path / "data"), V1], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == -9, done.stderr[-2000:]
    rid = done.stdout.split()[0]
    settings = Settings(data_dir=tmp_path / "data", log_json=True, access_log=False, secret_key="t")
    with TestClient(create_app(settings)) as client:  # its recorder and the reader settle the four changes
        items = client.get("/api/v1/governance/datasets/k9/versions").json()["items"]
        _assert_one_version_per_change(items)
        text_v = client.get(f"/api/v1/governance/datasets/k9/versions/{items[2]['number']}/resources/{rid}.csv").text
        assert text_v.replace("\r\n", "\n").lstrip("\ufeff") == V1


def test_a_table_growing_past_the_snapshot_cap_diffs_by_counts(sqlite_client, sqlite_people, monkeypatch) -> None:  # noqa: ANN001
    """The upload (3 rows) is kept as a CSV snapshot, the append (5 rows, cap 4) as a copy: the append's
    version names its 2 new rows, not the CSV's 3 rows as removed."""
    from cityhub.governance import versions

    monkeypatch.setattr(versions, "SNAPSHOT_ROW_CAP", 4)
    _, items = _changes_before_the_recorder(sqlite_client, sqlite_people, "cross")
    _assert_one_version_per_change(items)
