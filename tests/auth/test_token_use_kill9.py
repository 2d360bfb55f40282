"""kill -9 while a client keeps using its token: every token use answered before the kill is in the audit trail
after restart (on SQLite they are written to a file of their own, in the request's transaction)."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import httpx

from tests.cli_server import CLI, serve
from tests.conftest import free_port


def _answered_uses(port: int, token: str, stop: threading.Event, answered: list[str]) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30,
                      headers={"Authorization": f"Bearer {token}"}) as c:
        while not stop.is_set():
            try:
                r = c.get("/api/v1/auth/me")
            except httpx.HTTPError:
                return
            if r.status_code == 200:
                answered.append(r.headers.get("x-request-id", ""))


def test_token_uses_answered_before_kill_9_are_audited(tmp_path) -> None:  # noqa: ANN001
    env = {**os.environ, "CITYHUB_DATA_DIR": str(tmp_path / "data"), "CITYHUB_SECRET_KEY": "t"}
    env.pop("CITYHUB_DATABASE_URL", None)
    run = lambda *a: subprocess.run([CLI, *a], env=env, capture_output=True, text=True, check=True)  # noqa: E731
    run("user", "create", "reader@city.test", "--role", "citizen")
    token = run("token", "create", "reader@city.test").stdout.strip()
    port = free_port()
    proc = serve(env, port)
    answered: list[str] = []
    stop = threading.Event()
    t = threading.Thread(target=_answered_uses, args=(port, token, stop, answered))
    t.start()
    deadline = time.time() + 60
    while len(answered) < 50 and time.time() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)  # mid-request: the client always has the next one in flight
    proc.wait()
    stop.set()
    t.join(timeout=30)
    assert len(answered) >= 50
    from cityhub.db import make_engine, make_session_factory
    from cityhub.governance import audit
    from cityhub.settings import Settings

    engine = make_engine(Settings(data_dir=tmp_path / "data", secret_key="t"))
    try:
        with make_session_factory(engine)() as db:
            rows, total = audit.query_entries(db, action="token.use", actor="reader@city.test", limit=100_000)
    finally:
        engine.dispose()
    assert total >= len(answered)
    recorded = {r.request_id for r in rows}
    assert all(rid in recorded for rid in answered if rid)  # each answered request by its id
