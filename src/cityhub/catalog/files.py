"""Uploaded files: streamed to disk with a size limit, stored content-addressed by SHA-256."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cityhub.errors import Invalid, LimitExceeded
from cityhub.settings import Settings

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class StoredFile:
    relative_path: str  # under settings.files_dir
    sha256: str
    size: int


def store_upload(settings: Settings, stream: BinaryIO, *, field: str = "upload") -> StoredFile:
    """Copy a stream into the content-addressed store, refusing it once it passes the size limit."""
    settings.ensure_dirs()
    digest = hashlib.sha256()
    size = 0
    fd, tmp_name = tempfile.mkstemp(dir=settings.data_dir / "tmp", prefix="upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > settings.max_upload_bytes:
                    raise LimitExceeded(
                        f"{field}: file is larger than the {settings.max_upload_bytes:,} byte upload limit",
                        details={field: [f"larger than {settings.max_upload_bytes} bytes"]},
                    )
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise Invalid.field(field, "the file is empty")
        sha = digest.hexdigest()
        relative = f"{sha[:2]}/{sha}"
        target = settings.files_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            os.unlink(tmp_name)
        else:
            shutil.move(tmp_name, target)
        return StoredFile(relative_path=relative, sha256=sha, size=size)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise


def absolute(settings: Settings, relative: str | None) -> Path | None:
    return settings.files_dir / relative if relative else None
