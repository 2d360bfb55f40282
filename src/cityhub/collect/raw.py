"""The raw landing zone: the exact bytes received, gzip-compressed, named by their SHA-256.

Files are written once (to a temp name, then renamed) and never modified; the same payload received
twice is stored once. The database row (RawPayload) records source, run, time and request.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

from sqlalchemy.orm import Session

from cityhub.collect.connectors.base import Payload
from cityhub.collect.models import RawPayload
from cityhub.settings import Settings


def raw_path(settings: Settings, sha256: str) -> Path:
    return settings.raw_dir / sha256[:2] / sha256[2:4] / f"{sha256}.gz"


def store_bytes(settings: Settings, body: bytes) -> str:
    """Write the bytes (once) and return their SHA-256."""
    digest = hashlib.sha256(body).hexdigest()
    target = raw_path(settings, digest)
    if target.exists():
        return digest
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    # compresslevel 3: raw zones grow fast; level 9 costs 5x the CPU for a few percent.
    with open(tmp, "wb") as fh, gzip.GzipFile(fileobj=fh, mode="wb", compresslevel=3, mtime=0) as gz:
        gz.write(body)
    # No fsync: the file must survive a killed process (the page cache does that), and for power
    # loss it is as durable as the database row that references it (SQLite WAL, synchronous=NORMAL).
    os.replace(tmp, target)
    return digest


def land(db: Session, settings: Settings, *, source_id: str, run_id: str, seq: int, payload: Payload,
         outcome: str = "ok") -> RawPayload:
    """Store a payload's bytes and index them; the row commits with the page it belongs to."""
    digest = store_bytes(settings, payload.body)
    row = RawPayload(source_id=source_id, run_id=run_id, seq=seq, sha256=digest, size=len(payload.body),
                     request=payload.request, content_type=payload.content_type, outcome=outcome)
    db.add(row)
    db.flush()
    return row


def read(settings: Settings, sha256: str) -> bytes:
    """The exact bytes once received; verified against their name."""
    body = gzip.decompress(raw_path(settings, sha256).read_bytes())
    if hashlib.sha256(body).hexdigest() != sha256:
        raise ValueError(f"raw payload {sha256} is corrupt")
    return body


def load_payload(settings: Settings, row: RawPayload) -> Payload:
    return Payload(body=read(settings, row.sha256), request=dict(row.request or {}), content_type=row.content_type)
