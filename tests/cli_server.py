"""`cityhub serve` as a real process for the kill -9 tests: started by its CLI, ready when /healthz answers."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

CLI = str(Path(sys.executable).parent / "cityhub")


def serve(env: dict[str, str], port: int) -> subprocess.Popen:
    proc = subprocess.Popen([CLI, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("cityhub serve did not start")
