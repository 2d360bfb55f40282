"""kill -9 between receiving incidents and delivering them: after restart every linked agency gets each
incident, exactly once from its point of view (the same Idempotency-Key for any re-send) — both for rows
waiting out a backoff and for rows a dispatcher held in flight (a hanging agency) when it was killed."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import httpx

from tests.cli_server import CLI, serve
from tests.conftest import free_port
from tests.ops.conftest import SEOMYEON
from tests.ops.receivers import Webhook


def test_incidents_acknowledged_before_kill_9_are_delivered_once_after_restart(tmp_path):
    env = {**os.environ, "CITYHUB_DATA_DIR": str(tmp_path / "data"), "CITYHUB_SECRET_KEY": "t",
           "CITYHUB_OPS_WEBHOOK_TIMEOUT_SECONDS": "0.5"}
    env.pop("CITYHUB_DATABASE_URL", None)
    hook_port = free_port()  # the 112 room's dispatch system is down while the incidents arrive
    hook_url = f"http://127.0.0.1:{hook_port}/webhook"
    run = lambda *a: subprocess.run([CLI, *a], env=env, capture_output=True, text=True, check=True)  # noqa: E731
    run("ops", "init-agencies", "--webhook", f"police-112={hook_url}", "--webhook", f"disaster-room={hook_url}")
    token = run("ops", "credentials", "fire-119").stdout.strip()
    port = free_port()
    proc = serve(env, port)
    ids = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10,
                          headers={"Authorization": f"Bearer {token}"}) as c:
            for i in range(10):
                loc = {"lon": SEOMYEON["lon"] + i * 0.01, "lat": SEOMYEON["lat"]}  # ≈ 900 m apart: no duplicates
                r = c.post("/api/v1/ops/incidents", json={"type": "fire", "location": loc})
                assert r.status_code == 201, r.text
                ids.append(r.json()["id"])
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    with Webhook(port=hook_port) as hook:
        proc = serve(env, port)
        try:
            got = hook.wait_for(20, timeout=40)  # 10 incidents × (112 + disaster room) on the same endpoint
            assert len(got) == 20
            keys = [k for _, k in hook.arrivals]
            assert sorted({m["incident"]["id"] for m in got}) == sorted(ids)
            assert {m["agency"] for m in got} == {"police-112", "disaster-room"}
            assert len(set(keys)) == 20  # any re-send carried the same key: 20 distinct messages kept
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)


def test_deliveries_in_flight_at_kill_9_are_taken_over_by_the_next_process(tmp_path):
    # A long webhook timeout: when the server is killed its dispatcher holds every row, leased and sending.
    env = {**os.environ, "CITYHUB_DATA_DIR": str(tmp_path / "data"), "CITYHUB_SECRET_KEY": "t",
           "CITYHUB_OPS_WEBHOOK_TIMEOUT_SECONDS": "60"}
    env.pop("CITYHUB_DATABASE_URL", None)
    run = lambda *a: subprocess.run([CLI, *a], env=env, capture_output=True, text=True, check=True)  # noqa: E731
    hanging = Webhook(mode="hang")
    hook_url = hanging.url
    run("ops", "init-agencies", "--webhook", f"police-112={hook_url}", "--webhook", f"disaster-room={hook_url}")
    token = run("ops", "credentials", "fire-119").stdout.strip()
    port = free_port()
    ids = []
    with hanging:
        proc = serve(env, port)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10,
                              headers={"Authorization": f"Bearer {token}"}) as c:
                for i in range(5):
                    loc = {"lon": SEOMYEON["lon"] + i * 0.01, "lat": SEOMYEON["lat"]}
                    r = c.post("/api/v1/ops/incidents", json={"type": "fire", "location": loc})
                    assert r.status_code == 201, r.text
                    ids.append(r.json()["id"])
            deadline = time.time() + 30  # until the dispatcher is inside a send (the agency hangs)
            while hanging.hits == 0 and time.time() < deadline:
                time.sleep(0.05)
            assert hanging.hits > 0
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    with Webhook(port=hanging.port) as hook:
        proc = serve(env, port)
        try:
            got = hook.wait_for(10, timeout=60)
            assert sorted({m["incident"]["id"] for m in got}) == sorted(ids)
            keys = {k for _, k in hook.arrivals} | {k for _, k in hanging.arrivals}
            assert len(got) == 10 and len(keys) == 10  # one key per (incident, agency), re-sends included
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
