"""`cityhub serve` as a real process for the kill -9 tests: started by its CLI, ready when /healthz answers."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

CLI = str(Path(sys.executable).parent / "cityhub")


def serve(env: dict[str, str], port: int, *, workers: int = 1, log: Path | None = None) -> subprocess.Popen:
    """Start `cityhub serve` (its output to `log`, or nowhere) and wait until /healthz answers (60 s at most)."""
    out = open(log, "wb") if log is not None else subprocess.DEVNULL  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen([CLI, "serve", "--port", str(port), "--workers", str(workers)], env=env, stdout=out,
                            stderr=out)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("cityhub serve did not start" + (f"; see {log}" if log is not None else ""))
