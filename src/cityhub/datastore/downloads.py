"""Streaming exports of a datastore table: CSV (optionally with an Excel BOM), JSON, GeoJSON, Parquet.

Rows are fetched in chunks from a dedicated connection and written out chunk by chunk; nothing holds
the whole table. The connection is opened when streaming starts and closed when it ends.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy.engine import Engine
from sqlalchemy.sql import Select

from cityhub.errors import Invalid

CHUNK_ROWS = 5_000


@dataclass(frozen=True)
class Writer:
    name: str
    extension: str
    media_type: str


WRITERS = {
    "csv": Writer("csv", "csv", "text/csv; charset=utf-8"),
    "csv-bom": Writer("csv-bom", "csv", "text/csv; charset=utf-8"),
    "json": Writer("json", "json", "application/json"),
    "geojson": Writer("geojson", "geojson", "application/geo+json"),
    "parquet": Writer("parquet", "parquet", "application/vnd.apache.parquet"),
}

_ARROW = {"integer": pa.int64(), "number": pa.float64(), "boolean": pa.bool_(), "date": pa.date32(),
          "datetime": pa.timestamp("us"), "text": pa.string(), "geometry": pa.string()}


def writer_for(fmt: str) -> Writer:
    try:
        return WRITERS[fmt.lower()]
    except KeyError:
        raise Invalid.field("format", f"unknown download format {fmt!r} (use {', '.join(WRITERS)})") from None


def _text(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _chunks(engine: Engine, stmt: Select) -> Iterator[list[tuple]]:
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=CHUNK_ROWS).execute(stmt)
        while rows := result.fetchmany(CHUNK_ROWS):
            yield rows


def _csv(chunks: Iterator[list[tuple]], names: list[str], bom: bool) -> Iterator[bytes]:
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\r\n")
    out.writerow(names)
    yield (b"\xef\xbb\xbf" if bom else b"") + buffer.getvalue().encode()
    for rows in chunks:
        buffer.seek(0)
        buffer.truncate()
        out.writerows([_text(v) for v in row] for row in rows)
        yield buffer.getvalue().encode()


def _json(chunks: Iterator[list[tuple]], names: list[str]) -> Iterator[bytes]:
    yield b"["
    first = True
    for rows in chunks:
        body = b",".join(orjson.dumps(dict(zip(names, row, strict=True))) for row in rows)
        if body:
            yield body if first else b"," + body
            first = False
    yield b"]"


def _geojson(chunks: Iterator[list[tuple]], columns: list[tuple[str, str]]) -> Iterator[bytes]:
    names = [n for n, _ in columns]
    geometry_at = next(i for i, (_, t) in enumerate(columns) if t == "geometry")
    yield b'{"type":"FeatureCollection","features":['
    first = True
    for rows in chunks:
        parts = []
        for row in rows:
            props = {n: v for i, (n, v) in enumerate(zip(names, row, strict=True)) if i != geometry_at}
            geometry = row[geometry_at].encode() if row[geometry_at] else b"null"
            parts.append(b'{"type":"Feature","geometry":' + geometry + b',"properties":' + orjson.dumps(props) + b"}")
        if parts:
            body = b",".join(parts)
            yield body if first else b"," + body
            first = False
    yield b"]}"


class _Sink:
    """A write-only file object whose bytes are drained after each row group."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def drain(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


def _arrow_value(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "date" and isinstance(value, str):
        return date.fromisoformat(value)
    if kind == "datetime" and isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


def _parquet(chunks: Iterator[list[tuple]], columns: list[tuple[str, str]]) -> Iterator[bytes]:
    schema = pa.schema([(n, _ARROW[t]) for n, t in columns])
    sink = _Sink()
    with pq.ParquetWriter(sink, schema, compression="zstd") as writer:
        for rows in chunks:
            arrays = [pa.array([_arrow_value(t, row[i]) for row in rows], type=schema.field(i).type)
                      for i, (_, t) in enumerate(columns)]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            yield sink.drain()
    yield sink.drain()


def stream(engine: Engine, stmt: Select, columns: list[tuple[str, str]], writer: Writer) -> Iterator[bytes]:
    """The export's bytes, chunk by chunk."""
    chunks = _chunks(engine, stmt)
    names = [n for n, _ in columns]
    if writer.name in ("csv", "csv-bom"):
        return _csv(chunks, names, bom=writer.name == "csv-bom")
    if writer.name == "json":
        return _json(chunks, names)
    if writer.name == "geojson":
        return _geojson(chunks, columns)
    return _parquet(chunks, columns)
