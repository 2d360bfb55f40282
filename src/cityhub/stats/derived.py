"""Analysis tables derived from other domains, kept as ordinary catalog datasets.

Hot-spot analyses need the incident register as a table, and charts over sensor history need the hourly
figures as one; both then go through the same doors as any dataset (access levels, SQL sandbox, charts,
lineage, downloads). The owning domains decide what may be published (`ops.open_data`,
`context.open_data`); this module only keeps the datasets filled, incrementally: the watermark is the
newest row already in the table, so a refresh after a restart (or in another worker) neither skips nor
doubles a row — rows are merged by their key.

A derived dataset is made once, for an organization, by `publish` (the demo, `cityhub stats
publish-derived`); from then on `refresh` (on a timer and when incidents change) keeps what exists current.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cityhub.context import open_data as context_open_data
from cityhub.ctx import SYSTEM, RequestContext
from cityhub.errors import NotFound
from cityhub.ops import open_data as ops_open_data
from cityhub.settings import Settings

log = logging.getLogger("cityhub.stats")
RESOURCE_NAME = "table"


@dataclass(frozen=True)
class Derived:
    name: str  # the dataset's slug
    title: str
    title_en: str
    notes: str
    notes_en: str
    keywords: tuple[str, ...]
    theme: str
    fields: list[tuple[str, str]]
    key: list[str]
    # the column whose newest value says how far the table is filled (the source decides whether rows
    # at the watermark itself are read again, as an hour still open is)
    watermark: str
    rows: Callable[..., list[dict[str, Any]]]  # (db, since=…, limit=…) → the next rows, oldest first
    batch: int


INCIDENTS = Derived(
    name="incident-register", title="도시 안전 사건 대장 (공개용)", title_en="City incident register (open version)",
    notes=("통합관제센터에 접수된 화재·구조·구급·범죄·교통사고·재난·환경 사건입니다. 위치는 약 100 m 단위로 "
           "일반화했고, 주소·신고자·설명과 사회적 약자 사건은 공개하지 않습니다. 발생 시각과 요일은 한국 시간입니다."),
    notes_en=("Fires, rescues, EMS calls, crimes, traffic accidents, disasters and environment incidents received by "
              "the operations centre. Locations are rounded to about 100 m; addresses, reporters, descriptions and "
              "vulnerable-person incidents are not published. Hour and weekday are in Korean time."),
    keywords=("안전", "사건", "112", "119", "incidents", "hot spots"), theme="safety",
    fields=ops_open_data.REGISTER_FIELDS, key=ops_open_data.REGISTER_KEY, watermark="updated_at",
    rows=ops_open_data.register_rows, batch=5000)
SENSORS = Derived(
    name="sensor-history-hourly", title="센서 측정값 시간별 이력", title_en="Sensor readings, hourly history",
    notes=("대기질·교통·수질·하천수위·소음 센서의 속성별 시간 평균·최소·최대와 측정 횟수입니다 (실시간 계층의 "
           "시간별 집계에서 갱신)."),
    notes_en=("Hourly average, minimum, maximum and number of readings per sensor and attribute (air, traffic, water "
              "quality, river level, noise), refreshed from the live layer's hourly rollups."),
    keywords=("센서", "실시간", "이력", "sensors", "history", "NGSI-LD"), theme="environment",
    fields=context_open_data.HOURLY_FIELDS, key=context_open_data.HOURLY_KEY, watermark="hour",
    rows=context_open_data.hourly_rows, batch=50_000)
DERIVED = (INCIDENTS, SENSORS)


def _resource(ctx: RequestContext, d: Derived) -> Any | None:
    from cityhub.catalog import service as catalog

    try:
        ds = catalog.get_dataset(ctx, id_or_name=d.name)
    except NotFound:
        return None
    return next((r for r in ds.resources or [] if r.name == RESOURCE_NAME), None)


def publish(ctx: RequestContext, *, org: str) -> list[dict[str, Any]]:
    """Make the derived datasets (once) in `org`, public, and fill them. Returns what each refresh did."""
    from cityhub.catalog import service as catalog
    from cityhub.catalog.schemas import DatasetCreate, ResourceCreate

    for d in DERIVED:
        if _resource(ctx, d) is not None:
            continue
        try:
            ds = catalog.get_dataset(ctx, id_or_name=d.name)
        except NotFound:
            ds = catalog.create_dataset(ctx, data=DatasetCreate(
                name=d.name, title=d.title, title_en=d.title_en, owner_org=org, access_level="public",
                notes=d.notes, notes_en=d.notes_en, keywords=list(d.keywords), theme=d.theme,
                update_frequency="realtime"))
        catalog.create_resource(ctx, dataset=ds.id, data=ResourceCreate(
            name=RESOURCE_NAME, format="API", description="derived table, refreshed by cityhub",
            url=f"{ctx.settings.site_url.rstrip('/')}/dataset/{d.name}"))
    ctx.db.flush()
    return refresh(ctx)


def refresh(ctx: RequestContext) -> list[dict[str, Any]]:
    """Bring every existing derived dataset up to date with its source (incremental)."""
    return [done for d in DERIVED if (done := _refresh_one(ctx, d)) is not None]


def _refresh_one(ctx: RequestContext, d: Derived) -> dict[str, Any] | None:
    from cityhub.catalog import service as catalog
    from cityhub.datastore import service as datastore

    res = _resource(ctx, d)
    if res is None:
        return None
    conn = ctx.db.connection()
    fed = datastore.ensure_fed_table(conn, name=res.id, fields=d.fields, key=d.key, resource_id=res.id)
    column = fed.table.c[d.watermark]
    since = _as_datetime(conn.execute(select(func.max(column))).scalar())
    inserted = updated = 0
    while True:
        rows = d.rows(ctx.db, since=since, limit=d.batch)
        if not rows:
            break
        counts = datastore.upsert_fed_rows(conn, fed, rows)
        inserted, updated = inserted + counts.inserted, updated + counts.updated
        newest = max(r[d.watermark] for r in rows)
        if len(rows) < d.batch or (since is not None and newest <= since):
            break  # the last page, or a page that cannot move the watermark on (all rows share it)
        since = newest
    total = conn.execute(select(func.count()).select_from(fed.table)).scalar_one()
    if inserted or updated or not res.datastore_active or res.row_count != total:
        catalog.mark_datastore(ctx, resource_id=res.id, table=res.id, row_count=total)
    return {"dataset": d.name, "resource": res.id, "inserted": inserted, "updated": updated, "rows": total}


def _as_datetime(value: Any) -> datetime | None:
    """The datastore keeps UTC without a zone (SQLite hands back ISO text from max()); sources speak aware UTC."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Refresher:
    """Keeps the derived datasets current in this process: every `interval` seconds, and soon after an
    incident changes (debounced, so a burst of 100 incidents/s costs one refresh)."""

    def __init__(self, factory: sessionmaker[Session], settings: Settings, bus: Any, interval: float,
                 debounce: float = 2.0) -> None:
        self.factory, self.settings, self.bus = factory, settings, bus
        self.interval, self.debounce = interval, debounce
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="stats-derived", daemon=True)

    def notify(self, _topic: str = "", _payload: dict | None = None) -> None:
        self._wake.set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.refresh_now()
            self._wake.wait(self.interval)
            if self._stop.wait(self.debounce if self._wake.is_set() else 0):
                return
            self._wake.clear()

    def refresh_now(self) -> list[dict[str, Any]]:
        try:
            with self.factory() as db:
                ctx = RequestContext(actor=SYSTEM, db=db, settings=self.settings, bus=self.bus)
                done = refresh(ctx)
                db.commit()
                return done
        except Exception:  # the next round retries; a refresh must never take the server down
            log.exception("refreshing derived datasets failed")
            return []
