"""The peer for package_show: a bare FastAPI endpoint reading one SQLite row (no auth, no policy,
no related rows), FastAPI's default dict serialisation. Served by uvicorn with 2 workers in
bench_catalog; BENCH_SQLITE_PATH names the database file."""

from __future__ import annotations

import os
import sqlite3

from fastapi import FastAPI, HTTPException

app = FastAPI()
_conn: sqlite3.Connection | None = None


def _db() -> sqlite3.Connection:
    global _conn
    if _conn is None:
        _conn = sqlite3.connect(os.environ["BENCH_SQLITE_PATH"], check_same_thread=False)
        _conn.row_factory = sqlite3.Row
    return _conn


@app.get("/row")
async def row(name: str) -> dict:
    found = _db().execute("SELECT * FROM datasets WHERE name = ?", (name,)).fetchone()
    if found is None:
        raise HTTPException(404)
    return dict(found)
