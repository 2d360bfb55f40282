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
    """Tables above the CSV snapshot cap (200k rows; lowered here so the test stays small) are versioned as
    copies inside the datastore engine and rolled back from them, row ids and all."""
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
    assert shown["snapshot"] is None and shown["table_copy"].startswith(versions.COPY_PREFIX)

    r = client.post(f"/api/v1/governance/resources/{rid}/rows", headers=steward.headers,
                    json={"rows": [{"id": 9, "name": "z", "value": 90}, {"id": 10, "name": "y", "value": 100}]})
    assert r.status_code in (200, 201), r.text
    latest = client.get("/api/v1/governance/datasets/big/versions").json()["items"][0]
    assert latest["trigger"] == "rows" and latest["diff"]["rows_added"] == 2 and latest["diff"]["rows_removed"] == 0
    # a metadata edit reuses the copy (no new one)
    client.patch("/api/v1/datasets/big", json={"notes": "설명"}, headers=steward.headers)
    meta_v = client.get("/api/v1/governance/datasets/big/versions").json()["items"][0]
    copies = [client.get(f"/api/v1/governance/datasets/big/versions/{n}").json()["resources"][0]["table_copy"]
              for n in (meta_v["number"], latest["number"])]
    assert meta_v["trigger"] == "metadata" and copies[0] == copies[1]

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
    # the copies are not reachable through the SQL door
    sql = client.post("/api/v1/sql", json={"sql": f'SELECT * FROM "{copies[0]}"'}, headers=steward.headers)
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
    assert set(outbox) == {"done"} and made == [1]
    items = client.get("/api/v1/governance/datasets/k9/versions").json()["items"]
    assert len(items) == 1 and items[0]["diff"]["rows_added"] == 3


def test_changes_made_before_the_recorder_reaches_them_make_one_version(sqlite_client, sqlite_people) -> None:  # noqa: ANN001
    """Versions are recorded in the background from the dataset's state: two changes made before the
    recorder reaches the first one make a single version whose diff names both."""
    client, people = sqlite_client, sqlite_people
    people.org("env", "환경정책과")
    steward = people.user("c@city.test", role="steward", org="env")
    assert client.post("/api/v1/datasets", json={"name": "both", "title": "b", "owner_org": "env"},
                       headers=steward.headers).status_code == 201
    client.get("/api/v1/governance/datasets/both/versions")
    client.post("/api/v1/datasets/both/resources", headers=steward.headers,
                files={"upload": ("a.csv", io.BytesIO(V1.encode()), "text/csv")})
    client.patch("/api/v1/datasets/both", json={"notes": "설명"}, headers=steward.headers)
    items = client.get("/api/v1/governance/datasets/both/versions").json()["items"]
    changes = [(v["diff"].get("rows_added", 0), v["diff"].get("metadata_changed", [])) for v in items[:-1]]
    assert sum(rows for rows, _ in changes) == 3  # every row and field change is in some version
    assert "notes" in [f for _, fields in changes for f in fields]
