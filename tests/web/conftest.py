"""Portal fixtures: a small catalog made through the native API by a steward."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from tests.conftest import People, Person

KO = {"Accept-Language": "ko-KR,ko;q=0.9,en;q=0.8", "Accept": "text/html"}
EN = {"Accept-Language": "en-US,en;q=0.9", "Accept": "text/html"}


@dataclass
class Portal:
    client: TestClient
    people: People
    steward: Person
    outsider: Person

    def dataset(self, name: str, title: str, **fields: object) -> dict:
        body = {"name": name, "title": title, "owner_org": "busan-transport", **fields}
        response = self.client.post("/api/v1/datasets", json=body, headers=self.steward.headers)
        assert response.status_code == 201, response.text
        return response.json()

    def upload(self, dataset: str, filename: str, content: bytes, **form: str) -> dict:
        response = self.client.post(f"/api/v1/datasets/{dataset}/resources", files={"upload": (filename, content)},
                                    data=form, headers=self.steward.headers)
        assert response.status_code == 201, response.text
        return response.json()

    def login(self, person: Person) -> None:
        response = self.client.post("/user/login", data={"email": person.email, "password": "password123"},
                                    follow_redirects=False)
        assert response.status_code == 303, response.text

    def logout(self) -> None:
        self.client.post("/user/logout", follow_redirects=False)
        self.client.cookies.clear()


def make_portal(client: TestClient, people: People) -> Portal:
    people.org("busan-transport", "부산교통공사", kind="public_body")
    people.org("acme", "ACME 주식회사", kind="company")
    steward = people.user("steward@city.test", role="steward", org="busan-transport")
    outsider = people.user("citizen@acme.test", role="citizen", org="acme")
    portal = Portal(client, people, steward, outsider)
    portal.dataset("bus-routes", "부산교통공사 버스 노선", title_en="Busan bus routes", theme="transport",
                   notes="노선별 정류장 목록", notes_en="Stops by route", keywords=["버스", "노선"],
                   synthetic=True, license_id="KOGL-1")
    portal.dataset("secret-cctv", "교통 단속 카메라 비공개 목록", theme="safety", keywords=["비밀키워드"],
                   access_level="restricted", license_id="KOGL-4")
    return portal


@pytest.fixture
def portal(sqlite_client: TestClient, sqlite_people: People) -> Portal:
    """SQLite only: for tests whose subject is the pages, not storage or access."""
    return make_portal(sqlite_client, sqlite_people)


@pytest.fixture
def portal_both(client: TestClient, people: People) -> Portal:
    """SQLite and PostgreSQL: for tests about what outsiders may see."""
    return make_portal(client, people)
