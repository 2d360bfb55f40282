"""The collection pipeline: fetch → raw landing → parse → map → validate → upsert → dataset.updated.

Each page commits on its own together with the run's counters, its cursor and the source's watermark,
so memory stays flat on million-row harvests and a run killed half-way resumes where it stopped.
A page that fails (error envelope, layout change, truncated body) rolls back only itself: rows of
earlier runs and pages stay as they were, and the run ends failed with the upstream's own message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from cityhub.bus import InProcessBus
from cityhub.collect import raw, upsert
from cityhub.collect.connectors import build_connector
from cityhub.collect.connectors.base import Connector, ConnectorError, FetchContext, Page, Payload
from cityhub.collect.mapping import FieldSpec, Mapper
from cityhub.collect.models import QuarantinedRow, Run, Source
from cityhub.collect.validation import has_validators, validate_row
from cityhub.ctx import Actor, RequestContext
from cityhub.db import utcnow
from cityhub.governance import guard as governance_guard
from cityhub.settings import Settings

log = logging.getLogger("cityhub.collect")

# Scheduled and background runs act for the platform: the source was authorized when it was set up.
COLLECTOR = Actor(user_id="system:collect", email="collect@cityhub.local", role="admin", city_member=True)

Progress = Callable[[Run], None]
# Run columns a connector may set through Page.counters.
RUN_COUNTERS = frozenset({"broker_dropped", "messages_missing"})


class Sink(Protocol):
    def prepare(self, db: Session) -> None: ...
    def write(self, db: Session, rows: list[dict[str, Any]], page: Page) -> upsert.UpsertCounts: ...
    def finish(self, ctx: RequestContext, *, changed: bool) -> None: ...


@dataclass
class TableSink:
    """Rows go into the dataset's typed table, merged by the declared key."""

    source: Source
    fields: list[FieldSpec]
    table_name: str
    _table: Any = None

    def prepare(self, db: Session) -> None:
        self._table = upsert.ensure_table(db.connection(), self.table_name, self.fields, self.source.key or [],
                                          resource_id=self.source.resource_id)

    def write(self, db: Session, rows: list[dict[str, Any]], page: Page) -> upsert.UpsertCounts:
        return upsert.upsert_rows(db.connection(), self._table, rows, self.source.key or [])

    def finish(self, ctx: RequestContext, *, changed: bool) -> None:
        from cityhub.catalog import service as catalog
        from cityhub.datastore import service as datastore

        if self.source.resource_id is None:
            return
        # The datastore's registry count, kept by every upsert: counting a million-row table here read all
        # of it (SQLite maps the file: +57 MB resident at the end of a 1M-row harvest).
        row_count = datastore.info(ctx, resource_id=self.source.resource_id).row_count
        ref = catalog.authorize_resource(ctx, resource_id=self.source.resource_id, action="datastore.write")
        if changed or not ref.datastore_table or ref.row_count != row_count:
            # marks the resource datastore-active and publishes dataset.updated
            catalog.mark_datastore(ctx, resource_id=self.source.resource_id, table=self.table_name,
                                   row_count=row_count)


@dataclass
class RunEnv:
    """Everything a run needs besides the source: where to store, whom to tell."""

    factory: sessionmaker[Session]
    settings: Settings
    bus: InProcessBus
    progress: Progress | None = None
    # Replays feed stored payloads instead of calling the upstream.
    payloads: Iterator[Payload] | None = None
    counters: dict[str, int] = field(default_factory=dict)


def make_sink(env: RunEnv, source: Source, connector: Connector, fields: list[FieldSpec]) -> Sink:
    if connector.sink == "catalog":
        from cityhub.collect.harvest import CatalogSink

        return CatalogSink(source=source, connector=connector, env=env)
    return TableSink(source=source, fields=fields, table_name=source.resource_id or f"collect_{source.name}")


def execute(env: RunEnv, *, run_id: str) -> Run:
    """Carry out a started run to its end (succeeded or failed); returns the final run row."""
    db = env.factory()
    try:
        run = db.get(Run, run_id)
        source = db.get(Source, run.source_id)
        connector = build_connector(source.connector, source.config)
        fields = [FieldSpec.model_validate(f) for f in source.fields or []]
        mapper = Mapper(fields, list(source.key or []))
        sink = make_sink(env, source, connector, fields)
        sink.prepare(db)
        db.commit()
        limit = source.run_timeout_seconds or None
        fc = FetchContext(cursor=run.cursor, state=dict(source.state or {}), timeout=source.timeout_seconds,
                          max_retries=source.max_retries, source_name=source.name,
                          run_limit=limit, deadline=time.monotonic() + limit if limit else None)
        requests = [run.requests or 0]  # survives a rollback of the failing page

        def count_request() -> None:
            fc.check_deadline()  # no new request (nor retry) once the time is up
            requests[0] += 1
            run.requests = requests[0]

        fc.on_request = count_request
        try:
            pages = connector.replay(env.payloads) if env.payloads is not None else connector.fetch(fc)
            changed = _consume(env, db, run, source, connector, mapper, sink, pages,
                               check=fc.check_deadline)
        except ConnectorError as exc:
            db.rollback()
            _fail(db, run, source, exc.message, exc.upstream_message, requests[0], code=exc.code)
            changed = (run.rows_inserted or 0) + (run.rows_updated or 0) > 0
            _finish_sink(env, sink, changed, source, run)
            return run
        except Exception as exc:
            db.rollback()
            log.exception("collection run crashed", extra={"source": source.name, "run": run.id})
            _fail(db, run, source, f"internal error: {type(exc).__name__}: {exc}", None, requests[0])
            return run
        finally:
            fc.close()
        run.status, run.ended_at = "succeeded", utcnow()
        source.last_success_at, source.failure_streak, source.last_error = run.ended_at, 0, None
        db.commit()
        _finish_sink(env, sink, changed, source, run)
        _report(env, run)
        return run
    finally:
        db.close()


def _consume(env: RunEnv, db: Session, run: Run, source: Source, connector: Connector, mapper: Mapper,
             sink: Sink, pages: Iterator[Page], check: Callable[[], None] = lambda: None) -> bool:
    changed = False
    seq = 0
    layout_checked = False
    for page in pages:
        seq += 1
        _take_write_lock(db)
        raw_id = None
        if page.payload is not None:
            landed = raw.land(db, env.settings, source_id=source.id, run_id=run.id, seq=seq, payload=page.payload,
                              outcome="error" if page.error else "ok")
            raw_id = landed.id
            run.bytes = (run.bytes or 0) + len(page.payload.body)
        if page.error is not None:
            db.commit()  # keep the error answer in the raw zone and the request count
            raise page.error
        if page.records and not layout_checked and mapper.fields:
            mapper.check_layout(page.records)
            layout_checked = True
        rows = _map_page(db, run, source, mapper, page.records, raw_id)
        if mapper.fields:  # governance: treat personal data, scan, validate against the dataset's schema
            rows, refused = governance_guard.screen_collected(
                RequestContext(actor=COLLECTOR, db=db, settings=env.settings, bus=env.bus),
                dataset_id=source.dataset_id, resource_id=source.resource_id, run_id=run.id, rows=rows)
            run.rows_quarantined = (run.rows_quarantined or 0) + refused
        # A page carrying only counters or state writes no rows (harvest pages of deletions or of an
        # empty remote resource still reach the sink).
        wrote = rows or page.deleted or page.resource is not None
        counts = sink.write(db, rows, page) if wrote else upsert.UpsertCounts()
        for name, value in (page.counters or {}).items():
            if name in RUN_COUNTERS:
                setattr(run, name, value)
        run.rows_received = (run.rows_received or 0) + len(page.records)
        run.rows_inserted = (run.rows_inserted or 0) + counts.inserted
        run.rows_updated = (run.rows_updated or 0) + counts.updated
        run.rows_unchanged = (run.rows_unchanged or 0) + counts.unchanged
        changed = changed or bool(counts.inserted or counts.updated)
        if page.cursor is not None:
            run.cursor = page.cursor
        if page.state:
            source.state = {**(source.state or {}), **page.state}
        run.heartbeat_at = utcnow()
        db.commit()
        _report(env, run)
        check()  # between pages: a connector that never asks for anything still stops in time
    return changed


def _take_write_lock(db: Session) -> None:
    """On SQLite a page's transaction takes the write lock before it reads (mapping, screening, the version
    delta's watermark): a transaction that read and then writes after another connection committed is
    refused at once ("database is locked", a stale snapshot), which busy_timeout does not wait out. The page
    has been fetched already, so the lock is never held across the network."""
    conn = db.connection()
    if conn.dialect.name == "sqlite":
        raw_conn = conn.connection.driver_connection
        if not raw_conn.in_transaction:
            raw_conn.execute("BEGIN IMMEDIATE")


def _map_page(db: Session, run: Run, source: Source, mapper: Mapper, records: list[dict[str, Any]],
              raw_id: int | None) -> list[dict[str, Any]]:
    if not mapper.fields:  # catalog harvests and unmapped feeds pass records through
        return records
    mapped, failed = mapper.map_many(records)
    if has_validators():
        validate = validate_row
        for i, row in enumerate(mapped):
            if row is not None:
                reason = validate(source.name, row)
                if reason:
                    failed[i] = (reason, None)
    if not failed:
        return mapped  # no None among them
    db.add_all([QuarantinedRow(source_id=source.id, run_id=run.id, raw_id=raw_id, record=_jsonable(records[i]),
                               reason=reason, field=field_name) for i, (reason, field_name) in sorted(failed.items())])
    run.rows_quarantined = (run.rows_quarantined or 0) + len(failed)
    return [row for i, row in enumerate(mapped) if i not in failed]


def _jsonable(record: Any) -> dict[str, Any]:
    if isinstance(record, dict):
        return {str(k): (v if isinstance(v, (str, int, float, bool, type(None), list, dict)) else str(v))
                for k, v in record.items()}
    return {"value": str(record)}


def _fail(db: Session, run: Run, source: Source, message: str, upstream: str | None, requests: int,
          code: str | None = None) -> None:
    run.requests, run.error_code = requests, (code or None) and code[:40]
    run.status, run.ended_at = "failed", utcnow()
    run.error, run.upstream_message = message[:4000], (upstream or None) and upstream[:4000]
    source.failure_streak = (source.failure_streak or 0) + 1
    source.last_error = message[:4000]
    db.commit()
    log.warning("collection run failed", extra={"source": source.name, "run": run.id, "error": message})


def _finish_sink(env: RunEnv, sink: Sink, changed: bool, source: Source, run: Run) -> None:
    db = env.factory()
    try:
        ctx = RequestContext(actor=COLLECTOR, db=db, settings=env.settings, bus=env.bus)
        sink.finish(ctx, changed=changed)
        # Pages rescore the dataset's quality at most every few seconds: the run's last pages count now.
        governance_guard.collected_run_ended(ctx, dataset_id=source.dataset_id, run_id=run.id)
        db.commit()
    except Exception:
        db.rollback()
        log.exception("could not record the collected table in the catalog")
    finally:
        db.close()


def _report(env: RunEnv, run: Run) -> None:
    if env.progress is not None:
        env.progress(run)
