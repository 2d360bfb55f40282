"""kill -9 during batch upserts: every batch acknowledged before the kill is there after restart, history too
(SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import httpx

from tests.cli_server import CLI, serve
from tests.conftest import free_port
from tests.context.conftest import NGSI, air


def test_acknowledged_batches_survive_kill_9(tmp_path, backend, request):
    env = {**os.environ, "CITYHUB_DATA_DIR": str(tmp_path / "data"), "CITYHUB_SECRET_KEY": "t"}
    env.pop("CITYHUB_DATABASE_URL", None)
    if backend == "postgres":  # a schema of its own, dropped after the test
        from tests.conftest import _pg_schema_url

        env["CITYHUB_DATABASE_URL"] = _pg_schema_url(request.getfixturevalue("pg_schema"))
    run = lambda *a: subprocess.run([CLI, *a], env=env, capture_output=True, text=True, check=True)  # noqa: E731
    run("org", "create", "busan-ctrl", "--title", "관제센터")
    run("user", "create", "ops@city.test", "--role", "operator", "--org", "busan-ctrl")
    token = run("token", "create", "ops@city.test").stdout.strip()
    port = free_port()
    proc = serve(env, port)
    acked: list[str] = []
    stop = threading.Event()

    def writer() -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30,
                          headers={"Authorization": f"Bearer {token}"}) as c:
            for b in range(1000):
                if stop.is_set():
                    return
                batch = [air(b * 500 + i) for i in range(500)]
                try:
                    r = c.post(f"{NGSI}/entityOperations/upsert", json=batch)
                except httpx.HTTPError:
                    return
                if r.status_code in (201, 204):
                    acked.extend(e["id"] for e in batch)

    t = threading.Thread(target=writer)
    t.start()
    deadline = time.time() + 60
    while len(acked) < 1500 and time.time() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)  # mid-batch: the writer is always sending the next one
    proc.wait()
    stop.set()
    t.join(timeout=30)
    assert len(acked) >= 1500
    proc = serve(env, port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
            r = c.get(f"{NGSI}/entities", params={"type": "AirQualityObserved", "count": "true", "limit": 0})
            total = int(r.headers["NGSILD-Results-Count"])
            assert total >= len(acked)
            for eid in (acked[0], acked[len(acked) // 2], acked[-1]):
                assert c.get(f"{NGSI}/entities/{eid}").status_code == 200
            assert total % 500 == 0  # no half-written batch
            # history is written behind the answer: an acknowledged batch's values are history after restart
            r = c.get(f"{NGSI}/temporal/entities/{acked[-1]}", params={"attrs": "pm25"})
            assert r.status_code == 200, r.text
            assert r.json()["pm25"], r.text
    finally:
        proc.terminate()
        proc.wait(timeout=30)
