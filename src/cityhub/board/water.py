"""Water-supply complaints (수돗물 민원) for the board's water panel: a catalog dataset, read like any other.

A city connects its complaint system by publishing a dataset named `water-supply-complaints` with the
columns in FIELDS (collection, upload or a fed table); the panel then shows today's complaints, the open
ones, the busiest district and category, and a 7-day sparkline. Without that dataset the panel says
"not connected".

The demo city gets a synthetic one (labelled so): complaints are drawn from a seeded generator per day, so
`sync_demo` can run in any worker at any time and only ever adds the complaints whose time has come (and
closes those whose handling time passed) — rows are merged by their id, never doubled.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from cityhub.ctx import Actor, RequestContext
from cityhub.errors import CityhubError, NotFound

DATASET = "water-supply-complaints"
RESOURCE = "complaints"
ORG = "waterworks-hq"
KST = timedelta(hours=9)
FIELDS: list[tuple[str, str]] = [
    ("complaint_id", "text"), ("received_at", "datetime"), ("district", "text"), ("district_ko", "text"),
    ("district_code", "text"), ("category", "text"), ("category_ko", "text"), ("status", "text"),
    ("resolved_at", "datetime"),
]
KEY = ["complaint_id"]
# category → (Korean label, share of complaints, typical hours to resolve)
CATEGORIES = {
    "turbid_water": ("탁수", 0.30, 4), "low_pressure": ("수압 저하", 0.25, 6), "leak": ("누수", 0.20, 8),
    "no_water": ("단수", 0.10, 3), "taste_odour": ("맛·냄새", 0.15, 12),
}
SYSTEM = Actor(user_id="system", email="system@cityhub.local", role="admin", city_member=True)


# --- the demo's synthetic dataset ----------------------------------------------------------------------------


def _day_complaints(day: datetime) -> list[dict[str, Any]]:
    """Every synthetic complaint of one KST day (midnight given in UTC), the same on every call."""
    from cityhub.context.districts import districts

    rng = random.Random(f"water-complaints-{day.date().isoformat()}")
    places = districts()
    cats = list(CATEGORIES)
    rows = []
    for n in range(rng.randint(25, 45)):
        at = day + timedelta(seconds=rng.randrange(86_400))
        d = rng.choice(places)
        cat = rng.choices(cats, weights=[CATEGORIES[c][1] for c in cats])[0]
        took = timedelta(hours=rng.uniform(0.5, 2 * CATEGORIES[cat][2]))
        rows.append({"complaint_id": f"WSC-{(day + KST).strftime('%Y%m%d')}-{n:03d}", "received_at": at,
                     "district": d.name_en, "district_ko": d.name_ko, "district_code": d.code, "category": cat,
                     "category_ko": CATEGORIES[cat][0], "resolved_after": took})
    return rows


def _kst_midnight(now: datetime) -> datetime:
    local = now + KST
    return local.replace(hour=0, minute=0, second=0, microsecond=0) - KST


def demo_rows(now: datetime, *, days: int) -> list[dict[str, Any]]:
    """The synthetic complaints received up to `now` over the last `days` days, with their state at `now`."""
    first = _kst_midnight(now) - timedelta(days=days - 1)
    out = []
    for i in range(days):
        for r in _day_complaints(first + timedelta(days=i)):
            if r["received_at"] > now:
                continue
            done = r["received_at"] + r.pop("resolved_after")
            out.append({**r, "status": "resolved" if done <= now else "in_progress",
                        "resolved_at": done if done <= now else None})
    return out


def _resource(ctx: RequestContext) -> Any | None:
    from cityhub.catalog import service as catalog

    try:
        ds = catalog.get_dataset(ctx, id_or_name=DATASET)
    except NotFound:
        return None
    return next((r for r in ds.resources or [] if r.name == RESOURCE), None)


def seed_demo(ctx: RequestContext, *, days: int = 30) -> int:
    """The demo city's synthetic complaints dataset (public, Waterworks HQ), filled for the last `days` days.
    Idempotent; returns how many complaints were added."""
    from cityhub.catalog import service as catalog
    from cityhub.catalog.schemas import DatasetCreate, ResourceCreate

    ctx = ctx.with_actor(SYSTEM)
    if _resource(ctx) is None:
        try:
            ds = catalog.get_dataset(ctx, id_or_name=DATASET)
        except NotFound:
            ds = catalog.create_dataset(ctx, data=DatasetCreate(
                name=DATASET, title="수돗물 민원 접수 현황 (합성 데이터)",
                title_en="Water-supply complaints (synthetic demo data)", owner_org=ORG, access_level="public",
                notes="상수도사업본부에 접수된 탁수·수압 저하·누수·단수·맛·냄새 민원입니다. 데모용 합성 데이터입니다.",
                notes_en="Turbid water, low pressure, leak, no water and taste/odour complaints received by the "
                         "Waterworks Headquarters. Synthetic demo data.",
                keywords=["상수도", "민원", "수돗물", "water supply", "complaints"], theme="environment",
                update_frequency="realtime", synthetic=True))
        catalog.create_resource(ctx, dataset=ds.id, data=ResourceCreate(
            name=RESOURCE, format="API", description="complaints as they are received (synthetic)",
            url=f"{ctx.settings.site_url.rstrip('/')}/dataset/{DATASET}"))
        ctx.db.flush()
    return sync_demo(ctx, days=days)


def sync_demo(ctx: RequestContext, *, days: int = 2, now: datetime | None = None) -> int:
    """Add the synthetic complaints whose time has come and close the handled ones (only where the demo made
    the dataset; a city's real dataset is never touched). Returns how many were added."""
    from cityhub.catalog import service as catalog
    from cityhub.datastore import service as datastore

    ctx = ctx.with_actor(SYSTEM)
    res = _resource(ctx)
    if res is None or res.format != "API" or "synthetic" not in (res.description or ""):
        return 0
    conn = ctx.db.connection()
    fed = datastore.ensure_fed_table(conn, name=res.id, fields=FIELDS, key=KEY, resource_id=res.id)
    counts = datastore.upsert_fed_rows(conn, fed, demo_rows(now or datetime.now(UTC), days=days))
    if counts.inserted or counts.updated or not res.datastore_active:
        from sqlalchemy import func, select

        total = conn.execute(select(func.count()).select_from(fed.table)).scalar_one()
        catalog.mark_datastore(ctx, resource_id=res.id, table=res.id, row_count=total)
    return counts.inserted


# --- what the panel shows ------------------------------------------------------------------------------------


def _when(value: Any) -> datetime:
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def panel(ctx: RequestContext) -> dict[str, Any] | None:
    """Today's complaints (KST) city-wide and per district, the open ones, by category, and the last 7 days'
    daily counts; None when no complaints dataset is connected (or the viewer may not read it)."""
    from cityhub.datastore import service as datastore

    res = _resource(ctx)
    if res is None or not res.datastore_active:
        return None
    now = datetime.now(UTC)
    midnight = _kst_midnight(now)
    since = midnight - timedelta(days=6)
    try:
        found = datastore.search(ctx, resource_id=res.id, filters={"received_at": {"gte": since.isoformat()}},
                                 fields=["received_at", "district", "category", "status"],
                                 limit=ctx.settings.datastore_max_limit, include_total=False)
    except CityhubError:
        return None
    daily = [0] * 7
    today: dict[str, Any] = {"total": 0, "open": 0, "districts": {}, "categories": {}}
    open_by_district: dict[str, int] = {}
    for r in found.records:
        at = _when(r["received_at"])
        day = (at - since) // timedelta(days=1)
        if 0 <= day < 7:
            daily[day] += 1
        unresolved = r["status"] != "resolved"
        if unresolved:
            open_by_district[r["district"]] = open_by_district.get(r["district"], 0) + 1
        if at >= midnight:
            today["total"] += 1
            today["open"] += unresolved
            today["districts"][r["district"]] = today["districts"].get(r["district"], 0) + 1
            today["categories"][r["category"]] = today["categories"].get(r["category"], 0) + 1
    return {"dataset": DATASET, "today": today, "open_by_district": open_by_district, "daily": daily,
            "categories": {k: v[0] for k, v in CATEGORIES.items()}}
