"""The big-load worker: `python -m cityhub.datastore.loader`, run by store_sqlite.preload in a process of its own.

ADBC's SQLite driver carries its own copy of SQLite. Two copies in one process must never open the same
database file: POSIX locks are per process, so one copy closing the file drops the other's locks, and a copy
that believes it is the last connection checkpoints and deletes the WAL under the other (committed rows
vanish on restart). In a separate process the locks work as between any two programs.

The job arrives on stdin as JSON: {"database", "arrow" (an Arrow IPC file, memory-mapped), "table",
"ddl", "indexes" (CREATE INDEX statements), "chunk_rows"}. Progress goes to stdout as lines
"rows N" (rows committed so far) and "index I N" (index I of N starting).
"""

from __future__ import annotations

import json
import sys

import pyarrow as pa
import pyarrow.ipc


def run(job: dict) -> None:
    import adbc_driver_sqlite.dbapi as adbc

    with pa.memory_map(job["arrow"]) as source:
        data = pa.ipc.open_file(source).read_all()
    batches = data.to_batches()
    # synchronous stays NORMAL (the database's own setting): this is the shared main file, not a scratch copy.
    with adbc.connect(job["database"], autocommit=True) as loader, loader.cursor() as cursor:
        for pragma in ("busy_timeout=30000", "synchronous=NORMAL", "cache_size=-262144", "temp_store=MEMORY",
                       "threads=2"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.execute(job["ddl"])
        done, chunk, rows = 0, [], 0
        for batch in [*batches, None]:
            if batch is not None:
                chunk.append(batch)
                rows += batch.num_rows
            if chunk and (batch is None or rows >= job["chunk_rows"]):
                # one transaction per call: other writers get the lock between chunks, the WAL stays short
                cursor.adbc_ingest(job["table"], pa.RecordBatchReader.from_batches(data.schema, iter(chunk)),
                                   mode="append")
                done += rows
                chunk, rows = [], 0
                print(f"rows {done}", flush=True)
        for position, statement in enumerate(job["indexes"]):
            print(f"index {position} {len(job['indexes'])}", flush=True)
            cursor.execute(statement)


if __name__ == "__main__":
    run(json.loads(sys.stdin.read()))
