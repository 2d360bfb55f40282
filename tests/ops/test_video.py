"""CCTV registry and video grants: nearest cameras by distance and usage, signed single-agency links that
expire with their incident, revocation, tampering, and an audit entry for every view and refusal."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from tests.ops.conftest import HAEUNDAE, SEOMYEON, cameras_around
from tests.ops.receivers import wait_until

API = "/api/v1/ops"


def audit(world, action: str) -> list:  # noqa: ANN001
    from cityhub.governance.models import AuditEntry

    with world.client.app.state.session_factory() as db:
        return list(db.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def test_nearest_cameras_ordered_by_distance_and_filtered_by_usage(world):
    cameras_around(world, HAEUNDAE["lon"], HAEUNDAE["lat"], n=12)  # 0, 50, 100 … 550 m east
    h = world.operator.headers
    r = world.client.get(f"{API}/cameras/nearest", params={**HAEUNDAE, "radius": 500}, headers=h)
    assert r.status_code == 200
    items = r.json()["items"]
    dist = [c["distance_m"] for c in items]
    assert dist == sorted(dist) and len(items) == 11 and dist[-1] <= 500  # the one at ≈550 m is out
    assert items[0]["id"].endswith("test-0000") and items[0]["district"] == "Haeundae-gu"
    traffic = world.client.get(f"{API}/cameras/nearest", params={**HAEUNDAE, "radius": 500, "usage": "traffic"},
                               headers=h).json()["items"]
    assert traffic and all(c["usage"] == "TRAFFIC" for c in traffic)
    assert world.client.get(f"{API}/cameras/nearest", params={**HAEUNDAE, "usage": "x"}, headers=h).status_code == 422
    citizen = world.people.user("lee@citizen.test")
    assert world.client.get(f"{API}/cameras/nearest", params=HAEUNDAE, headers=citizen.headers).status_code == 403
    clerk = world.people.user("clerk@parks.test", role="analyst", org=world.people.org("parks", "공원녹지과"))
    assert world.client.get(f"{API}/cameras/nearest", params=HAEUNDAE, headers=clerk.headers).status_code == 403
    police = world.client.get(f"{API}/cameras/nearest", params=HAEUNDAE, headers=world.headers("police-112"))
    assert police.status_code == 200 and police.json()["items"]


def test_linked_agencies_receive_camera_links_that_work_and_are_audited(world):
    cameras_around(world, HAEUNDAE["lon"], HAEUNDAE["lat"], n=4)
    inc = world.client.post(f"{API}/incidents", json={"type": "fire", "location": HAEUNDAE},
                            headers=world.headers("fire-119")).json()
    msg = world.hooks["police-112"].wait_for(1)[0]
    links = msg["video_grant"]["links"]
    assert [lk["camera_id"] for lk in links] == [c["id"] for c in msg["cameras"]]
    assert msg["cameras"][0]["distance_m"] <= msg["cameras"][-1]["distance_m"]
    path = links[0]["url"].removeprefix("http://testserver")
    view = world.client.get(path, headers=world.headers("police-112"))
    assert view.status_code == 200 and view.json()["stream_url"].startswith("rtsp://")
    assert view.json()["incident_id"] == inc["id"]
    snap = world.client.get(view.json()["snapshot_url"].removeprefix("http://testserver"))
    assert snap.status_code == 200 and snap.headers["content-type"].startswith("image/svg")
    # another agency's user may not open 112's link
    other = world.client.get(path, headers=world.headers("protection"))
    assert other.status_code == 403
    views = audit(world, "video.view")
    assert [v.outcome for v in views] == ["allowed", "allowed", "denied"]
    assert views[0].resource_id == links[0]["camera_id"]


def test_tampered_expired_and_revoked_links_are_refused(world):
    cameras_around(world, SEOMYEON["lon"], SEOMYEON["lat"], n=3)
    inc = world.client.post(f"{API}/incidents", json={"type": "crime", "location": SEOMYEON},
                            headers=world.headers("police-112")).json()
    r = world.client.post(f"{API}/incidents/{inc['id']}/video-grants",
                          json={"agency": "police-112", "reason": "용의자 도주 경로 확인", "minutes": 10},
                          headers=world.headers("police-112"))
    assert r.status_code == 201, r.text
    grant = r.json()
    url = grant["links"][0]["url"].removeprefix("http://testserver")
    body, mac = url.rsplit("/", 1)[1].split(".")
    forged = url.replace(body, body[:-2] + ("AA" if body[-2:] != "AA" else "BB"))
    assert world.client.get(forged).status_code == 403
    assert world.client.get(url + "x").status_code == 403
    assert world.client.get(url).status_code == 200
    # the grant ends when it should: expire it in the database and the signed link stops working
    from cityhub.db import utcnow
    from cityhub.ops.models import VideoGrant

    with world.client.app.state.session_factory() as db:
        db.execute(update(VideoGrant).where(VideoGrant.id == grant["id"])
                   .values(expires_at=utcnow() - timedelta(seconds=1)))
        db.commit()
    expired = world.client.get(url)
    assert expired.status_code == 403 and "expired" in expired.json()["detail"]
    again = world.client.post(f"{API}/incidents/{inc['id']}/video-grants",
                              json={"agency": "police-112", "reason": "재확인"}, headers=world.operator.headers).json()
    url2 = again["links"][0]["url"].removeprefix("http://testserver")
    assert world.client.delete(f"{API}/grants/{again['id']}", headers=world.operator.headers).status_code == 200
    revoked = world.client.get(url2)
    assert revoked.status_code == 403 and "revoked" in revoked.json()["detail"]
    denied = [v for v in audit(world, "video.view") if v.outcome == "denied"]
    assert len(denied) == 4


def test_grant_cannot_outlive_its_incident_plus_margin(world):
    cameras_around(world, SEOMYEON["lon"], SEOMYEON["lat"], n=2)
    inc = world.client.post(f"{API}/incidents", json={"type": "crime", "location": SEOMYEON},
                            headers=world.operator.headers).json()
    grant = world.client.post(f"{API}/incidents/{inc['id']}/video-grants",
                              json={"agency": "police-112", "reason": "현장 확인", "minutes": 240},
                              headers=world.operator.headers).json()
    for step in ("acknowledged", "dispatched", "on_scene", "resolved", "closed"):
        world.client.post(f"{API}/incidents/{inc['id']}/transitions", json={"to": step},
                          headers=world.operator.headers)
    closed = world.client.get(f"{API}/incidents/{inc['id']}", headers=world.operator.headers).json()
    after = world.client.get(f"{API}/grants/{grant['id']}", headers=world.operator.headers).json()
    from datetime import datetime

    end = datetime.fromisoformat(closed["closed_at"]) + timedelta(minutes=60)
    assert datetime.fromisoformat(after["expires_at"]) <= end < datetime.fromisoformat(grant["expires_at"])


def test_agency_asking_for_video_of_an_incident_it_is_not_part_of_is_refused_and_audited(world):
    cameras_around(world, SEOMYEON["lon"], SEOMYEON["lat"], n=2)
    inc = world.client.post(f"{API}/incidents", json={"type": "crime", "location": SEOMYEON},
                            headers=world.headers("police-112")).json()
    r = world.client.post(f"{API}/incidents/{inc['id']}/video-grants",
                          json={"agency": "protection", "reason": "보고 싶어서"}, headers=world.headers("protection"))
    assert r.status_code == 403
    # 112 may not hand video to another agency either
    r2 = world.client.post(f"{API}/incidents/{inc['id']}/video-grants",
                           json={"agency": "fire-119", "reason": "영상 공유 요청"}, headers=world.headers("police-112"))
    assert r2.status_code == 403
    denied = [e for e in audit(world, "video.grant") if e.outcome == "denied"]
    assert len(denied) == 2 and denied[0].resource_id == inc["id"]


def test_camera_index_follows_context_writes(world):
    cameras_around(world, HAEUNDAE["lon"], HAEUNDAE["lat"], n=2)
    h = world.operator.headers
    assert wait_until(lambda: len(world.client.get(f"{API}/cameras/nearest", params=HAEUNDAE, headers=h)
                                  .json()["items"]) == 2)
    assert world.client.post(f"{API}/cameras/sync", headers=h).json() == {"cameras": 2}
