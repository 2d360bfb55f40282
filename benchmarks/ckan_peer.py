"""The peer for bench_ckan: the least a package_show can do — a bare FastAPI endpoint that reads one
dataset row from the same SQLite file and returns pre-serialised orjson bytes."""

from __future__ import annotations

import os
import sqlite3
import threading

import orjson
from fastapi import FastAPI
from fastapi.responses import Response

_local = threading.local()


def _conn() -> sqlite3.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = sqlite3.connect(os.environ["CITYHUB_BENCH_DB"], check_same_thread=False)
        conn.row_factory = sqlite3.Row
        _local.conn = conn
    return conn


def create_app() -> FastAPI:
    app = FastAPI()

    @app.get("/ready")
    def ready() -> dict[str, bool]:
        return {"ready": True}

    @app.get("/show")
    def show(id: str) -> Response:  # noqa: A002 - CKAN's parameter name
        row = _conn().execute("SELECT * FROM datasets WHERE id = ? OR name = ?", (id, id)).fetchone()
        return Response(orjson.dumps({"success": True, "result": dict(row)}), media_type="application/json")

    return app
