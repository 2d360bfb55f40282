"""Collection test helpers: a steward with a dataset, sources made and run through the real HTTP API.

The app, clients and people are the shared fixtures of tests/conftest.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

# Tests run sources by hand; schedules get their own test with the scheduler switched on.
os.environ.setdefault("CITYHUB_COLLECT_SCHEDULER", "false")

from tests.fakes.rest import Behaviour, make_app  # noqa: E402
from tests.fakes.server import FakeServer  # noqa: E402


class Collect:
    def __init__(self, client, people) -> None:  # noqa: ANN001
        self.client = client
        self.app = client.app
        self.org_id = people.org("env-dept", "환경정책과")
        self.steward = people.user("steward@city.test", role="steward", org="env-dept", capacity="editor")
        self.headers = self.steward.headers
        self._n = 0

    def dataset(self, name: str | None = None, **extra: Any) -> dict:
        self._n += 1
        body = {"name": name or f"ds-{self._n}", "title": extra.pop("title", "대기질 측정"), "owner_org": "env-dept",
                **extra}
        from cityhub.catalog.schemas import DatasetCreate
        from cityhub.catalog.service import create_dataset
        from cityhub.cli import SYSTEM
        from cityhub.ctx import RequestContext

        with self.app.state.session_factory() as db:
            ctx = RequestContext(actor=SYSTEM, db=db, settings=self.app.state.settings, bus=self.app.state.bus)
            ds = create_dataset(ctx, data=DatasetCreate(**body))
            db.commit()
        return ds.model_dump(mode="json")

    def source(self, name: str, connector: str, config: dict, fields: list[dict] | None = None,
               key: list[str] | None = None, dataset: str | None = None, expect: int = 201, **extra: Any) -> dict:
        ds = dataset or self.dataset()["name"]
        body = {"name": name, "title": extra.pop("title", name), "connector": connector, "dataset": ds,
                "config": config, "fields": fields or [], "key": key or [], **extra}
        r = self.client.post("/api/v1/sources", json=body, headers=self.headers)
        assert r.status_code == expect, r.text
        return r.json()

    def run(self, name: str) -> dict:
        r = self.client.post(f"/api/v1/sources/{name}/runs", headers=self.headers)
        assert r.status_code == 201, r.text
        return r.json()

    def rows(self, source: dict, order: str = "_id") -> list[dict]:
        from sqlalchemy import text

        table = source["resource_id"]
        with self.app.state.engine.connect() as conn:
            return [dict(r) for r in conn.execute(text(f'SELECT * FROM "{table}" ORDER BY {order}')).mappings()]


@pytest.fixture
def collect(client, people) -> Collect:  # noqa: ANN001
    return Collect(client, people)


@pytest.fixture
def sqlite_collect(sqlite_client, sqlite_people) -> Collect:  # noqa: ANN001
    return Collect(sqlite_client, sqlite_people)


@pytest.fixture
def rest() -> Iterator[tuple[FakeServer, Behaviour]]:
    behaviour = Behaviour()
    with FakeServer(make_app(behaviour)) as server:
        yield server, behaviour


READING_FIELDS = [
    {"name": "id", "type": "integer"},
    {"name": "station", "type": "text"},
    {"name": "value", "type": "number"},
    {"name": "measured", "type": "datetime"},
]
