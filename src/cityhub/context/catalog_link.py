"""Each entity type is also a catalog dataset: its latest state as a table, its history one link away.

`publish_snapshots` makes (once) a dataset `live-<type>` per entity type in the given organization and
replaces its "latest state" CSV resource with the current entities (loaded into the datastore by the
catalog, so the CKAN API, SQL, charts and governance see live data under the dataset's access rules).
Everything goes through catalog.service: this module never touches catalog tables.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson
from sqlalchemy import select

from cityhub.catalog import service as catalog
from cityhub.catalog.schemas import DatasetCreate, ResourceCreate
from cityhub.context.attrs import simplify
from cityhub.context.models import ContextEntity
from cityhub.ctx import RequestContext
from cityhub.errors import NotFound

T = ContextEntity.__table__
LATEST = "latest-state.csv"
HISTORY = "history (NGSI-LD temporal API)"
TITLES = {
    "AirQualityObserved": ("실시간 대기질 측정", "Live air quality"),
    "TrafficFlowObserved": ("실시간 교통 흐름", "Live traffic flow"),
    "WaterQualityObserved": ("실시간 수질 측정", "Live water quality"),
    "WaterLevelObserved": ("실시간 하천 수위", "Live river levels"),
    "RainfallObserved": ("실시간 강우량", "Live rainfall"),
    "NoiseLevelObserved": ("실시간 소음 측정", "Live noise levels"),
    "Camera": ("CCTV 카메라 현황", "CCTV cameras"),
    "Device": ("센서 장치 현황", "Sensor devices"),
    "Alert": ("경보 현황", "Alerts"),
}


def dataset_name(entity_type: str) -> str:
    return "live-" + "".join(c.lower() if c.isalnum() else "-" for c in entity_type)[:90]


def snapshot_csv(ctx: RequestContext, entity_type: str) -> tuple[bytes, int]:
    """The latest state of every entity of a type as CSV (one column per attribute)."""
    rows = ctx.db.execute(select(T.c.id, T.c.district, T.c.lon, T.c.lat, T.c.modified_at, T.c.attrs)
                          .where(T.c.type == entity_type).order_by(T.c.id)).all()
    names = sorted({name for r in rows for name in r.attrs if name != "location"})
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "district", "longitude", "latitude", "modified_at", *names])
    for r in rows:
        values = []
        for name in names:
            v = simplify(r.attrs.get(name))
            values.append(orjson.dumps(v).decode() if isinstance(v, (dict, list)) else v)
        writer.writerow([r.id, r.district, r.lon, r.lat, r.modified_at.isoformat(), *values])
    return out.getvalue().encode("utf-8"), len(rows)


def _ensure_dataset(ctx: RequestContext, entity_type: str, org: str) -> Any:
    name = dataset_name(entity_type)
    try:
        return catalog.get_dataset(ctx, id_or_name=name)
    except NotFound:
        pass
    ko, en = TITLES.get(entity_type, (f"실시간 {entity_type}", f"Live {entity_type}"))
    ds = catalog.create_dataset(ctx, data=DatasetCreate(
        name=name, title=ko, title_en=en, owner_org=org, access_level="public",
        notes=f"NGSI-LD `{entity_type}` 엔티티의 최신 상태 (실시간 갱신).",
        notes_en=f"Latest state of the NGSI-LD `{entity_type}` entities, refreshed from the live layer.",
        keywords=["NGSI-LD", "실시간", "real-time", entity_type], update_frequency=None))
    url = f"{ctx.settings.site_url.rstrip('/')}/ngsi-ld/v1/temporal/entities?type={entity_type}"
    catalog.create_resource(ctx, dataset=ds.id, data=ResourceCreate(name=HISTORY, url=url, format="JSON"))
    return ds


def publish_snapshot(ctx: RequestContext, *, entity_type: str, org: str) -> dict[str, Any]:
    """Refresh one type's dataset: replace its latest-state table with the current entities."""
    ds = _ensure_dataset(ctx, entity_type, org)
    body, count = snapshot_csv(ctx, entity_type)
    fresh = catalog.get_dataset(ctx, id_or_name=ds.id)
    for res in fresh.resources or []:
        if res.name == LATEST:
            catalog.delete_resource(ctx, resource_id=res.id)
    res = catalog.create_resource(ctx, dataset=ds.id, data=ResourceCreate(name=LATEST, format="CSV"),
                                  upload=io.BytesIO(body), filename=LATEST)
    return {"type": entity_type, "dataset": ds.name, "resource": res.id, "rows": count}


def publish_snapshots(ctx: RequestContext, *, org: str) -> list[dict[str, Any]]:
    """Refresh the dataset of every entity type present in the live layer."""
    types = [t for (t,) in ctx.db.execute(select(T.c.type).distinct().order_by(T.c.type))]
    return [publish_snapshot(ctx, entity_type=t, org=org) for t in types]
