"""Dataset versions: every change to a dataset's metadata or rows makes a version with a diff summary.

A version keeps the dataset's metadata and a manifest of its resources: file sha256, row count and, for
tables up to SNAPSHOT_ROW_CAP rows, a CSV snapshot stored content-addressed under data_dir/versions (an
unchanged table costs no new file); larger tables are copied inside the datastore engine (`table_copy`),
and rolled back from that copy with one INSERT … SELECT. Diffs compare snapshots row by row, keyed by the
schema's primary key (or a first column unique in both versions) so edited rows count as changed, not
added+removed; copies are compared inside the engine (EXCEPT both ways).
A steward's roll-back restores metadata and rows and is itself a new version.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy import func, select

from cityhub.auth import policy
from cityhub.catalog import service as catalog
from cityhub.catalog.schemas import DatasetPublic, DatasetUpdate
from cityhub.ctx import RequestContext
from cityhub.errors import Conflict, NotFound
from cityhub.governance import version_capture, version_delta, version_outbox
from cityhub.governance.models import DatasetSchema
from cityhub.governance.models_market import DatasetVersion
from cityhub.governance.version_diff import diff_rows

log = logging.getLogger("cityhub.governance")
SNAPSHOT_ROW_CAP = 200_000
# Larger tables keep their versions as copies inside the datastore engine, named by this prefix.
COPY_PREFIX = version_capture.COPY_PREFIX
# Metadata a version records and a roll-back restores (the owner organization is never moved back).
META_FIELDS = tuple(f for f in DatasetUpdate.model_fields if f not in ("owner_org",))


class VersionPruned(Conflict):
    """The version's row copies were removed by the retention rule: listed, but not restorable."""

    status_code = 410
    code = "gone"


class VersionPublic(BaseModel):
    number: int
    trigger: str
    actor_user_id: str | None
    created_at: Any
    diff: dict[str, Any]
    restored_from: int | None = None
    meta: dict[str, Any] | None = None
    resources: list[dict[str, Any]] | None = None
    restorable: bool = True
    pruned_at: Any = None


def _public(v: DatasetVersion, full: bool = False) -> VersionPublic:
    return VersionPublic(number=v.number, trigger=v.trigger, actor_user_id=v.actor_user_id, created_at=v.created_at,
                         diff=v.diff, restored_from=v.restored_from, meta=v.meta if full else None,
                         resources=v.resources if full else None, restorable=v.pruned_at is None,
                         pruned_at=v.pruned_at)


def snapshot_path(ctx: RequestContext, sha: str) -> Path:
    return Path(ctx.settings.data_dir) / "versions" / sha[:2] / f"{sha}.csv"


def meta_of(ds: DatasetPublic) -> dict[str, Any]:
    data = ds.model_dump(mode="json")
    return {f: data.get(f) for f in META_FIELDS if f in data}


def _copy_name(resource_id: str, modified_at: str, row_count: int | None) -> str:
    return COPY_PREFIX + hashlib.sha1(f"{resource_id}|{modified_at}|{row_count}".encode()).hexdigest()[:24]


def _table_name(ctx: RequestContext, resource_id: str) -> str:
    from cityhub.datastore.models import DatastoreTable

    meta = ctx.db.get(DatastoreTable, resource_id)
    if meta is None:
        raise NotFound(f"resource {resource_id!r} has no datastore table")
    return meta.table_name


def _copy_table(ctx: RequestContext, resource_id: str, name: str) -> str:
    """Keep a large table's rows as a copy inside the datastore engine (one CREATE TABLE … AS SELECT,
    no rows through Python): a CSV export and re-import of millions of rows is what made roll-back of
    big tables impractical."""
    conn = ctx.db.connection()
    if not sa.inspect(conn).has_table(name):
        source = _table_name(ctx, resource_id)
        conn.exec_driver_sql(f'CREATE TABLE "{name}" AS SELECT * FROM "{source}"')
    return name


def _store_csv(ctx: RequestContext, chunks: Any) -> str:
    """Write CSV chunks to a content-addressed snapshot file; returns its sha256."""
    root = Path(ctx.settings.data_dir) / "versions"
    root.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=root, suffix=".part")
    with os.fdopen(fd, "wb") as out:
        for chunk in chunks:
            digest.update(chunk)
            out.write(chunk)
    sha = digest.hexdigest()
    final = snapshot_path(ctx, sha)
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        os.unlink(tmp)
    else:
        os.replace(tmp, final)
    return sha


def _export_rows(ctx: RequestContext, resource_id: str) -> str | None:
    """Write the live table's rows (without _id) to a content-addressed CSV; returns its sha256."""
    from cityhub.datastore import service as datastore

    info = datastore.info(ctx, resource_id=resource_id)
    if info.row_count > SNAPSHOT_ROW_CAP:
        return None
    names = [f["id"] for f in info.fields if f["id"] != "_id"]
    download = datastore.stream_download(ctx, resource_id=resource_id, fmt="csv", fields=names, sort="_id")
    return _store_csv(ctx, download.chunks)


def _export_copy(ctx: RequestContext, copy: str, fields: list[dict[str, Any]]) -> str:
    """A change's committed row copy as a CSV snapshot, written as the datastore's CSV download writes
    the live table (same value forms, so snapshots of both kinds compare row by row)."""
    from cityhub.datastore import downloads
    from cityhub.datastore.tables import table_for

    engine = ctx.db.get_bind()
    table = table_for(copy, fields, sqlite=engine.dialect.name == "sqlite")
    columns = [(f["id"], f["type"]) for f in fields if f["id"] != "_id"]
    stmt = select(*(table.c[n] for n, _ in columns)).order_by(table.c["_id"])
    return _store_csv(ctx, downloads.stream(engine, stmt, columns, downloads.writer_for("csv")))


def _manifest(ctx: RequestContext, ds: DatasetPublic, prev: DatasetVersion | None) -> list[dict[str, Any]]:
    before = {r["resource_id"]: r for r in (prev.resources if prev else [])}
    entries = []
    for res in ds.resources:
        entry = {"resource_id": res.id, "name": res.name, "format": res.format, "sha256": res.sha256,
                 "row_count": res.row_count, "datastore": res.datastore_active, "snapshot": None,
                 "modified_at": res.modified_at.isoformat()}
        old = before.get(res.id)
        untouched = old and all(old.get(k) == entry[k] for k in ("modified_at", "row_count", "sha256"))
        if untouched and (old.get("snapshot") or old.get("table_copy")):
            # rows untouched since (a metadata edit): no re-export
            entry["snapshot"], entry["table_copy"] = old.get("snapshot"), old.get("table_copy")
        elif res.datastore_active:
            try:
                if (res.row_count or 0) > SNAPSHOT_ROW_CAP:
                    entry["table_copy"] = _copy_table(ctx, res.id, _copy_name(res.id, entry["modified_at"],
                                                                            res.row_count))
                else:
                    entry["snapshot"] = _export_rows(ctx, res.id)
            except Exception:  # a table that cannot be read still gets a version (count and sha only)
                log.exception("could not snapshot a table", extra={"resource": res.id})
        entries.append(entry)
    return entries


def _read_rows(ctx: RequestContext, sha: str | None) -> tuple[list[str], list[tuple[str, ...]]] | None:
    if not sha or not snapshot_path(ctx, sha).exists():
        return None
    with snapshot_path(ctx, sha).open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        return header, [tuple(r) for r in reader]


def _batch_counts(ctx: RequestContext, old: dict[str, Any], entry: dict[str, Any]) -> dict[str, int]:
    try:
        added, changed = version_delta.counts_since(ctx.db.connection(), entry["table_delta"],
                                                    old["table_delta"]["change"])
    except LookupError:  # the generation was pruned: row counts only
        return _count_diff(old, entry)
    return {"rows_added": added, "rows_changed": changed, "rows_removed": 0}


def _source(entry: dict[str, Any]) -> dict[str, Any] | str | None:
    """Where a version's rows lie in the engine: a copy's name or a delta pointer. A version holding a
    CSV snapshot is read from that (retention prunes the deltas such versions no longer need)."""
    return entry.get("table_copy") or (entry.get("table_delta") if not entry.get("snapshot") else None)


def _engine(entry: dict[str, Any]) -> dict[str, Any] | str | None:
    """A version's rows in the engine for a diff against the next version (retention keeps the newest
    version's deltas, snapshot or not)."""
    return entry.get("table_copy") or entry.get("table_delta")


def _rows_sql(ctx: RequestContext, source: dict[str, Any] | str) -> tuple[str, list[str]]:
    conn = ctx.db.connection()
    if isinstance(source, dict):
        return version_delta.select_sql(conn, source)
    return f'SELECT * FROM "{source}"', [c["name"] for c in sa.inspect(conn).get_columns(source)]


def _diff_copies(ctx: RequestContext, old: dict[str, Any] | str, new: dict[str, Any] | str) -> dict[str, int]:
    """Rows added and removed between two versions' in-engine rows, copies or delta pointers (row ids
    left out: a reload renumbers them)."""
    conn = ctx.db.connection()
    (old_sql, old_cols), (new_sql, new_cols) = _rows_sql(ctx, old), _rows_sql(ctx, new)
    cols = [c for c in new_cols if c != "_id"]
    if cols != [c for c in old_cols if c != "_id"]:
        count = lambda q: int(conn.exec_driver_sql(f"SELECT count(*) FROM ({q}) AS c").scalar_one())  # noqa: E731
        return {"rows_added": count(new_sql), "rows_changed": 0, "rows_removed": count(old_sql)}
    names = ", ".join(f'"{c}"' for c in cols)

    def only_in(a: str, b: str) -> int:
        sql = (f"SELECT count(*) FROM (SELECT {names} FROM ({a}) AS a EXCEPT "
               f"SELECT {names} FROM ({b}) AS b) AS d")
        return int(conn.exec_driver_sql(sql).scalar_one())

    return {"rows_added": only_in(new_sql, old_sql), "rows_changed": 0, "rows_removed": only_in(old_sql, new_sql)}


def _count_diff(old: dict[str, Any] | None, entry: dict[str, Any]) -> dict[str, int]:
    delta = (entry.get("row_count") or 0) - ((old or {}).get("row_count") or 0)
    return {"rows_added": max(delta, 0), "rows_changed": 0, "rows_removed": max(-delta, 0)}


def refine_diff(ctx: RequestContext, *, dataset_id: str, number: int) -> None:
    """Replace a roll-back version's row-count diff with the exact one (background recorder): comparing
    two big copies in the engine costs several times the restore itself, so the roll-back does not wait."""
    version = _version(ctx, dataset_id, number)
    prev = ctx.db.scalar(select(DatasetVersion).where(DatasetVersion.dataset_id == dataset_id,
                                                      DatasetVersion.number < number)
                         .order_by(DatasetVersion.number.desc()).limit(1))
    copies = [r["table_copy"] for r in [*version.resources, *(prev.resources if prev else [])] if r.get("table_copy")]
    if not all(sa.inspect(ctx.db.connection()).has_table(c) for c in copies):
        return  # pruned since: the count-based summary stays
    try:
        version.diff = _diff(ctx, dataset_id, prev, version.meta, version.resources)
    except LookupError:
        return  # a generation pruned since: the count-based summary stays
    ctx.db.flush()


def _diff(ctx: RequestContext, dataset_id: str, prev: DatasetVersion | None, meta: dict[str, Any],
          resources: list[dict[str, Any]], *, exact: bool = True) -> dict[str, Any]:
    """The diff summary; with exact=False two big tables' copies are compared by row count only (the
    in-engine comparison is left to the background: see `refine_diff`)."""
    schema = ctx.db.get(DatasetSchema, dataset_id)
    primary = (schema.table_schema or {}).get("primaryKey") if schema else None
    primary = [primary] if isinstance(primary, str) else list(primary or [])
    before = {r["resource_id"]: r for r in (prev.resources if prev else [])}
    totals = {"rows_added": 0, "rows_changed": 0, "rows_removed": 0}
    per_resource = {}
    for entry in resources:
        old = before.get(entry["resource_id"])
        if old and old.get("snapshot") == entry.get("snapshot") and old.get("row_count") == entry.get("row_count") \
                and old.get("table_copy") == entry.get("table_copy") \
                and old.get("table_delta") == entry.get("table_delta"):
            continue
        if _same_generation(old, entry):  # fed batches since the last version: their upserts' counts
            d = _batch_counts(ctx, old, entry)
        elif old and _engine(old) and _engine(entry) and not (old.get("snapshot") and entry.get("snapshot")):
            d = _diff_copies(ctx, _engine(old), _engine(entry)) if exact else _count_diff(old, entry)
        elif entry.get("snapshot") is None or (old is not None and old.get("snapshot") is None):
            d = _count_diff(old, entry)  # one side has no CSV (a table crossing the cap): counts only
        else:
            d = diff_rows(_read_rows(ctx, old.get("snapshot")) if old else None,
                          _read_rows(ctx, entry.get("snapshot")), primary)
        per_resource[entry["resource_id"]] = d
        for k in totals:
            totals[k] += d[k]
    now_ids = {r["resource_id"] for r in resources}
    for rid, old in before.items():
        if rid not in now_ids:
            totals["rows_removed"] += old.get("row_count") or 0
    old_meta = prev.meta if prev else {}
    fields = sorted(k for k in meta if meta.get(k) != old_meta.get(k)) if prev else []
    return {**totals, "metadata_changed": fields,
            "metadata_values": {k: {"before": old_meta.get(k), "after": meta.get(k)} for k in fields},
            "resources_added": sorted(now_ids - before.keys()) if prev else sorted(now_ids),
            "resources_removed": sorted(before.keys() - now_ids), "per_resource": per_resource}


def latest(ctx: RequestContext, dataset_id: str) -> DatasetVersion | None:
    return ctx.db.scalar(select(DatasetVersion).where(DatasetVersion.dataset_id == dataset_id)
                         .order_by(DatasetVersion.number.desc()).limit(1))


def _changed(diff: dict[str, Any]) -> bool:
    return bool(diff["rows_added"] or diff["rows_changed"] or diff["rows_removed"] or diff["metadata_changed"]
                or diff["resources_added"] or diff["resources_removed"] or diff["per_resource"])


def _add(ctx: RequestContext, dataset_id: str, prev: DatasetVersion | None, *, trigger: str,
         meta: dict[str, Any], resources: list[dict[str, Any]], diff: dict[str, Any],
         restored_from: int | None = None) -> DatasetVersion:
    version = DatasetVersion(dataset_id=dataset_id, number=(prev.number + 1) if prev else 1, trigger=trigger,
                             actor_user_id=ctx.actor.user_id if ctx.actor.user_id != "system" else None,
                             meta=meta, resources=resources, diff=diff, restored_from=restored_from)
    ctx.db.add(version)
    ctx.db.flush()
    ctx.publish("dataset.versioned", {"id": dataset_id, "number": version.number, "trigger": trigger})
    return version


def record_version(ctx: RequestContext, *, dataset_id: str, actor_user_id: str | None = None) -> int | None:
    """Make a version when the dataset's metadata or rows differ from its latest version (bus subscriber).

    Returns the new version number, or None when nothing changed."""
    ds = catalog.get_dataset(ctx, id_or_name=dataset_id)
    prev = latest(ctx, ds.id)
    meta = meta_of(ds)
    resources = _manifest(ctx, ds, prev)
    diff = _diff(ctx, ds.id, prev, meta, resources)
    if prev is not None and not _changed(diff):
        return None
    rows_moved = diff["rows_added"] or diff["rows_changed"] or diff["rows_removed"] or diff["per_resource"]
    trigger = "created" if prev is None else ("rows" if rows_moved or diff["resources_added"]
                                              or diff["resources_removed"] else "metadata")
    version = _add(ctx, ds.id, prev, trigger=trigger, meta=meta, resources=resources, diff=diff)
    if actor_user_id:
        version.actor_user_id = actor_user_id
    return version.number


def _entry(ctx: RequestContext, captured: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
    """A version's manifest line from a change's capture: a small table's row copy becomes a CSV
    snapshot, a big table's copy is kept as the version's copy, untouched rows reuse the last version's."""
    keys = ("resource_id", "name", "format", "sha256", "row_count", "datastore", "modified_at")
    entry: dict[str, Any] = {k: captured.get(k) for k in keys}
    entry["snapshot"] = None
    copy = captured.get("copy")
    if captured.get("delta") and not copy:
        return _delta_entry(ctx, entry, captured, old)
    if copy and (captured.get("row_count") or 0) > SNAPSHOT_ROW_CAP:
        entry["table_copy"] = copy
    elif copy:
        try:
            entry["snapshot"] = _export_copy(ctx, copy, captured.get("fields") or [])
        except Exception:  # a copy that cannot be read still gets a version (count and sha only)
            log.exception("could not snapshot a change's rows", extra={"resource": entry["resource_id"]})
    elif old:  # rows not touched by this change
        entry["snapshot"], entry["table_copy"] = old.get("snapshot"), old.get("table_copy")
        if old.get("table_delta"):
            entry["table_delta"] = old["table_delta"]
    return entry


def _same_generation(old: dict[str, Any] | None, entry: dict[str, Any]) -> bool:
    """The entry's rows are the old entry's plus later fed batches of the same table generation."""
    a, b = (old or {}).get("table_delta"), entry.get("table_delta")
    return bool(a and b and a["gen"] == b["gen"] and a["table"] == b["table"] and b["change"] >= a["change"])


def _delta_entry(ctx: RequestContext, entry: dict[str, Any], captured: dict[str, Any],
                 old: dict[str, Any] | None) -> dict[str, Any]:
    """A change kept by a delta pointer: no copy. A small table's freshly loaded rows (a new generation)
    also get a CSV snapshot, so uploads keep their keyed row diff; a fed batch's diff comes from its
    counts, so the recorder never reads the whole table for it."""
    entry["table_delta"] = captured["delta"]
    if (captured.get("row_count") or 0) <= SNAPSHOT_ROW_CAP and not _same_generation(old, entry):
        try:
            entry["snapshot"] = _export_delta(ctx, captured["delta"], captured.get("fields") or [])
        except Exception:  # a version still gets made (count and sha only)
            log.exception("could not snapshot a change's rows", extra={"resource": entry["resource_id"]})
    return entry


def _export_delta(ctx: RequestContext, ptr: dict[str, Any], fields: list[dict[str, Any]]) -> str:
    """A delta-kept version's rows as a CSV snapshot, in the live download's value forms."""
    from cityhub.datastore import downloads
    from cityhub.datastore.tables import new_table

    conn = ctx.db.connection()
    sql, names = version_delta.select_sql(conn, ptr)
    columns = [(f["id"], f["type"]) for f in fields if f["id"] != "_id"]
    shape = new_table("_version_rows", fields, sqlite=conn.dialect.name == "sqlite")
    rows = sa.text(sql).columns(*(shape.c[n] if n in shape.c else sa.column(n) for n in names)).subquery()
    stmt = select(*(rows.c[n] for n, _ in columns)).order_by(rows.c["_id"])
    return _store_csv(ctx, downloads.stream(ctx.db.get_bind(), stmt, columns, downloads.writer_for("csv")))


def record_change(ctx: RequestContext, *, dataset_id: str, capture: dict[str, Any]) -> int | None:
    """Make the version of one committed change from what its own transaction captured (background
    recorder), so each change gets its own version and diff whenever it is recorded.

    Returns the new version number, or None when the change left metadata and rows as they were."""
    prev = latest(ctx, dataset_id)
    before = {r["resource_id"]: r for r in (prev.resources if prev else [])}
    resources = [_entry(ctx, c, before.get(c["resource_id"])) for c in capture["resources"]]
    diff = _diff(ctx, dataset_id, prev, capture["meta"], resources)
    kept = {e.get("table_copy") for e in resources}
    made = prev is None or _changed(diff)
    for c in capture["resources"]:  # small tables' copies became snapshots; an unchanged big copy is spare
        if c.get("copy") and (not made or c["copy"] not in kept):
            version_capture.drop_copy(ctx.db, c["copy"])
    if not made:
        return None
    rows_moved = diff["rows_added"] or diff["rows_changed"] or diff["rows_removed"] or diff["per_resource"]
    trigger = "created" if prev is None else ("rows" if rows_moved or diff["resources_added"]
                                              or diff["resources_removed"] else "metadata")
    version = _add(ctx, dataset_id, prev, trigger=trigger, meta=capture["meta"], resources=resources, diff=diff)
    if capture.get("actor") and capture["actor"] != "system":
        version.actor_user_id = capture["actor"]
    return version.number


def _version(ctx: RequestContext, dataset_id: str, number: int) -> DatasetVersion:
    found = ctx.db.scalar(select(DatasetVersion).where(DatasetVersion.dataset_id == dataset_id,
                                                       DatasetVersion.number == number))
    if found is None:
        raise NotFound(f"version {number} not found")
    return found


def list_versions(ctx: RequestContext, *, dataset: str, limit: int = 100, offset: int = 0) -> tuple[list, int]:
    """A dataset's versions, newest first, with their diff summaries."""
    ref = catalog.get_dataset_ref(ctx, id_or_name=dataset)
    version_outbox.drain(ctx, ref.id)
    total = ctx.db.scalar(select(func.count()).where(DatasetVersion.dataset_id == ref.id)) or 0
    rows = ctx.db.scalars(select(DatasetVersion).where(DatasetVersion.dataset_id == ref.id)
                          .order_by(DatasetVersion.number.desc()).limit(limit).offset(offset))
    return [_public(v) for v in rows], total


def get_version(ctx: RequestContext, *, dataset: str, number: int) -> VersionPublic:
    """One version: its metadata, resource manifest and diff."""
    ref = catalog.get_dataset_ref(ctx, id_or_name=dataset)
    version_outbox.drain(ctx, ref.id)
    return _public(_version(ctx, ref.id, number), full=True)


def version_rows(ctx: RequestContext, *, dataset: str, number: int, resource_id: str) -> Path:
    """The CSV snapshot of one resource's rows in a version (for download)."""
    ref = catalog.get_dataset_ref(ctx, id_or_name=dataset)
    policy.require(ctx, "dataset.download", ref)
    version_outbox.drain(ctx, ref.id)
    version = _version(ctx, ref.id, number)
    _require_restorable(version)
    entry = next((r for r in version.resources if r["resource_id"] == resource_id), None)
    if entry is not None and entry.get("table_delta") and not entry.get("snapshot"):
        try:  # a fed table's version: its rows rebuilt from the live table and later deltas
            return snapshot_path(ctx, _export_delta(ctx, entry["table_delta"], _fields_of(ctx, resource_id)))
        except LookupError:
            raise NotFound("this version's rows are gone") from None
    if entry is None or not entry.get("snapshot") or not snapshot_path(ctx, entry["snapshot"]).exists():
        raise NotFound("this version keeps no row snapshot of that resource")
    return snapshot_path(ctx, entry["snapshot"])


def rollback(ctx: RequestContext, *, dataset: str, number: int) -> VersionPublic:
    """Restore a version's metadata and table rows (stewards); the result is recorded as a new version."""
    from cityhub.datastore import service as datastore

    ref = catalog.get_dataset_ref(ctx, id_or_name=dataset, action="dataset.govern")
    version_outbox.drain(ctx, ref.id)
    target = _version(ctx, ref.id, number)
    _require_restorable(target)
    prev = latest(ctx, ref.id)
    catalog.update_dataset(ctx, id_or_name=ref.id, data=DatasetUpdate(**target.meta))
    current = {r.id: r for r in catalog.get_dataset(ctx, id_or_name=ref.id).resources}
    restored = []
    for entry in target.resources:
        res = current.get(entry["resource_id"])
        if res is None or not (entry.get("snapshot") or _source(entry)):
            continue
        if res.datastore_active and _kept_as(entry) == _current_snapshot(prev, res.id):
            restored.append(entry)
            continue
        if _source(entry) and not (entry.get("snapshot") and snapshot_path(ctx, entry["snapshot"]).exists()):
            _restore_copy(ctx, res.id, _source(entry), number)
            restored.append(entry)
            continue
        path = snapshot_path(ctx, entry["snapshot"])
        if not path.exists():
            raise Conflict(f"the row snapshot of resource {res.id} in version {number} is gone")
        resource_ref = dataclasses.replace(catalog.authorize_resource(ctx, resource_id=res.id,
                                                                      action="datastore.write"), format="CSV")
        if res.datastore_active:
            datastore.drop_table(ctx, table=res.id)
        loaded = datastore.load_resource(ctx, resource=resource_ref, path=path)
        catalog.mark_datastore(ctx, resource_id=res.id, table=loaded.table, row_count=loaded.row_count)
        restored.append(entry)
    after = catalog.get_dataset(ctx, id_or_name=ref.id)
    meta = meta_of(after)
    now = {r.id: r for r in after.resources}
    # the restored tables as they now stand, so the after-commit check sees nothing new to record
    restored = [{**e, "modified_at": now[e["resource_id"]].modified_at.isoformat(),
                 "row_count": now[e["resource_id"]].row_count, "sha256": now[e["resource_id"]].sha256,
                 "table_delta": _live_pointer(ctx, e["resource_id"]) or e.get("table_delta")}
                for e in restored]
    resources = [*restored, *[r for r in (prev.resources if prev else [])
                              if r["resource_id"] not in {e["resource_id"] for e in restored}
                              and r["resource_id"] in current]]
    diff = _diff(ctx, ref.id, prev, meta, resources, exact=False)
    provisional = any(_source(r) for r in resources)
    if provisional:
        diff["provisional"] = True  # row counts only, until the recorder compares the copies
    version = _add(ctx, ref.id, prev, trigger="rollback", meta=meta, resources=resources, diff=diff,
                   restored_from=number)
    # versioned here, in the change's own transaction: the outbox need not record it again, only refine
    # a big table's count-based diff in the background
    ctx.db.info.setdefault(version_capture.VERSIONED, set()).add(ref.id)
    if provisional:
        version_outbox.queue_refine(ctx.db, ref.id, version.number)
    return _public(version, full=True)


def _require_restorable(version: DatasetVersion) -> None:
    if version.pruned_at is not None:
        raise VersionPruned(f"version {version.number}'s rows were removed on {version.pruned_at:%Y-%m-%d} by the "
                            "dataset's version retention rule; its metadata and diff summary stay listed, but it "
                            "can no longer be restored or downloaded",
                            details={"version": [f"version {version.number} is no longer restorable"]})


def _live_pointer(ctx: RequestContext, resource_id: str) -> dict[str, Any] | None:
    """The restored table's own generation (its rows now), so later fed batches diff by their counts."""
    try:
        return version_delta.pointer(ctx.db.connection(), _table_name(ctx, resource_id))
    except NotFound:
        return None


def _kept_as(entry: dict[str, Any]) -> tuple[Any, Any, Any]:
    return entry.get("snapshot"), entry.get("table_copy"), entry.get("table_delta")


def _current_snapshot(prev: DatasetVersion | None, resource_id: str) -> tuple[Any, Any, Any]:
    for r in prev.resources if prev else []:
        if r["resource_id"] == resource_id:
            return _kept_as(r)
    return None, None, None


def _fields_of(ctx: RequestContext, resource_id: str) -> list[dict[str, Any]]:
    from cityhub.datastore.models import DatastoreTable

    meta = ctx.db.get(DatastoreTable, resource_id)
    return list(meta.fields or []) if meta is not None else []


def _restore_copy(ctx: RequestContext, resource_id: str, source: dict[str, Any] | str, number: int) -> None:
    """Put a large table's rows back from its in-engine copy or delta pointer: the table keeps its
    definition, indexes and row ids; only its rows are replaced (DELETE + INSERT … SELECT, in the
    request's transaction). This rewrites rows in place, so the table's delta generation is retired
    first by a full copy (version_delta.retire): versions pointing at it keep their rows."""
    from cityhub.datastore.models import DatastoreTable

    catalog.authorize_resource(ctx, resource_id=resource_id, action="datastore.write")
    conn = ctx.db.connection()
    inspector = sa.inspect(conn)
    if isinstance(source, str) and not inspector.has_table(source):
        raise Conflict(f"the row copy of resource {resource_id} in version {number} is gone")
    table = _table_name(ctx, resource_id)
    version_delta.retire(conn, table, rename=False)
    try:
        sql, copied = _rows_sql(ctx, source)
    except LookupError:
        raise Conflict(f"the rows of resource {resource_id} in version {number} are gone") from None
    columns = [c["name"] for c in sa.inspect(conn).get_columns(table)]
    if columns != copied:
        raise Conflict(f"resource {resource_id} has other columns than in version {number}; "
                       "upload the version's rows instead", details={"resource": ["columns changed"]})
    names = ", ".join(f'"{c}"' for c in columns)
    conn.exec_driver_sql(f'DELETE FROM "{table}"')
    conn.exec_driver_sql(f'INSERT INTO "{table}" ({names}) SELECT {names} FROM ({sql}) AS v')
    count = int(conn.exec_driver_sql(f'SELECT count(*) FROM "{table}"').scalar_one())
    version_delta.start(conn, table)  # the restored rows begin a generation of their own
    meta = ctx.db.get(DatastoreTable, resource_id)
    # The value histograms described the rows just replaced: a query trusting them ("no row holds this
    # value") would answer wrongly, so they go, as after any row-by-row write.
    meta.row_count, meta.histograms = count, {}
    ctx.db.flush()
    catalog.mark_datastore(ctx, resource_id=resource_id, table=table, row_count=count)
