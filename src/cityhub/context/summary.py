"""Per-district summaries of the live layer for the portal (current air, traffic, water, alerts)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from cityhub.auth import policy
from cityhub.context.districts import districts
from cityhub.context.models import ContextEntity
from cityhub.context.qsql import Compiler
from cityhub.ctx import RequestContext

T = ContextEntity.__table__
METRICS = (("AirQualityObserved", "pm25"), ("AirQualityObserved", "pm10"),
           ("TrafficFlowObserved", "averageVehicleSpeed"), ("WaterQualityObserved", "pH"),
           ("WaterLevelObserved", "waterLevel"))


def district_summary(ctx: RequestContext) -> list[dict[str, Any]]:
    """For each of the 16 districts: averages of the main live measures and the active alert count."""
    policy.require(ctx, "context.read", None)
    comp = Compiler(T.c.attrs, ctx.db.get_bind().dialect.name)
    out = {d.name_en: {"district": d.name_en, "name_ko": d.name_ko, "code": d.code, "lon": d.lon, "lat": d.lat,
                       "alerts": 0} for d in districts()}
    for etype, attr in METRICS:
        value = comp.number((attr, "value"))
        stmt = select(T.c.district, func.avg(value), func.count(value)).where(
            T.c.type == etype, T.c.district.is_not(None)).group_by(T.c.district)
        for district, avg, n in ctx.db.execute(stmt):
            if district in out and n:
                out[district][attr] = round(float(avg), 2)
    active = comp.text(("status", "value")) == "active"
    stmt = select(T.c.district, func.count()).where(T.c.type == "Alert", active).group_by(T.c.district)
    for district, n in ctx.db.execute(stmt):
        if district in out:
            out[district]["alerts"] = n
    return list(out.values())
