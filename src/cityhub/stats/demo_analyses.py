"""Demonstration analyses shipped as dashboards over the demo city's data, each reproducible from its
saved queries: air quality against traffic by district and hour, CCTV coverage against residents,
and population ageing by district from KOSIS. Tables are found by dataset name and columns by their
(Korean) headers at seeding time; an analysis whose data is missing is skipped, not faked.

Incident hot spots (by hour, weekday and district) wait for the operations domain to publish its
incidents as a dataset the SQL sandbox can read.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from cityhub.ctx import RequestContext
from cityhub.errors import CityhubError, NotFound
from cityhub.stats import service_charts as charts
from cityhub.stats import service_dashboards as dashboards
from cityhub.stats import service_queries as queries
from cityhub.stats import sqlgen
from cityhub.stats.kosis_demo import source_name
from cityhub.stats.models import Dashboard
from cityhub.stats.schemas import QueryCreate
from cityhub.stats.schemas_charts import Card, ChartCreate, ChartSpec, DashboardCreate

log = logging.getLogger("cityhub.stats")
GU = ["jung-gu", "seo-gu", "dong-gu", "yeongdo-gu", "busanjin-gu", "dongnae-gu", "nam-gu", "buk-gu", "haeundae-gu",
      "saha-gu", "geumjeong-gu", "gangseo-gu", "yeonje-gu", "suyeong-gu", "sasang-gu", "gijang-gun"]


def _table(ctx: RequestContext, dataset: str) -> tuple[str, list[str], str] | None:
    """(resource id, column names, dataset title) of a dataset's first datastore table, or None."""
    from cityhub.catalog import service as catalog

    try:
        ds = catalog.get_dataset(ctx, id_or_name=dataset)
    except NotFound:
        return None
    for res in ds.resources:
        if getattr(res, "datastore_active", False):
            cols = [c["id"] for c in queries.columns_of(ctx, res.id) if c["id"] != "_id"]
            return res.id, cols, ds.title
    return None


def _col(columns: list[str], *needles: str) -> str:
    for needle in needles:
        for c in columns:
            if needle.lower() in c.lower():
                return c
    raise LookupError(f"no column like {needles} in {columns}")


def _q(ctx: RequestContext, title: str, sql: str) -> str:
    return queries.create_query(ctx, data=QueryCreate(title=title, sql=sql, visibility="public")).id


def _chart(ctx: RequestContext, title: str, title_en: str, spec: dict[str, Any]) -> str:
    return charts.create_chart(ctx, data=ChartCreate(title=title, title_en=title_en,
                                                     spec=ChartSpec.model_validate(spec), visibility="public")).id


def _board(ctx: RequestContext, slug: str, title: str, title_en: str, description: str, description_en: str,
           cards: list[Card], refresh: int | None = None) -> None:
    dashboards.create_dashboard(ctx, data=DashboardCreate(
        slug=slug, title=title, title_en=title_en, description=description, description_en=description_en,
        cards=cards, visibility="public", refresh_seconds=refresh))


def seed_analyses(ctx: RequestContext) -> list[str]:
    """Create the demonstration dashboards whose data exists; returns the slugs made this time."""
    made = []
    for slug, builder in (("air-quality-traffic", _air_traffic), ("population-ageing", _ageing),
                          ("cctv-coverage", _cctv)):
        if ctx.db.scalar(select(Dashboard.id).where(Dashboard.slug == slug)):
            continue
        try:
            if builder(ctx):
                ctx.db.commit()
                made.append(slug)
        except (CityhubError, LookupError) as exc:
            ctx.db.rollback()
            log.warning("demonstration analysis %s skipped: %s", slug, exc)
    return made


def _dialect(ctx: RequestContext) -> str:
    return "sqlite" if ctx.settings.is_sqlite else "postgres"


def _air_traffic(ctx: RequestContext) -> bool:
    air, traffic = _table(ctx, "air-quality-hourly"), _table(ctx, "traffic-speed-links")
    if air is None or traffic is None:
        return False
    d = _dialect(ctx)
    a_id, a_cols, _ = air
    t_id, t_cols, _ = traffic
    a_gu, a_time, pm25 = _col(a_cols, "구군"), _col(a_cols, "측정일시"), _col(a_cols, "PM2.5")
    t_gu, t_time = _col(t_cols, "구군"), _col(t_cols, "측정일시")
    speed, volume = _col(t_cols, "속도"), _col(t_cols, "교통량")
    q = sqlgen.quote
    a_hour = sqlgen.bucket(a_time, "hour_of_day", d).sql(d)
    t_hour = sqlgen.bucket(t_time, "hour_of_day", d).sql(d)
    sql = (f"WITH a AS (SELECT {q(a_gu)} AS district, {a_hour} AS hour, avg({q(pm25)}) AS pm25 FROM {q(a_id)} "
           f"GROUP BY 1, 2),\n t AS (SELECT {q(t_gu)} AS district, {t_hour} AS hour, avg({q(speed)}) AS speed, "
           f"avg({q(volume)}) AS volume FROM {q(t_id)} GROUP BY 1, 2)\n"
           "SELECT a.district, a.hour, a.pm25, t.speed, t.volume FROM a JOIN t ON t.district = a.district "
           "AND t.hour = a.hour")
    query = _q(ctx, "대기질과 교통: 구·군별 시간대별 PM2.5·통행속도·교통량", sql)
    src = {"query_id": query}
    heat = _chart(ctx, "시간대별 PM2.5 (구·군)", "PM2.5 by hour and district",
                  {"type": "heatmap", "source": src, "x": {"column": "hour"}, "series": "district",
                   "y": [{"column": "pm25", "agg": "avg"}]})
    scatter = _chart(ctx, "교통량과 PM2.5", "Traffic volume against PM2.5",
                     {"type": "scatter", "source": src, "x": {"column": "volume"},
                      "y": [{"column": "pm25", "agg": None}], "size": "speed"})
    by_hour = _chart(ctx, "시간대별 평균: PM2.5와 통행속도", "Mean PM2.5 and speed by hour",
                     {"type": "line", "source": src, "x": {"column": "hour"},
                      "y": [{"column": "pm25", "agg": "avg", "label": "PM2.5"},
                            {"column": "speed", "agg": "avg", "label": "km/h"}]})
    choropleth = _chart(ctx, "구·군별 평균 PM2.5", "Mean PM2.5 by district",
                        {"type": "choropleth", "source": {"resource_id": a_id}, "x": {"column": a_gu},
                         "y": [{"column": pm25, "agg": "avg"}], "district_column": a_gu, "time_column": a_time})
    cards = [Card(chart_id=heat, w=12, h=5), Card(chart_id=by_hour, w=6), Card(chart_id=scatter, w=6),
             Card(chart_id=choropleth, w=6, h=6), *_live_air(ctx)]
    _board(ctx, "air-quality-traffic", "대기질과 교통", "Air quality and traffic",
           "구·군별, 시간대별로 초미세먼지와 도로 통행속도·교통량을 함께 봅니다.",
           "PM2.5 against road speed and traffic volume, by district and hour of the day.", cards, refresh=60)
    return True


def _live_air(ctx: RequestContext) -> list[Card]:
    """Current PM2.5 by district from the sensors' latest-state table, when the context publishes it."""
    live = _table(ctx, "live-airqualityobserved")
    if live is None:
        return []
    rid, cols, _ = live
    try:
        pm25 = _col(cols, "pm25", "pm2_5", "PM2.5")
    except LookupError:
        return []
    now = _chart(ctx, "지금 구·군별 PM2.5 (센서)", "PM2.5 now by district (sensors)",
                 {"type": "choropleth", "source": {"resource_id": rid}, "x": {"column": "district"},
                  "y": [{"column": pm25, "agg": "avg"}], "district_column": "district"})
    return [Card(chart_id=now, w=6, h=6)]


def _kosis_table(ctx: RequestContext, tbl_id: str) -> str | None:
    from cityhub.collect import service as collect

    try:
        return collect.get_source(ctx, id_or_name=source_name(tbl_id)).resource_id
    except NotFound:
        return None


def _ageing(ctx: RequestContext) -> bool:
    table = _kosis_table(ctx, "DT_1B04005N")
    if table is None:
        return False
    share = _chart(ctx, "구·군별 고령인구비율 (2024)", "Share aged 65+ by district (2024)",
                   {"type": "choropleth", "source": {"resource_id": table}, "x": {"column": "district"},
                    "y": [{"column": "value", "agg": "max"}], "district_column": "district",
                    "filters": [{"column": "item", "value": "T65R"}, {"column": "period", "value": "2024"},
                                {"column": "district_code", "op": "ne", "value": "26"}]})
    trend = _chart(ctx, "고령인구비율 추이 (구·군)", "Share aged 65+ over time by district",
                   {"type": "line", "source": {"resource_id": table}, "x": {"column": "period"},
                    "series": "district", "y": [{"column": "value", "agg": "max"}], "district_column": "district",
                    "filters": [{"column": "item", "value": "T65R"}]})
    _board(ctx, "population-ageing", "인구 고령화", "Population ageing",
           "KOSIS에서 수집한 구·군별 65세 이상 인구 비율과 노령화지수입니다.",
           "Share of residents aged 65+ and the ageing index by district, collected from KOSIS.",
           [Card(kind="indicator", indicator="ageing-share", w=6),
            Card(kind="indicator", indicator="ageing-index", w=6),
            Card(chart_id=share, w=6, h=6), Card(chart_id=trend, w=6, h=6)])
    return True


def _cctv(ctx: RequestContext) -> bool:
    parts = []
    for gu in GU:
        found = _table(ctx, f"{gu}-cctv-locations")
        if found is None:
            continue
        rid, cols, title = found
        name = title.split(" ")[0]  # "{구} 방범 CCTV 설치 현황"
        lat, lon, cams = _col(cols, "위도", "lat"), _col(cols, "경도", "lon"), _col(cols, "카메라대수", "대수")
        q = sqlgen.quote
        parts.append(f"SELECT '{name}' AS district, {q(lat)} AS lat, {q(lon)} AS lon, {q(cams)} AS cameras "
                     f"FROM {q(rid)}")
    population = _kosis_table(ctx, "DT_1B040A3")
    if not parts:
        return False
    cameras = _q(ctx, "방범 CCTV 위치 (전 구·군)", "\nUNION ALL\n".join(parts))
    points = _chart(ctx, "방범 CCTV 위치", "CCTV cameras",
                    {"type": "points", "source": {"query_id": cameras}, "lat": "lat", "lon": "lon", "size": "cameras",
                     "district_column": "district", "limit": 10000})
    per_gu = _chart(ctx, "구·군별 CCTV 카메라 수", "CCTV cameras by district",
                    {"type": "bar", "source": {"query_id": cameras}, "x": {"column": "district"},
                     "y": [{"column": "cameras", "agg": "sum"}], "district_column": "district"})
    cards = [Card(chart_id=points, w=7, h=7), Card(chart_id=per_gu, w=5, h=7)]
    if population:
        q = sqlgen.quote
        sql = (f"WITH c AS ({' UNION ALL '.join(parts)}),\n"
               f" p AS (SELECT district, value FROM {q(population)} WHERE item = 'T20' AND period = '2024')\n"
               "SELECT c.district, sum(c.cameras) AS cameras, max(p.value) AS residents,\n"
               " round(sum(c.cameras) * 10000.0 / max(p.value), 2) AS cameras_per_10k\n"
               "FROM c JOIN p ON p.district = c.district GROUP BY c.district")
        ratio = _q(ctx, "주민 1만 명당 CCTV 카메라 수", sql)
        gaps = _chart(ctx, "주민 1만 명당 CCTV (적을수록 공백)", "Cameras per 10,000 residents (low = gap)",
                      {"type": "choropleth", "source": {"query_id": ratio}, "x": {"column": "district"},
                       "y": [{"column": "cameras_per_10k", "agg": "max"}], "district_column": "district"})
        cards.append(Card(chart_id=gaps, w=12, h=7))
    _board(ctx, "cctv-coverage", "방범 CCTV 사각지대", "CCTV coverage gaps",
           "구·군별 방범 CCTV 위치와 주민 1만 명당 카메라 수로 감시 공백을 찾습니다. (사건 밀도 가중은 운영 도메인 "
           "사건 데이터 공개 후 추가)",
           "CCTV locations and cameras per 10,000 residents show where coverage is thin (weighing by incident "
           "density follows once operations publishes its incidents as a dataset).", cards)
    return True
