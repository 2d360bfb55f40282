"""Fixtures for integrated operations: an app with fast retry settings, an operator, the four agencies
with their credentials and loopback webhooks, and camera entities written through NGSI-LD."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient

from cityhub.app import create_app
from tests.conftest import People, Person
from tests.ops.receivers import Webhook

HAEUNDAE = {"lon": 129.1604, "lat": 35.1631}  # Haeundae-gu
SEOMYEON = {"lon": 129.0592, "lat": 35.1577}  # Busanjin-gu
NGSI = "/ngsi-ld/v1"


def fast(settings):  # noqa: ANN001, ANN201
    settings.ops_delivery_max_attempts = 3
    settings.ops_webhook_timeout_seconds = 0.5
    settings.site_url = "http://testserver"
    return settings


@pytest.fixture
def ops_client(settings) -> Iterator[TestClient]:  # noqa: ANN001
    """The real app (both backends) with quick retries."""
    with TestClient(create_app(fast(settings))) as c:
        yield c


@pytest.fixture
def ops_sqlite_client(sqlite_settings) -> Iterator[TestClient]:  # noqa: ANN001
    with TestClient(create_app(fast(sqlite_settings))) as c:
        yield c


@dataclass
class World:
    client: TestClient
    people: People
    operator: Person
    agencies: dict[str, dict[str, str]] = field(default_factory=dict)  # code -> {"token", "secret"}
    hooks: dict[str, Webhook] = field(default_factory=dict)

    def headers(self, code: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.agencies[code]['token']}", **extra}


def make_world(client: TestClient, hooks: dict[str, Webhook]) -> World:
    from cityhub.ops.service_agencies import ensure_standard_agencies, issue_credentials

    people = People(client.app)
    ctrl = people.org("busan-ctrl", "부산 스마트시티 통합관제센터")
    operator = people.user("operator@city.test", role="operator", org=ctrl)
    world = World(client, people, operator, hooks=hooks)
    with people._ctx() as ctx:
        agencies = ensure_standard_agencies(ctx, webhooks={code: h.url for code, h in hooks.items()})
        for a in agencies:
            creds = issue_credentials(ctx, code=a.code)
            world.agencies[a.code] = {"token": creds.token, "secret": creds.webhook_secret}
    return world


@pytest.fixture
def world(ops_client) -> Iterator[World]:  # noqa: ANN001
    with Webhook() as h112, Webhook() as h119, Webhook() as hdis, Webhook() as hpro:
        yield make_world(ops_client, {"police-112": h112, "fire-119": h119, "disaster-room": hdis,
                                      "protection": hpro})


@pytest.fixture
def sqlite_world(ops_sqlite_client) -> Iterator[World]:  # noqa: ANN001
    with Webhook() as h112, Webhook() as h119, Webhook() as hdis, Webhook() as hpro:
        yield make_world(ops_sqlite_client, {"police-112": h112, "fire-119": h119, "disaster-room": hdis,
                                             "protection": hpro})


def camera(n: int, lon: float, lat: float, usage: str = "SURVEILLANCE") -> dict:
    return {"id": f"urn:ngsi-ld:Camera:test-{n:04d}", "type": "Camera",
            "cameraName": {"type": "Property", "value": f"CCTV {n}"},
            "cameraUsage": {"type": "Property", "value": usage},
            "streamURL": {"type": "Property", "value": f"rtsp://vms.busan.local/live/{n}"},
            "on": {"type": "Property", "value": True},
            "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}}


def cameras_around(world: World, lon: float, lat: float, n: int = 8) -> list[dict]:
    """n cameras at 50 m steps east of the point (the last ones beyond 500 m... only when n > 10)."""
    bodies = [camera(i, lon + i * 0.00055, lat, "SURVEILLANCE" if i % 2 else "TRAFFIC") for i in range(n)]
    r = world.client.post(f"{NGSI}/entityOperations/upsert", json=bodies, headers=world.operator.headers)
    assert r.status_code in (201, 204), r.text
    return bodies
