"""Deliveries handed from the writer to its own process's dispatcher after commit (leased at insert, never
claimed again): a burst reaches each agency once and in order; rows whose hand-over is refused are claimed
when their lease runs out and still arrive exactly once."""

from __future__ import annotations

from tests.ops.conftest import make_world
from tests.ops.receivers import Webhook, wait_until

API = "/api/v1/ops"


def _burst(world, n: int) -> list[str]:  # noqa: ANN001
    ids = []
    for i in range(n):  # far apart: no duplicate links
        r = world.client.post(f"{API}/incidents", headers=world.headers("fire-119", **{"Idempotency-Key": f"b{i}"}),
                              json={"type": "fire", "location": {"lon": 129.0 + i * 0.004, "lat": 35.17}})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    return ids


def test_a_burst_reaches_each_agency_once_and_in_order(ops_client):
    with Webhook() as police, Webhook() as fire, Webhook() as dis, Webhook() as pro:
        world = make_world(ops_client, {"police-112": police, "fire-119": fire, "disaster-room": dis,
                                        "protection": pro})
        ids = _burst(world, 25)
        for hook in (police, dis):
            got = hook.wait_for(25, timeout=20)
            assert [m["incident"]["id"] for m in got] == ids  # in order: a busy agency's rows queue behind it
        assert len({h["Idempotency-Key"] for h in police.headers}) == police.hits == 25  # once each
        rows = world.client.get(f"{API}/deliveries", params={"limit": 100},
                                headers=world.operator.headers).json()["items"]
        assert wait_until(lambda: all(d["status"] == "done" for d in world.client.get(
            f"{API}/deliveries", params={"limit": 100}, headers=world.operator.headers).json()["items"]))
        assert {d["target"] for d in rows} == {"police-112", "disaster-room"}


def test_rows_whose_hand_over_is_refused_are_claimed_after_their_lease(ops_client, monkeypatch):
    from cityhub.ops.dispatcher import AgencyDispatcher

    # As when a commit took longer than half the lease: the dispatcher does not take the rows.
    monkeypatch.setattr(AgencyDispatcher, "take", lambda self, rows, lease: False)
    with Webhook() as police, Webhook() as fire, Webhook() as dis, Webhook() as pro:
        world = make_world(ops_client, {"police-112": police, "fire-119": fire, "disaster-room": dis,
                                        "protection": pro})
        ids = _burst(world, 3)
        got = police.wait_for(3, timeout=20)  # the lease (5 s) runs out; the claim takes them
        assert sorted(m["incident"]["id"] for m in got) == sorted(ids)
        assert dis.wait_for(3, timeout=20)
        assert police.hits == 3 and dis.hits == 3  # once each
