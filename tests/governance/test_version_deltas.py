"""Versions at the cost of the change: a fed stream's batches each make a version from a delta (before-
images and a watermark, no table copy), an upload is its own version (no copy) and a replace renames the
replaced table away; every version downloads and rolls back to exactly its rows."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

V1 = "id,name,value\n1,a,10\n2,b,20\n3,c,30\n"
FIELDS = [("id", "integer"), ("name", "text"), ("value", "integer")]


@contextmanager
def _system(client) -> Iterator:  # noqa: ANN001
    from cityhub.ctx import SYSTEM, RequestContext
    from cityhub.governance.audit import bind_actor

    db = client.app.state.session_factory()
    bind_actor(db, SYSTEM, request_id="test")
    try:
        yield RequestContext(actor=SYSTEM, db=db, settings=client.app.state.settings, bus=client.app.state.bus,
                             request_id="test")
        db.commit()
    finally:
        db.close()


def _feed(client, rid: str, rows: list[dict]):  # noqa: ANN001, ANN202
    """One collection batch, as the pipeline writes it: upsert by key, then the resource's new count."""
    from cityhub.catalog import service as catalog
    from cityhub.datastore import service as datastore

    with _system(client) as ctx:
        conn = ctx.db.connection()
        fed = datastore.ensure_fed_table(conn, name=rid, fields=FIELDS, key=["id"], resource_id=rid)
        counts = datastore.upsert_fed_rows(conn, fed, rows)
        row_count = datastore.info(ctx, resource_id=rid).row_count
        catalog.mark_datastore(ctx, resource_id=rid, table=rid, row_count=row_count)
    return counts


def _replace(client, rid: str, text: str, tmp: Path) -> None:  # noqa: ANN001
    """A re-import replacing the table (as a roll-back from a snapshot or a harvest does)."""
    from cityhub.catalog import service as catalog
    from cityhub.datastore import service as datastore

    path = tmp / f"{abs(hash(text))}.csv"
    path.write_text(text, encoding="utf-8")
    with _system(client) as ctx:
        ref = dataclasses.replace(catalog.authorize_resource(ctx, resource_id=rid, action="datastore.write"),
                                  format="CSV")
        datastore.drop_table(ctx, table=rid)
        loaded = datastore.load_resource(ctx, resource=ref, path=path)
        catalog.mark_datastore(ctx, resource_id=rid, table=loaded.table, row_count=loaded.row_count)


def _csv(client, name: str, number: int, rid: str, headers: dict) -> list[tuple[str, ...]]:  # noqa: ANN001
    r = client.get(f"/api/v1/governance/datasets/{name}/versions/{number}/resources/{rid}.csv", headers=headers)
    assert r.status_code == 200, r.text
    lines = r.text.lstrip("\ufeff").replace("\r\n", "\n").strip().split("\n")
    assert lines[0] == "id,name,value"
    return sorted(tuple(line.split(",")) for line in lines[1:])


def _rows(*spec: tuple) -> list[tuple[str, ...]]:
    return sorted(tuple(str(v) for v in r) for r in spec)


def _live(client, rid: str, headers: dict) -> list[tuple[str, ...]]:  # noqa: ANN001
    body = client.get(f"/api/v1/datastore/{rid}", params={"limit": 100}, headers=headers).json()
    return sorted((str(r["id"]), r["name"], str(r["value"])) for r in body["records"])


def _tables(client, prefix: str) -> set[str]:  # noqa: ANN001
    with client.app.state.session_factory() as db:
        return {t for t in sa.inspect(db.connection()).get_table_names() if t.startswith(prefix)}


def _dataset(client, people, name: str, monkeypatch, cap: int) -> tuple[str, dict]:  # noqa: ANN001
    from cityhub.governance import versions

    monkeypatch.setattr(versions, "SNAPSHOT_ROW_CAP", cap)
    # versions are recorded by readers' drains only: the test's own writers never race the recorder's
    client.app.state.version_recorder.stop()
    people.org("env", "환경정책과")
    steward = people.user(f"{name}@city.test", role="steward", org="env")
    assert client.post("/api/v1/datasets", json={"name": name, "title": name, "owner_org": "env"},
                       headers=steward.headers).status_code == 201
    rid = client.post(f"/api/v1/datasets/{name}/resources", headers=steward.headers,
                      files={"upload": ("a.csv", io.BytesIO(V1.encode()), "text/csv")}).json()["id"]
    return rid, steward.headers


def test_a_fed_stream_makes_one_version_per_batch_from_its_delta(client, people, monkeypatch) -> None:  # noqa: ANN001
    """Three batches (updates, inserts, a row touched twice, an unchanged row): one version each with
    the upsert's exact counts, no table copy; each version downloads and rolls back to exactly its rows."""
    from cityhub.governance.versions import COPY_PREFIX

    rid, headers = _dataset(client, people, "stream", monkeypatch, cap=2)  # big: no CSV snapshots at all
    copies = _tables(client, COPY_PREFIX)
    c1 = _feed(client, rid, [{"id": 2, "name": "b", "value": 21}, {"id": 4, "name": "d", "value": 40}])
    c2 = _feed(client, rid, [{"id": 1, "name": "a", "value": 10}, {"id": 2, "name": "b", "value": 22},
                             {"id": 4, "name": "d", "value": 41}, {"id": 5, "name": "e", "value": 50}])
    c3 = _feed(client, rid, [{"id": 1, "name": "a", "value": 11}])
    assert (c1.inserted, c1.updated, c2.inserted, c2.updated, c2.unchanged, c3.updated) == (1, 1, 1, 2, 1, 1)
    items = client.get("/api/v1/governance/datasets/stream/versions", headers=headers).json()["items"]
    assert [v["trigger"] for v in items] == ["rows", "rows", "rows", "rows", "created"]
    diffs = [(v["diff"]["rows_added"], v["diff"]["rows_changed"], v["diff"]["rows_removed"]) for v in items[:4]]
    assert diffs == [(0, 1, 0), (1, 2, 0), (1, 1, 0), (3, 0, 0)]
    assert _tables(client, COPY_PREFIX) == copies  # no copy was made for any of them
    numbers = [v["number"] for v in items[:4]]
    expected = [_rows((1, "a", 11), (2, "b", 22), (3, "c", 30), (4, "d", 41), (5, "e", 50)),
                _rows((1, "a", 10), (2, "b", 22), (3, "c", 30), (4, "d", 41), (5, "e", 50)),
                _rows((1, "a", 10), (2, "b", 21), (3, "c", 30), (4, "d", 40)),
                _rows((1, "a", 10), (2, "b", 20), (3, "c", 30))]
    for number, rows in zip(numbers, expected, strict=True):
        assert _csv(client, "stream", number, rid, headers) == rows
    for number, rows in zip(numbers[::-1], expected[::-1], strict=True):  # each one restorable, any order
        r = client.post(f"/api/v1/governance/datasets/stream/versions/{number}/rollback", headers=headers)
        assert r.status_code == 200, r.text
        assert _live(client, rid, headers) == rows
    # the stream goes on after the roll-backs; every earlier version still reads its own rows
    c4 = _feed(client, rid, [{"id": 3, "name": "c", "value": 31}, {"id": 6, "name": "f", "value": 60}])
    assert (c4.inserted, c4.updated) == (1, 1)
    latest = client.get("/api/v1/governance/datasets/stream/versions", headers=headers).json()["items"][0]
    assert (latest["diff"]["rows_added"], latest["diff"]["rows_changed"]) == (1, 1)
    for number, rows in zip(numbers, expected, strict=True):
        assert _csv(client, "stream", number, rid, headers) == rows


def test_a_replace_sequence_keeps_each_versions_rows(client, people, monkeypatch, tmp_path) -> None:  # noqa: ANN001
    """Upload, fed batch, replace, replace: the replaced tables are renamed away (not copied, not dropped),
    so each version still downloads and restores its own rows; retention drops what no version needs."""
    from cityhub.governance.api_versions import run_retention

    rid, headers = _dataset(client, people, "swap", monkeypatch, cap=0)  # no CSV snapshots: engine rows only
    _feed(client, rid, [{"id": 3, "name": "c", "value": 33}])
    _replace(client, rid, "id,name,value\n7,g,70\n8,h,80\n", tmp_path)
    _replace(client, rid, "id,name,value\n9,i,90\n", tmp_path)
    items = client.get("/api/v1/governance/datasets/swap/versions", headers=headers).json()["items"]
    numbers = [v["number"] for v in items[:4]]
    expected = [_rows((9, "i", 90)), _rows((7, "g", 70), (8, "h", 80)),
                _rows((1, "a", 10), (2, "b", 20), (3, "c", 33)), _rows((1, "a", 10), (2, "b", 20), (3, "c", 30))]
    for number, rows in zip(numbers, expected, strict=True):
        assert _csv(client, "swap", number, rid, headers) == rows
    assert items[1]["diff"]["rows_added"] == 2 and items[1]["diff"]["rows_removed"] == 3
    r = client.post(f"/api/v1/governance/datasets/swap/versions/{numbers[2]}/rollback", headers=headers)
    assert r.status_code == 200, r.text
    assert _live(client, rid, headers) == expected[2]
    # keep only the newest: the older versions are pruned and the generations nobody needs go
    url = "/api/v1/governance/datasets/swap/version-retention"
    assert client.put(url, json={"keep_copies": 1, "keep_days": 0}, headers=headers).status_code == 200
    run_retention(client.app)
    after = client.get("/api/v1/governance/datasets/swap/versions", headers=headers).json()["items"]
    assert after[0]["restorable"] and not any(v["restorable"] for v in after[1:5])
    assert _tables(client, "_gov_") == {"_gov_delta_" + rid}  # the retired generations went
    assert _live(client, rid, headers) == expected[2]
    assert _csv(client, "swap", after[0]["number"], rid, headers) == expected[2]
