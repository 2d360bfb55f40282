"""A private Mosquitto broker on a free port (with persistence) that tests may stop and restart.

The system broker on 127.0.0.1:1883 is shared and is never stopped; restarts use this one.
"""

from __future__ import annotations

import getpass
import socket
import subprocess
import time
from pathlib import Path

from tests.fakes.server import free_port


class Mosquitto:
    def __init__(self, workdir: Path, *, max_queued: int = 0, max_inflight: int = 0, sys_interval: int = 10) -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.conf = self.dir / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {self.dir}/\nautosave_interval 1\n"
            f"max_queued_messages {max_queued}\nmax_inflight_messages {max_inflight}\n"
            f"sys_interval {sys_interval}\n"
            f"log_dest file {self.dir}/mosquitto.log\n"
            # Started as root, mosquitto drops to user "mosquitto", who cannot write our temp dir.
            f"user {getpass.getuser()}\n")
        self.proc: subprocess.Popen | None = None

    def start(self) -> Mosquitto:
        self.proc = subprocess.Popen(["/usr/sbin/mosquitto", "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()  # SIGTERM: mosquitto saves its persistence file on the way out
            self.proc.wait(timeout=10)
            self.proc = None

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
