"""Demonstration analyses shipped as dashboards over the demo city's data, each reproducible from its
saved queries: air quality against traffic by district and hour, incident hot spots by hour, weekday and
district (from the published incident register), CCTV coverage gaps weighed against residents and incident
density, and population ageing by district from KOSIS. Tables are found by dataset name and columns by
their (Korean) headers at seeding time; an analysis whose data is missing is skipped, not faked.
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
# published by stats.derived from the operations domain and the live layer
INCIDENT_REGISTER, SENSOR_HISTORY = "incident-register", "sensor-history-hourly"
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
                          ("incident-hot-spots", _hot_spots), ("cctv-coverage", _cctv)):
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
             Card(chart_id=choropleth, w=6, h=6), *_live_air(ctx), *_sensor_history(ctx)]
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


def _sensor_history(ctx: RequestContext) -> list[Card]:
    """PM2.5 per hour and district from the sensors' hourly history (the live layer's rollups)."""
    history = _table(ctx, SENSOR_HISTORY)
    if history is None:
        return []
    hourly = _chart(ctx, "센서 PM2.5 시간별 평균 (구·군)", "Sensor PM2.5, hourly mean by district",
                    {"type": "line", "source": {"resource_id": history[0]}, "x": {"column": "hour", "bucket": "hour"},
                     "series": "district", "y": [{"column": "average", "agg": "avg", "label": "PM2.5"}],
                     "filters": [{"column": "attribute", "value": "pm25"},
                                 {"column": "entity_type", "value": "AirQualityObserved"}],
                     "time_column": "hour", "district_column": "district"})
    return [Card(chart_id=hourly, w=12, h=5)]


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
        gaps = _district_map(ctx, "주민 1만 명당 CCTV 카메라 수", sql, "cameras_per_10k",
                             "주민 1만 명당 CCTV (적을수록 공백)", "Cameras per 10,000 residents (low = gap)")
        cards.append(Card(chart_id=gaps, w=12, h=7))
    register = _table(ctx, INCIDENT_REGISTER)
    if register is not None:
        cards.extend(_cctv_against_incidents(ctx, parts, register[0]))
    _board(ctx, "cctv-coverage", "방범 CCTV 사각지대", "CCTV coverage gaps",
           "구·군별 방범 CCTV 위치, 주민 1만 명당 카메라 수, 그리고 사건이 잦은데 카메라가 없는 곳(약 1 km 격자)으로 "
           "감시 공백을 찾습니다.",
           "CCTV locations, cameras per 10,000 residents, and places with many incidents but no camera (about "
           "1 km cells) show where coverage is thin.", cards)
    return True


def _district_map(ctx: RequestContext, query_title: str, sql: str, column: str, title: str, title_en: str) -> str:
    """A saved query giving one figure per district (column `district`), drawn as a district map."""
    query = _q(ctx, query_title, sql)
    spec = {"type": "choropleth", "source": {"query_id": query}, "x": {"column": "district"},
            "y": [{"column": column, "agg": "max"}], "district_column": "district"}
    return _chart(ctx, title, title_en, spec)


def _cctv_against_incidents(ctx: RequestContext, cameras: list[str], register: str) -> list[Card]:
    """Incidents per camera by district, and ~1 km cells with incidents but no camera (weighed by incidents)."""
    q = sqlgen.quote
    per_district = (f"WITH c AS ({' UNION ALL '.join(cameras)}),\n"
                    f" i AS (SELECT district_ko AS district, count(*) AS incidents FROM {q(register)} "
                    "GROUP BY district_ko)\n"
                    "SELECT i.district, i.incidents, sum(c.cameras) AS cameras,\n"
                    " round(i.incidents * 1.0 / sum(c.cameras), 2) AS incidents_per_camera\n"
                    "FROM i JOIN c ON c.district = i.district GROUP BY i.district, i.incidents")
    load = _district_map(ctx, "구·군별 카메라 1대당 사건 수", per_district, "incidents_per_camera",
                         "카메라 1대당 사건 수 (높을수록 공백)", "Incidents per camera (high = gap)")
    # A cell is about 1.1 km × 0.9 km (0.01° of latitude and longitude at Busan).
    cells = (f"WITH c AS ({' UNION ALL '.join(cameras)}),\n"
             " cc AS (SELECT CAST(lat * 100 AS INTEGER) AS gy, CAST(lon * 100 AS INTEGER) AS gx, "
             "sum(cameras) AS cameras FROM c GROUP BY 1, 2),\n"
             f" ic AS (SELECT CAST(lat * 100 AS INTEGER) AS gy, CAST(lon * 100 AS INTEGER) AS gx, "
             f"min(district_ko) AS district, count(*) AS incidents FROM {q(register)} GROUP BY 1, 2)\n"
             "SELECT ic.district, (ic.gy + 0.5) / 100.0 AS lat, (ic.gx + 0.5) / 100.0 AS lon, ic.incidents\n"
             "FROM ic LEFT JOIN cc ON cc.gy = ic.gy AND cc.gx = ic.gx\n"
             "WHERE cc.cameras IS NULL ORDER BY ic.incidents DESC")
    uncovered = _q(ctx, "카메라 없는 격자의 사건 수 (약 1 km)", cells)
    spots = _chart(ctx, "사건은 잦은데 카메라가 없는 곳", "Incident-dense cells without a camera",
                   {"type": "points", "source": {"query_id": uncovered}, "lat": "lat", "lon": "lon",
                    "size": "incidents", "district_column": "district", "limit": 2000})
    top = _chart(ctx, "카메라 없는 격자 상위 20", "Top 20 uncovered cells",
                 {"type": "table", "source": {"query_id": uncovered},
                  "columns": ["district", "lat", "lon", "incidents"], "y": [{"column": "incidents", "agg": None}],
                  "limit": 20})
    return [Card(chart_id=load, w=6, h=7), Card(chart_id=spots, w=6, h=7), Card(chart_id=top, w=12, h=6)]


def _hot_spots(ctx: RequestContext) -> bool:
    register = _table(ctx, INCIDENT_REGISTER)
    if register is None:
        return False
    rid = register[0]
    src = {"resource_id": rid}
    common = {"time_column": "reported_at", "district_column": "district"}
    week = _chart(ctx, "요일·시간대별 사건 (한국 시간)", "Incidents by weekday and hour (KST)",
                  {"type": "heatmap", "source": src, "x": {"column": "hour"}, "series": "weekday",
                   "y": [{"agg": "count", "label": "incidents"}], **common})
    by_type = _chart(ctx, "구·군별 사건 유형", "Incident types by district",
                     {"type": "stacked_bar", "source": src, "x": {"column": "district_ko"}, "series": "type",
                      "y": [{"agg": "count", "label": "incidents"}], "sort": "-y", **common})
    density = _chart(ctx, "구·군별 사건 수", "Incidents by district",
                     {"type": "choropleth", "source": src, "x": {"column": "district_ko"},
                      "y": [{"agg": "count", "label": "incidents"}], **common})
    q = sqlgen.quote
    grid = (f"SELECT min(district_ko) AS district, (CAST(lat * 200 AS INTEGER) + 0.5) / 200.0 AS lat, "
            f"(CAST(lon * 200 AS INTEGER) + 0.5) / 200.0 AS lon, count(*) AS incidents FROM {q(rid)} "
            "GROUP BY CAST(lat * 200 AS INTEGER), CAST(lon * 200 AS INTEGER) HAVING count(*) >= 3")
    cells = _q(ctx, "사건 밀집 지점 (약 500 m 격자)", grid)
    spots = _chart(ctx, "사건 밀집 지점 (약 500 m 격자)", "Incident hot spots (about 500 m cells)",
                   {"type": "points", "source": {"query_id": cells}, "lat": "lat", "lon": "lon", "size": "incidents",
                    "district_column": "district", "limit": 5000})
    daily = _chart(ctx, "일별 사건 추이 (유형별)", "Incidents per day by type",
                   {"type": "line", "source": src, "x": {"column": "reported_at", "bucket": "day"}, "series": "type",
                    "y": [{"agg": "count", "label": "incidents"}], **common})
    total = _chart(ctx, "사건 수", "Incidents", {"type": "kpi", "source": src, "y": [{"agg": "count"}], **common})
    _board(ctx, "incident-hot-spots", "사건 다발 지역·시간", "Incident hot spots",
           "통합관제센터 사건 대장(공개용)으로 본 요일·시간대·구·군별 사건 분포와 밀집 지점입니다. 기간과 구·군 "
           "필터가 모든 카드에 적용됩니다.",
           "When and where incidents cluster, by weekday, hour and district, from the operations centre's open "
           "incident register. Date-range and district filters apply to every card.",
           [Card(chart_id=total, w=3, h=3), Card(chart_id=daily, w=9, h=4), Card(chart_id=week, w=12, h=5),
            Card(chart_id=density, w=6, h=7), Card(chart_id=spots, w=6, h=7), Card(chart_id=by_type, w=12, h=6)],
           refresh=60)
    return True
