"""Fixtures for the context domain: an NGSI-LD writer token and entity factories."""

from __future__ import annotations

import pytest

NGSI = "/ngsi-ld/v1"
LD = "application/ld+json"
CORE = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"


def air(n: int, lon: float = 129.16, lat: float = 35.16, pm25: float = 20.0, **extra: object) -> dict:
    """A normalized AirQualityObserved entity."""
    body = {
        "id": f"urn:ngsi-ld:AirQualityObserved:busan-{n:04d}",
        "type": "AirQualityObserved",
        "pm25": {"type": "Property", "value": pm25, "unitCode": "GQ"},
        "pm10": {"type": "Property", "value": pm25 * 1.6, "unitCode": "GQ"},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}},
    }
    body.update(extra)
    return body


@pytest.fixture
def writer(people):  # noqa: ANN001, ANN201
    """An operator allowed to write entities; `.headers` carries the token."""
    org = people.org("busan-ctrl", "부산 스마트시티 통합관제센터")
    return people.user("ops@city.test", role="operator", org=org)


@pytest.fixture
def sqlite_writer(sqlite_people):  # noqa: ANN001, ANN201
    org = sqlite_people.org("busan-ctrl", "부산 스마트시티 통합관제센터")
    return sqlite_people.user("ops@city.test", role="operator", org=org)


def publish_snapshots_now(app) -> list[dict]:  # noqa: ANN001
    """Publish every live entity type's snapshot dataset now (as the scheduled refresh does), as the system."""
    from cityhub.cli import SYSTEM
    from cityhub.context.catalog_link import publish_snapshots
    from cityhub.ctx import RequestContext

    db = app.state.session_factory()
    try:
        ctx = RequestContext(actor=SYSTEM, db=db, settings=app.state.settings, bus=app.state.bus)
        done = publish_snapshots(ctx, org="busan-ctrl")
        db.commit()
        return done
    finally:
        db.close()
