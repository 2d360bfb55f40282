"""Statistics test helpers: a statistics office with a KOSIS source fed by the fake KOSIS server."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

os.environ.setdefault("CITYHUB_COLLECT_SCHEDULER", "false")

from tests.fakes.kosis import VALID_KEY, KosisBehaviour, make_app  # noqa: E402
from tests.fakes.server import FakeServer  # noqa: E402


@pytest.fixture
def kosis() -> Iterator[tuple[FakeServer, KosisBehaviour]]:
    behaviour = KosisBehaviour()
    with FakeServer(make_app(behaviour)) as server:
        yield server, behaviour


def kosis_config(server: FakeServer, **extra: object) -> dict:
    return {"api_key": VALID_KEY, "base_url": f"{server.url}/openapi/Param/statisticsParameterData.do",
            "org_id": "101", "tbl_id": "DT_1B040A3", "itm_id": "T20+T21+T22+", "obj_l1": "ALL", "prd_se": "M",
            "start_prd_de": "202501", "end_prd_de": "202606", **extra}


class Office:
    """A statistics steward in the planning office, and helpers over the real HTTP API."""

    def __init__(self, client, people) -> None:  # noqa: ANN001
        self.client = client
        people.org("stats-office", "통계담당관")
        people.org("other-org", "다른 기관")
        self.steward = people.user("stats@city.test", role="steward", org="stats-office", capacity="editor")
        # Only the steward signs in through a form; the others use tokens (no password hashing to wait for).
        self.analyst = people.user("analyst@city.test", role="analyst", org="other-org", password=None)
        self.citizen = people.user("citizen@example.test", role="citizen", password=None)

    def dataset(self, name: str, access_level: str = "public", **extra: object) -> dict:
        body = {"name": name, "title": extra.pop("title", name), "owner_org": "stats-office",
                "access_level": access_level, **extra}
        r = self.client.post("/api/v1/datasets", json=body, headers=self.steward.headers)
        assert r.status_code == 201, r.text
        return r.json()

    def kosis_source(self, name: str, server: FakeServer, dataset: str, **extra: object) -> dict:
        from cityhub.stats.service_indicators import KOSIS_FIELDS, KOSIS_KEY

        body = {"name": name, "title": name, "connector": "kosis", "dataset": dataset,
                "config": kosis_config(server, **extra), "fields": KOSIS_FIELDS, "key": KOSIS_KEY}
        r = self.client.post("/api/v1/sources", json=body, headers=self.steward.headers)
        assert r.status_code == 201, r.text
        return r.json()

    def run(self, name: str) -> dict:
        r = self.client.post(f"/api/v1/sources/{name}/runs", headers=self.steward.headers)
        assert r.status_code == 201, r.text
        return r.json()

    def upload(self, dataset: str, filename: str, content: bytes) -> dict:
        r = self.client.post(f"/api/v1/datasets/{dataset}/resources", files={"upload": (filename, content)},
                             data={"name": filename}, headers=self.steward.headers)
        assert r.status_code == 201, r.text
        return r.json()


@pytest.fixture
def office(client, people) -> Office:  # noqa: ANN001
    return Office(client, people)


@pytest.fixture
def sqlite_office(sqlite_client, sqlite_people) -> Office:  # noqa: ANN001
    return Office(sqlite_client, sqlite_people)
