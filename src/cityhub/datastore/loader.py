"""The big-load worker: `python -m cityhub.datastore.loader`, run by store_sqlite in a process of its own,
and `LoaderProcess`, the side of it our process holds.

ADBC's SQLite driver carries its own copy of SQLite. Two copies in one process must never open the same
database file: POSIX locks are per process, so one copy closing the file drops the other's locks, and a copy
that believes it is the last connection checkpoints and deletes the WAL under the other (committed rows
vanish on restart). In a separate process the locks work as between any two programs.

The job arrives on stdin: a JSON line {"database", "table", "ddl", "chunk_rows"}, then an Arrow IPC stream
of the rows, then a JSON line {"indexes": [CREATE INDEX statements]}. The rows stream while our process is
still typing later batches, so parsing, typing and SQLite's inserts run side by side on two cores. Progress
goes to stdout as lines "rows N" (rows committed so far) and "index I N" (index I of N starting). Our
process dying closes stdin: the loader stops, its uncommitted chunk rolls back, and the start-up sweep drops
the `_loading_` table.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator

import pyarrow as pa
import pyarrow.ipc

_F_SETPIPE_SZ = 1031  # Linux: a bigger pipe means fewer switches between writer and loader
PIPE_BYTES = 1 << 20


class LoaderProcess:
    """A loader process, started early (its imports take a few hundred milliseconds) and fed batches from a
    writer thread, so typing the next batch overlaps SQLite inserting the last one."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "cityhub.datastore.loader"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        with contextlib.suppress(OSError):
            fcntl.fcntl(self.proc.stdin.fileno(), _F_SETPIPE_SZ, PIPE_BYTES)
        self._queue: queue.Queue = queue.Queue(maxsize=3)
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    @property
    def started(self) -> bool:
        return self._thread is not None

    def start(self, job: dict, schema: pa.Schema) -> None:
        """Send the job and open the row stream (the loader creates the table now)."""
        self.proc.stdin.write(json.dumps(job).encode() + b"\n")
        self._thread = threading.Thread(target=self._write, args=(schema,), name="datastore-loader-feed",
                                        daemon=True)
        self._thread.start()

    def _write(self, schema: pa.Schema) -> None:
        ended = False
        try:
            with pa.ipc.new_stream(self.proc.stdin, schema) as stream:
                while (batch := self._queue.get()) is not None:
                    stream.write_batch(batch)
                ended = True
        except BaseException as exc:  # noqa: BLE001 — reported by send/finish in the caller's thread
            self._failure = exc
            while not ended and self._queue.get() is not None:  # let a blocked sender finish
                pass

    def send(self, batch: pa.RecordBatch) -> None:
        self._check()
        self._queue.put(batch)

    def _check(self) -> None:
        if self._failure is not None:
            raise RuntimeError(f"the datastore loader failed: {self._error() or self._failure}")

    def _error(self) -> str:
        with contextlib.suppress(Exception):
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(timeout=5)
            lines = self.proc.stderr.read().decode(errors="replace").strip().splitlines()
            return lines[-1] if lines else f"exit {self.proc.returncode}"
        return ""

    def finish(self, indexes: list[str], indexing: Callable[[int, int], None] | None = None) -> None:
        """End the stream, have the indexes built, and wait until everything is committed."""
        self._queue.put(None)
        self._thread.join()
        self._check()
        try:
            self.proc.stdin.write(json.dumps({"indexes": indexes}).encode() + b"\n")
            self.proc.stdin.close()
        except OSError:
            pass  # it died: its exit status tells why
        for line in self.proc.stdout:
            word, *numbers = line.split()
            if word == b"index" and indexing:
                indexing(int(numbers[0]), int(numbers[1]))
        error = self.proc.stderr.read().decode(errors="replace").strip().splitlines()
        if self.proc.wait() != 0:
            raise RuntimeError(f"the datastore loader failed: {error[-1] if error else self.proc.returncode}")

    def stop(self) -> None:
        """Stop an unfinished loader (its uncommitted chunk rolls back; its table is dropped by the caller)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=5)
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            with contextlib.suppress(OSError):
                pipe.close()


def _next(stream: pa.ipc.RecordBatchStreamReader) -> pa.RecordBatch | None:
    try:
        return stream.read_next_batch()
    except StopIteration:
        return None


def _ingest(cursor, table: str, stream: pa.ipc.RecordBatchStreamReader, chunk_rows: int) -> None:  # noqa: ANN001
    """Insert the stream in transactions of about `chunk_rows` rows, each batch as soon as it arrives.

    Why lazily: ADBC pulls the next batch from the pipe only when it has inserted the last, so SQLite
    inserts batch k while our parent types batch k+1. Collecting a whole chunk before inserting it left
    each side idle half the time (the parent's queue and the pipe hold only a few batches): on 10M rows
    the loader waited on the pipe for about as long as it inserted.
    """
    done, pending = 0, _next(stream)
    while pending is not None:  # one transaction per call: other writers get the lock between chunks
        taken = 0

        def chunk() -> Iterator[pa.RecordBatch]:
            nonlocal pending, taken
            while pending is not None and taken < chunk_rows:
                batch, pending = pending, None
                taken += batch.num_rows
                yield batch
                pending = _next(stream)  # read when ADBC asks for more: the last one is inserted by then

        cursor.adbc_ingest(table, pa.RecordBatchReader.from_batches(stream.schema, chunk()), mode="append")
        done += taken
        print(f"rows {done}", flush=True)


def run(source) -> None:  # noqa: ANN001 — a binary stream (stdin)
    import adbc_driver_sqlite.dbapi as adbc  # imported while the parent still parses the file

    line = source.readline()
    if not line:  # our parent stopped before sending a job (the file was small after all)
        return
    job = json.loads(line)

    # synchronous stays NORMAL (the database's own setting): this is the shared main file, not a scratch copy.
    with adbc.connect(job["database"], autocommit=True) as loader, loader.cursor() as cursor:
        for pragma in ("busy_timeout=30000", "synchronous=NORMAL", "cache_size=-262144", "temp_store=MEMORY",
                       "threads=2"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.execute(job["ddl"])
        _ingest(cursor, job["table"], pa.ipc.open_stream(source), job["chunk_rows"])
        indexes = json.loads(source.readline() or b'{"indexes": []}')["indexes"]
        for position, statement in enumerate(indexes):
            print(f"index {position} {len(indexes)}", flush=True)
            cursor.execute(statement)


if __name__ == "__main__":
    run(sys.stdin.buffer)
