"""What one dataset change was, taken inside the change's own transaction.

The background recorder (version_outbox) may reach a change after later ones were committed; if it read
the dataset as it then stood, two changes would share one version. So the changing transaction itself
keeps, in its outbox row: the metadata as committed, each resource's manifest line and, for every
resource whose rows this transaction touched, where those rows are kept. A table with a delta generation
(every uploaded or imported table from its load, every fed table from its first upsert: version_delta)
is kept by a pointer (generation, change) at no cost: its later changes keep their before-images and a
replace renames it away. Any other table gets today's in-engine copy (`CREATE TABLE … AS SELECT`: no
row through Python); it commits or vanishes with the change, also across kill -9. For a big table that
copy is the version's copy; small tables' rows become the version's CSV snapshot in the recorder.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityhub.catalog.schemas import DatasetPublic
from cityhub.governance import version_delta

COPY_PREFIX = version_delta.COPY_PREFIX
CHANGED = "gov_versions_changed"  # dataset ids changed by this transaction
ROWS_CHANGED = "gov_versions_rows"  # resource ids whose rows this transaction touched
VERSIONED = "gov_versions_made"  # datasets versioned synchronously in this transaction (a roll-back)
# A resource edit touching only these is a metadata edit: its rows are not copied again.
RESOURCE_META_ATTRS = frozenset({"name", "description", "format", "mimetype", "url", "position", "modified_at"})


def note_flush(session: Session) -> None:
    """After each flush: which datasets changed, and which resources' rows (history is still readable)."""
    changed = session.info.setdefault(CHANGED, set())
    for obj in (*session.new, *session.dirty, *session.deleted):
        table = getattr(type(obj), "__tablename__", None)
        if table == "datasets" and getattr(obj, "id", None):
            if obj in session.dirty and obj not in session.new and _only_counted(obj):
                continue  # a page view: nothing a version keeps
            changed.add(obj.id)
        elif table == "resources" and getattr(obj, "dataset_id", None):
            if obj in session.new or obj in session.deleted:
                rows = True
            else:
                moved = {a.key for a in sa.inspect(obj).attrs if a.history.has_changes()}
                if not moved:
                    continue
                # a write that only stamped modified_at (same row count) still changed rows
                rows = bool(moved - RESOURCE_META_ATTRS) or moved == {"modified_at"}
            changed.add(obj.dataset_id)
            if rows:
                session.info.setdefault(ROWS_CHANGED, set()).add(obj.id)


def _only_counted(obj: object) -> bool:
    moved = {a.key for a in sa.inspect(obj).attrs if a.history.has_changes()}
    return moved <= {"view_count"}


def new_copy_name() -> str:
    return COPY_PREFIX + uuid.uuid4().hex[:24]


def _copy_rows(session: Session, resource_id: str) -> tuple[str | None, list[dict[str, Any]] | None]:
    from cityhub.datastore.models import DatastoreTable

    meta = session.get(DatastoreTable, resource_id)
    if meta is None:
        return None, None
    if version_delta.pointer(session.connection(), meta.table_name) is not None:
        return None, list(meta.fields or [])  # kept by deltas (see capture): no copy
    # Any other row write (a table without a delta generation, e.g. one rewritten in place by a roll-back
    # of an old full copy) keeps today's full copy: correct, not cheap.
    name = new_copy_name()
    session.connection().exec_driver_sql(f'CREATE TABLE "{name}" AS SELECT * FROM "{meta.table_name}"')
    return name, list(meta.fields or [])


def _pointer(session: Session, resource_id: str) -> dict[str, Any] | None:
    from cityhub.datastore.models import DatastoreTable

    meta = session.get(DatastoreTable, resource_id)
    return version_delta.pointer(session.connection(), meta.table_name) if meta is not None else None


def _meta(session: Session, ds: Any) -> dict[str, Any]:
    from cityhub.catalog.models import DatasetKeyword
    from cityhub.governance.versions import meta_of

    public = DatasetPublic.model_validate(ds)
    public.keywords = list(session.scalars(select(DatasetKeyword.keyword).where(DatasetKeyword.dataset_id == ds.id)
                                           .order_by(DatasetKeyword.keyword)))
    return meta_of(public)


def capture(session: Session, dataset_id: str, rows_changed: set[str]) -> dict[str, Any]:
    """The change as this transaction leaves it (called just before commit, after the last flush)."""
    from cityhub.catalog.models import Dataset, Resource
    from cityhub.governance.audit import ACTOR

    ds = session.get(Dataset, dataset_id)
    if ds is None:
        return {"deleted": True}
    actor = (session.info.get(ACTOR) or (None,))[0]
    entries = []
    for res in session.scalars(select(Resource).where(Resource.dataset_id == dataset_id, Resource.state == "active")
                               .order_by(Resource.position, Resource.created_at)):
        entry = {"resource_id": res.id, "name": res.name, "format": res.format, "sha256": res.sha256,
                 "row_count": res.row_count, "datastore": res.datastore_active,
                 "modified_at": res.modified_at.isoformat()}
        if res.id in rows_changed and res.datastore_active:
            entry["copy"], entry["fields"] = _copy_rows(session, res.id)
            if entry["copy"] is None:
                entry["delta"] = _pointer(session, res.id)
        entries.append(entry)
    return {"meta": _meta(session, ds), "resources": entries,
            "actor": getattr(actor, "user_id", None) if actor is not None else None}


def drop_copy(session: Session, name: str) -> None:
    if name.startswith(COPY_PREFIX):
        session.connection().exec_driver_sql(f'DROP TABLE IF EXISTS "{name}"')
