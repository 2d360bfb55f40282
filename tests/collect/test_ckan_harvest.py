"""Harvest another cityhub through its CKAN API: paging by id, publisher kept, incremental, deletions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import LiveServer, People, make_settings


@pytest.fixture
def borough(tmp_path, monkeypatch) -> Iterator[tuple[LiveServer, People]]:
    """A second, independent cityhub (a borough's portal) on a loopback port."""
    from cityhub import app as app_module
    from tests.collect.conftest import _importable

    monkeypatch.setattr(app_module, "ROUTER_MODULES", tuple(m for m in app_module.ROUTER_MODULES if _importable(m)))
    remote = app_module.create_app(make_settings(tmp_path / "borough"))
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
