"""Harvest another cityhub through its CKAN API: paging by id, publisher kept, incremental, deletions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import LiveServer, People, make_settings


@pytest.fixture
def borough(tmp_path) -> Iterator[tuple[LiveServer, People]]:
    """A second, independent cityhub (a borough's portal) on a loopback port."""
    from cityhub.app import create_app

    remote = create_app(make_settings(tmp_path / "borough"))
    with LiveServer(remote) as server:
        yield server, People(remote)


def _remote_datasets(people: People, count: int, org: str) -> None:
    from cityhub.catalog.schemas import DatasetCreate, ResourceCreate
    from cityhub.catalog.service import create_dataset, create_resource

    with people._ctx() as ctx:
        for i in range(count):
            create_dataset(ctx, data=DatasetCreate(
                name=f"haeundae-{i:03d}", title=f"해운대구 데이터 {i}", owner_org=org, notes="구청 공개 데이터",
                keywords=["해운대", "관광"]))
            url = f"https://haeundae.example/files/{i}.csv"
            create_resource(ctx, dataset=f"haeundae-{i:03d}", data=ResourceCreate(name="원본", url=url, format="CSV"))


def _local(collect, name: str) -> dict | None:  # noqa: ANN001
    r = collect.client.get(f"/api/3/action/package_show?id={name}", headers=collect.headers)
    return r.json()["result"] if r.status_code == 200 and r.json().get("success") else None


def test_harvest_pages_keeps_publisher_incremental_and_notices_deletions(sqlite_collect, borough) -> None:
    server, remote_people = borough
    remote_people.org("haeundae-gu", "해운대구청")
    _remote_datasets(remote_people, 25, "haeundae-gu")
    index = sqlite_collect.dataset("borough-catalogs", title="구청 카탈로그 수집")["name"]
    sqlite_collect.source("haeundae", "ckan", {"url": server.url, "rows": 10}, dataset=index)
    run = sqlite_collect.run("haeundae")
    assert run["status"] == "succeeded", run
    assert run["rows_inserted"] == 25 and run["requests"] == 4  # 3 pages of package_search + package_list
    ds = _local(sqlite_collect, "haeundae-007")
    assert ds and ds["title"] == "해운대구 데이터 7" and ds["organization"]["name"] == "haeundae-gu"
    assert ds["organization"]["title"] == "해운대구청"
    assert ds["resources"][0]["url"] == "https://haeundae.example/files/7.csv"
    assert {t["name"] for t in ds["tags"]} == {"해운대", "관광"}
    extras = {e["key"]: e["value"] for e in ds["extras"]}
    assert extras["harvest_source"] == "haeundae"
    raw = sqlite_collect.client.get(f"/api/v1/runs/{run['id']}/raw", headers=sqlite_collect.headers).json()
    assert "sort=id+asc" in raw[0]["request"]["url"] or "sort=id%20asc" in raw[0]["request"]["url"]

    again = sqlite_collect.run("haeundae")  # incremental: asks only for recent changes, all unchanged
    assert again["status"] == "succeeded" and again["rows_inserted"] == 0 and again["rows_updated"] == 0
    assert "metadata_modified" in sqlite_collect.client.get(
        f"/api/v1/runs/{again['id']}/raw", headers=sqlite_collect.headers).json()[0]["request"]["url"]

    from cityhub.catalog.schemas import DatasetUpdate
    from cityhub.catalog.service import delete_dataset, update_dataset

    with remote_people._ctx() as ctx:
        update_dataset(ctx, id_or_name="haeundae-003", data=DatasetUpdate(title="해운대구 데이터 3 (개정)"))
        delete_dataset(ctx, id_or_name="haeundae-010")
    third = sqlite_collect.run("haeundae")
    assert third["status"] == "succeeded", third
    assert third["rows_updated"] == 2  # one changed, one withdrawn
    assert _local(sqlite_collect, "haeundae-003")["title"] == "해운대구 데이터 3 (개정)"
    assert _local(sqlite_collect, "haeundae-010") is None


def _remote_table(people: People, rows: list[dict], *, dataset: str | None = None, delete: list[str] = ()) -> str:
    """A DataStore resource on the borough's portal (a feed it collects), created or changed."""
    import sqlalchemy as sa

    from cityhub.catalog.schemas import DatasetCreate, ResourceCreate
    from cityhub.catalog.service import create_dataset, create_resource, get_dataset, mark_datastore
    from cityhub.datastore import service as datastore

    with people._ctx() as ctx:
        if dataset is None:
            create_dataset(ctx, data=DatasetCreate(name="haeundae-air", title="해운대구 대기질",
                                                   owner_org="haeundae-gu"))
            res = create_resource(ctx, dataset="haeundae-air",
                                  data=ResourceCreate(name="측정값", url="https://haeundae.example/air", format="API"))
            rid = res.id
        else:
            rid = get_dataset(ctx, id_or_name=dataset).resources[0].id
        conn = ctx.db.connection()
        fed = datastore.ensure_fed_table(conn, name=rid, fields=[("station", "text"), ("pm10", "number"),
                                                                 ("measured", "datetime")],
                                         key=["station", "measured"], resource_id=rid)
        datastore.upsert_fed_rows(conn, fed, rows)
        if delete:
            conn.execute(fed.table.delete().where(fed.table.c.station.in_(list(delete))))
        total = conn.execute(sa.select(sa.func.count()).select_from(fed.table)).scalar_one()
        mark_datastore(ctx, resource_id=rid, table=rid, row_count=total)
    return rid


def _local_rows(collect, resource_id: str) -> list[dict]:  # noqa: ANN001
    r = collect.client.get("/api/3/action/datastore_search", headers=collect.headers,
                           params={"resource_id": resource_id, "limit": 1000, "sort": "station"})
    assert r.status_code == 200, r.text
    return r.json()["result"]["records"]


def test_harvest_brings_datastore_rows_incrementally_with_deletions(sqlite_collect, borough) -> None:
    server, remote_people = borough
    remote_people.org("haeundae-gu", "해운대구청")
    readings = [{"station": f"st-{i:02d}", "pm10": 20.5 + i, "measured": f"2025-05-01T{i % 24:02d}:00:00"}
                for i in range(25)]
    _remote_table(remote_people, readings)
    index = sqlite_collect.dataset("borough-air", title="구청 대기질 수집")["name"]
    sqlite_collect.source("haeundae-air", "ckan", {"url": server.url, "datastore_rows": 10}, dataset=index)
    run = sqlite_collect.run("haeundae-air")
    assert run["status"] == "succeeded", run
    assert run["rows_inserted"] == 1 + 25  # the dataset, then its 25 rows in 3 pages of datastore_search
    ds = _local(sqlite_collect, "haeundae-air")
    assert ds["organization"]["name"] == "haeundae-gu"  # publisher kept
    local = ds["resources"][0]
    assert local["datastore_active"] is True and local["url"] == "https://haeundae.example/air"
    rows = _local_rows(sqlite_collect, local["id"])
    assert [(r["station"], r["pm10"], r["harvest_row_id"] > 0) for r in rows] == \
        [(f"st-{i:02d}", 20.5 + i, True) for i in range(25)]
    assert rows[3]["measured"].startswith("2025-05-01T03:00:00")

    again = sqlite_collect.run("haeundae-air")  # nothing changed upstream: no rows fetched again
    assert again["status"] == "succeeded" and again["rows_inserted"] == 0 and again["rows_updated"] == 0
    urls = [p["request"]["url"] for p in sqlite_collect.client.get(
        f"/api/v1/runs/{again['id']}/raw", headers=sqlite_collect.headers).json()]
    assert not any("datastore_search" in u for u in urls)

    # upstream: one reading corrected, one added, two deleted
    _remote_table(remote_people, [{"station": "st-05", "pm10": 99.0, "measured": "2025-05-01T05:00:00"},
                                  {"station": "st-99", "pm10": 1.0, "measured": "2025-05-02T00:00:00"}],
                  dataset="haeundae-air", delete=["st-07", "st-20"])
    third = sqlite_collect.run("haeundae-air")
    assert third["status"] == "succeeded", third
    rows = _local_rows(sqlite_collect, local["id"])
    stations = [r["station"] for r in rows]
    assert len(rows) == 24 and "st-07" not in stations and "st-20" not in stations and "st-99" in stations
    assert next(r for r in rows if r["station"] == "st-05")["pm10"] == 99.0
    assert len({r["harvest_row_id"] for r in rows}) == 24  # no duplicates
    info = sqlite_collect.client.get("/api/3/action/datastore_info", headers=sqlite_collect.headers,
                                     params={"id": local["id"]}).json()["result"]
    assert info["meta"]["count"] == 24

    # The raw zone rebuilds the harvested rows too: lose the local table's rows, replay, same rows back.
    before = [{k: v for k, v in r.items() if k != "_id"} for r in rows]
    from sqlalchemy import text

    with sqlite_collect.app.state.engine.begin() as conn:
        conn.execute(text(f'DELETE FROM "{local["id"]}"'))
    assert _local_rows(sqlite_collect, local["id"]) == []
    replay = sqlite_collect.client.post("/api/v1/sources/haeundae-air/replay", headers=sqlite_collect.headers)
    assert replay.status_code == 201 and replay.json()["status"] == "succeeded", replay.text
    assert replay.json()["requests"] == 0
    after = [{k: v for k, v in r.items() if k != "_id"} for r in _local_rows(sqlite_collect, local["id"])]
    assert sorted(after, key=lambda r: r["harvest_row_id"]) == sorted(before, key=lambda r: r["harvest_row_id"])
