"""Start-up recovery after a crash or a shutdown that cut work short.

Everything an import writes to the database happens in one transaction, so a process that dies mid-import
(SIGKILL, or SIGTERM past the grace period) leaves no rows: the database rolls the transaction back. Only
the uploaded file outlives it, because uploads are stored (content-addressed) before the transaction commits.
This sweep removes such files once nothing references them and they are old enough that no other worker
can still be importing them.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from cityhub.settings import Settings

log = logging.getLogger("cityhub.recovery")


def _old_enough(path: Path, cutoff: float) -> bool:
    try:
        return path.stat().st_mtime <= cutoff
    except FileNotFoundError:  # another worker swept or promoted it meanwhile
        return False


def sweep_orphan_uploads(settings: Settings, session_factory: Any) -> int:
    """Remove stored uploads no resource references (any state: deleted resources keep theirs for undo) and
    upload temp files, both older than `orphan_upload_min_age_seconds`. Returns how many files went."""
    from cityhub.catalog.models import Resource  # files_dir holds catalog resources' uploads only

    cutoff = time.time() - settings.orphan_upload_min_age_seconds
    candidates = [p for p in settings.files_dir.glob("*/*") if p.is_file() and _old_enough(p, cutoff)]
    removed = 0
    if candidates:
        with session_factory() as db:
            referenced = set(db.scalars(select(Resource.file_path).where(Resource.file_path.is_not(None))))
        for path in candidates:
            if path.relative_to(settings.files_dir).as_posix() not in referenced:
                path.unlink(missing_ok=True)
                removed += 1
    for path in (settings.data_dir / "tmp").glob("upload-*"):
        if _old_enough(path, cutoff):
            path.unlink(missing_ok=True)
            removed += 1
    if removed:
        log.warning("removed uploads left by work that never committed", extra={"files": removed})
    return removed
