"""Agency webhooks that fail: 500s are retried, a hanging endpoint times out without holding up the others,
an unreachable one ends in the dead-letter list and is delivered once when retried; the log shows it all."""

from __future__ import annotations

from tests.ops.conftest import HAEUNDAE, SEOMYEON, make_world
from tests.ops.receivers import Webhook, wait_until

API = "/api/v1/ops"


def deliveries(world, **params) -> list[dict]:  # noqa: ANN001
    return world.client.get(f"{API}/deliveries", params=params, headers=world.operator.headers).json()["items"]


def test_500_is_retried_with_backoff_and_delivered_once(ops_client):
    with Webhook(fail_first=2) as flaky, Webhook() as fire, Webhook() as dis, Webhook() as pro:
        world = make_world(ops_client, {"police-112": flaky, "fire-119": fire, "disaster-room": dis,
                                        "protection": pro})
        r = world.client.post(f"{API}/incidents", json={"type": "crime", "location": SEOMYEON},
                              headers=world.operator.headers)
        assert r.status_code == 201
        assert flaky.wait_for(1, timeout=15)
        assert flaky.hits == 3 and len(flaky.messages) == 1

        def police() -> dict:
            return next(d for d in deliveries(world) if d["target"] == "police-112")

        assert wait_until(lambda: police()["status"] == "done")  # successes are marked in batches
        row = police()
        assert row["attempts"] == 3 and row["last_error"] == "HTTP 500"


def test_hanging_agency_times_out_and_does_not_delay_the_others(ops_client):
    with Webhook(mode="hang") as slow, Webhook() as fire, Webhook() as dis, Webhook() as pro:
        world = make_world(ops_client, {"police-112": slow, "fire-119": fire, "disaster-room": dis,
                                        "protection": pro})
        world.client.post(f"{API}/incidents", json={"type": "fire", "location": HAEUNDAE},
                          headers=world.operator.headers)
        assert fire.wait_for(1, timeout=2) and dis.wait_for(1, timeout=2)  # not behind the hanging 112
        assert wait_until(lambda: any(d["target"] == "police-112" and d["last_error"]
                                      and "Timeout" in d["last_error"] for d in deliveries(world)), timeout=10)


def test_unreachable_agency_ends_in_dead_letters_and_retry_delivers_once(ops_client):
    with Webhook() as fire, Webhook() as dis, Webhook() as pro:
        down = Webhook()  # bound then closed: nothing listens on its port
        down.server.server_close()
        world = make_world(ops_client, {"police-112": down, "fire-119": fire, "disaster-room": dis,
                                        "protection": pro})
        inc = world.client.post(f"{API}/incidents", json={"type": "crime", "location": SEOMYEON},
                                headers=world.operator.headers).json()
        assert wait_until(lambda: deliveries(world, status="dead"), timeout=15)
        dead = deliveries(world, status="dead")[0]
        assert dead["target"] == "police-112" and dead["attempts"] == 3 and dead["incident_id"] == inc["id"]
        assert "ConnectError" in dead["last_error"]
        with Webhook(port=down.port) as back:  # the agency is back on the same address
            r = world.client.post(f"{API}/deliveries/{dead['id']}/retry", headers=world.operator.headers)
            assert r.status_code == 200 and r.json()["status"] == "pending"
            got = back.wait_for(1)
            assert len(got) == 1 and got[0]["incident"]["id"] == inc["id"]
            assert back.headers[0]["Idempotency-Key"] == dead["idempotency_key"]
        assert deliveries(world, status="dead") == []
        # agencies see only their own log; citizens none of it
        own = world.client.get(f"{API}/deliveries", headers=world.headers("police-112")).json()
        assert own["total"] == 1 and own["items"][0]["target"] == "police-112"
        assert world.client.post(f"{API}/deliveries/{dead['id']}/retry",
                                 headers=world.headers("police-112")).status_code == 403
