"""The entity rows a batch writes: an update that keeps the location rewrites only the document (its place
columns stay), one that moves it or changes the type rewrites the whole row; both are found where they are."""

from __future__ import annotations

from sqlalchemy import select

from cityhub.context.models import ContextEntity
from tests.context.conftest import NGSI, air

HAEUNDAE = (129.16, 35.16)
SEO_GU = (129.02, 35.10)


def _near(client, headers, lon_lat):  # noqa: ANN001, ANN202
    r = client.get(f"{NGSI}/entities", headers=headers, params={
        "type": "AirQualityObserved", "georel": "near;maxDistance==1000", "geometry": "Point",
        "coordinates": f"[{lon_lat[0]},{lon_lat[1]}]"})
    assert r.status_code == 200, r.text
    return sorted(e["id"].rsplit("-", 1)[1] for e in r.json())


def _row(client, n: int):  # noqa: ANN001, ANN202
    with client.app.state.session_factory() as db:
        return db.execute(select(ContextEntity.district, ContextEntity.lon, ContextEntity.attrs).where(
            ContextEntity.id == f"urn:ngsi-ld:AirQualityObserved:busan-{n:04d}")).one()


def test_updates_keep_or_move_the_place_columns(client, writer):
    h = writer.headers
    r = client.post(f"{NGSI}/entityOperations/upsert", json=[air(1), air(2)], headers=h)
    assert r.status_code == 201, r.text
    district = _row(client, 1).district
    assert district
    # the values change, the place does not (no location in the update)
    r = client.post(f"{NGSI}/entityOperations/upsert?options=update", headers=h, json=[
        {"id": f"urn:ngsi-ld:AirQualityObserved:busan-{n:04d}", "type": "AirQualityObserved",
         "pm25": {"type": "Property", "value": 30.0 + n}} for n in (1, 2)])
    assert r.status_code == 204, r.text
    row = _row(client, 1)
    assert (row.district, row.lon, row.attrs["pm25"]["value"]) == (district, HAEUNDAE[0], 31.0)
    assert _near(client, h, HAEUNDAE) == ["0001", "0002"]
    # one station moves: its row follows, the other keeps its place and gets its new value
    moved = air(2, lon=SEO_GU[0], lat=SEO_GU[1], pm25=12.0)
    r = client.post(f"{NGSI}/entityOperations/upsert?options=update", headers=h, json=[moved, air(1, pm25=9.0)])
    assert r.status_code == 204, r.text
    assert _near(client, h, HAEUNDAE) == ["0001"] and _near(client, h, SEO_GU) == ["0002"]
    assert _row(client, 2).district != district and _row(client, 1).attrs["pm25"]["value"] == 9.0
