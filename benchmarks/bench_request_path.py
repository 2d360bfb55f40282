"""Per-request overhead of the HTTP door (printed, never asserted).

CPU µs per request, the ASGI app driven in process (no sockets: what is left is our door, not uvicorn's
HTTP parsing, which is the same for every app), for:
1. an anonymous GET of a tiny endpoint (one organization by name; the auth door, early in the route list);
2. the same with a bearer token (token lookup, the `token.use` audit entry);
3. an anonymous GET of a door late in the route list (a dashboard that does not exist: 404 problem);
4. an authenticated POST that writes: an operator reports an incident (POST /api/v1/ops/incidents);
and the peer: a bare FastAPI app with one route, in the same run.

Then served for real: a 119 agency's token POSTs incidents to `cityhub serve` (uvicorn, SQLite) on loopback, the
server process's CPU per request read from /proc, beside uvicorn serving a bare FastAPI app the same POST.

CPU is the process's (every thread: sync endpoints run on the thread pool), the quietest of 5 rounds (median
beside it); wall is beside it with the load average, which inflates wall time far more than CPU time.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

N = int(os.environ.get("BENCH_REQUEST_N", "600"))
ROUNDS = 5


class Driver:
    """Runs an ASGI app's lifespan on an event loop and sends it requests without a socket."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self._lifespan_in: asyncio.Queue = asyncio.Queue()
        self._lifespan_out: asyncio.Queue = asyncio.Queue()
        self.state: dict[str, Any] = {}

    def start(self) -> None:
        async def receive() -> dict:
            return await self._lifespan_in.get()

        async def send(message: dict) -> None:
            await self._lifespan_out.put(message)

        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": self.state}
        self._task = self.loop.create_task(self.app(scope, receive, send))
        self._lifespan_in.put_nowait({"type": "lifespan.startup"})
        message = self.loop.run_until_complete(self._lifespan_out.get())
        if message["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"app did not start: {message}")

    def stop(self) -> None:
        self._lifespan_in.put_nowait({"type": "lifespan.shutdown"})
        self.loop.run_until_complete(self._lifespan_out.get())
        self.loop.run_until_complete(self._task)
        self.loop.close()

    async def _call(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        raw_headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        if body:
            raw_headers.append((b"content-length", str(len(body)).encode()))
        path, _, query = path.partition("?")
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
                 "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
                 "root_path": "", "headers": raw_headers, "client": ("127.0.0.1", 50000),
                 "server": ("127.0.0.1", 80), "state": dict(self.state)}
        sent = False
        status = 0
        chunks: list[bytes] = []

        async def receive() -> dict:
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return status, b"".join(chunks)

    def request(self, method: str, path: str, headers: dict[str, str] | None = None,
                body: bytes = b"") -> tuple[int, bytes]:
        return self.loop.run_until_complete(self._call(method, path, headers or {}, body))

    def measure(self, label: str, method: str, path: str, headers: dict[str, str] | None = None,
                body_for: Any = None, expect: int = 200, n: int = N) -> float:
        """CPU µs per request (after a warm-up), printed with wall µs."""
        body = (lambda _i: b"") if body_for is None else body_for
        for i in range(30):
            status, out = self.request(method, path, headers, body(-1 - i))
            if status != expect:
                raise RuntimeError(f"{label}: {method} {path} answered {status}: {out[:300]!r}")

        async def run(first: int, count: int) -> None:
            for i in range(first, first + count):
                await self._call(method, path, headers or {}, body(i))

        # Rounds, and the quietest one reported: on a shared machine other work inflates CPU time too
        # (caches, switches), never deflates it.
        cpus, walls = [], []
        per_round = max(1, n // ROUNDS)
        for r in range(ROUNDS):
            cpu0, wall0 = time.process_time(), time.perf_counter()
            self.loop.run_until_complete(run(r * per_round, per_round))
            cpus.append((time.process_time() - cpu0) / per_round * 1e6)
            walls.append((time.perf_counter() - wall0) / per_round * 1e6)
        cpu, wall = min(cpus), min(walls)
        print(f"  {label:<58} CPU {cpu:6.0f} µs/request (median {sorted(cpus)[ROUNDS // 2]:.0f})"
              f"   wall {wall:6.0f} µs   (n={per_round}×{ROUNDS})", flush=True)
        return cpu


def _peer() -> float:
    from fastapi import FastAPI

    peer = FastAPI()

    @peer.get("/api/v1/organizations/{name}")
    def show(name: str) -> dict:
        return {"name": name, "title": name}

    driver = Driver(peer)
    driver.start()
    try:
        return driver.measure("peer: bare FastAPI, one route (sync def)", "GET", "/api/v1/organizations/dept")
    finally:
        driver.stop()


def _seed(app: Any) -> str:
    """An organization and an operator with an API token, made through the services; returns the token."""
    from cityhub.auth.schemas import OrganizationCreate, UserCreate
    from cityhub.auth.service import create_organization, create_token, create_user
    from cityhub.cli import SYSTEM
    from cityhub.ctx import RequestContext

    with app.state.session_factory() as db:
        ctx = RequestContext(actor=SYSTEM, db=db, settings=app.state.settings, bus=app.state.bus)
        create_organization(ctx, data=OrganizationCreate(name="dept", title="Department", kind="department"))
        user = create_user(ctx, data=UserCreate(email="op@bench.local", role="operator", org="dept"))
        token = create_token(ctx, user_id=user.id, name="bench").token
        db.commit()
    return token


def _ours() -> dict[str, float]:
    import orjson

    from cityhub.app import create_app
    from cityhub.settings import Settings

    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        settings = Settings(data_dir=Path(tmp), secret_key="bench", access_log=False, ops_duplicate_radius_m=1.0)
        app = create_app(settings)
        driver = Driver(app)
        driver.start()
        try:
            token = _seed(app)
            auth = {"authorization": f"Bearer {token}"}
            figures["anon"] = driver.measure("anonymous GET /api/v1/organizations/dept", "GET",
                                             "/api/v1/organizations/dept")
            figures["token"] = driver.measure("bearer-token GET /api/v1/organizations/dept", "GET",
                                              "/api/v1/organizations/dept", auth)
            figures["late"] = driver.measure("anonymous GET late door /api/v1/stats/dashboards/x (404)",
                                             "GET", "/api/v1/stats/dashboards/x", expect=404)

            def incident(i: int) -> bytes:
                return orjson.dumps({"type": "fire", "source_ref": f"bench-{i}",
                                     "location": {"lon": 129.0 + (i % 500) * 0.0004,
                                                  "lat": 35.1 + (i // 500) * 0.0004 + 0.00001 * (i % 7)}})

            figures["post"] = driver.measure("bearer-token POST /api/v1/ops/incidents (writes)", "POST",
                                             "/api/v1/ops/incidents", {**auth, "content-type": "application/json"},
                                             incident, expect=201, n=max(100, N // 3))
        finally:
            driver.stop()
    return figures


# --- served by uvicorn on loopback: the server process's CPU per request ---------------------------------------

CLI = str(Path(sys.executable).parent / "cityhub")
PEER_SERVER = """
import sys, uvicorn
from fastapi import FastAPI
app = FastAPI()
@app.post("/api/v1/ops/incidents", status_code=201)
def report(body: dict) -> dict:
    return {"id": "x", **body}
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_cpu(pid: int) -> float:
    """User + system CPU seconds of a process so far (from /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_up(url: str, proc: Any) -> None:
    import httpx

    for _ in range(300):
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            if proc.poll() is not None:
                raise RuntimeError("server exited") from None
            time.sleep(0.2)
    raise RuntimeError("server did not start")


def _served_posts(label: str, proc: Any, port: int, token: str | None, n: int = 300) -> float:
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}

    def body(i: int) -> dict:
        return {"type": "fire", "source_ref": f"served-{i}",
                "location": {"lon": 129.0 + (i % 400) * 0.0005, "lat": 35.1 + (i // 400) * 0.0005}}

    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30) as client:
        for i in range(20):
            r = client.post("/api/v1/ops/incidents", json=body(10_000 + i))
            if r.status_code != 201:
                raise RuntimeError(f"{label}: {r.status_code} {r.text[:300]}")
        cpu0, wall0 = _server_cpu(proc.pid), time.perf_counter()
        for i in range(n):
            client.post("/api/v1/ops/incidents", json=body(i))
        cpu = (_server_cpu(proc.pid) - cpu0) / n * 1e6
        wall = (time.perf_counter() - wall0) / n * 1e6
    print(f"  {label:<58} server CPU {cpu:6.0f} µs/request   wall {wall:6.0f} µs   (n={n})", flush=True)
    return cpu


def _served() -> None:
    """An agency (119) reports incidents to a real `cityhub serve` (SQLite, no webhooks), and the peer: uvicorn
    serving a bare FastAPI app whose one route takes the same JSON body."""
    import subprocess

    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        env = {**os.environ, "CITYHUB_DATA_DIR": tmp, "CITYHUB_SECRET_KEY": "bench", "CITYHUB_ACCESS_LOG": "false",
               "CITYHUB_OPS_DUPLICATE_RADIUS_M": "1"}
        env.pop("CITYHUB_DATABASE_URL", None)
        subprocess.run([CLI, "ops", "init-agencies"], env=env, capture_output=True, check=True)
        token = subprocess.run([CLI, "ops", "credentials", "fire-119"], env=env, capture_output=True, text=True,
                               check=True).stdout.strip().splitlines()[0].split()[-1]
        port = free_port()
        with open(Path(tmp) / "serve.log", "w") as log:
            proc = subprocess.Popen([CLI, "serve", "--port", str(port)], env=env, stdout=log, stderr=log)
            try:
                _wait_up(f"http://127.0.0.1:{port}/healthz", proc)
                _served_posts("served: agency token POST /api/v1/ops/incidents", proc, port, token)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    port = free_port()
    peer = subprocess.Popen([sys.executable, "-c", PEER_SERVER, str(port)])
    try:
        _wait_up(f"http://127.0.0.1:{port}/docs", peer)
        _served_posts("served peer: uvicorn + bare FastAPI, same POST", peer, port, None)
    finally:
        peer.terminate()
        peer.wait(timeout=30)


def main() -> None:
    import logging

    logging.disable(logging.INFO)  # the access log is off; keep the benchmark's own output readable
    print(f"load average before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    peer = _peer()
    ours = _ours()
    print(f"  token overhead (token − anonymous): {ours['token'] - ours['anon']:.0f} µs CPU; "
          f"ours anonymous / peer: {ours['anon'] / peer:.1f}x")
    _served()
    print(f"load average after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")


if __name__ == "__main__":
    sys.exit(main())
