"""The demo city's statistics, with no network: packaged KOSIS-shaped answers fed through the KOSIS
connector's own parser and the collection pipeline, then 27 indicators defined over them.

Each KOSIS table becomes a collection source (connector kosis, schedule none, so nothing calls
kosis.kr) whose run is given the packaged answer as its payload, exactly like a replay. Re-running is
idempotent: existing sources and indicators are left as they are.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from cityhub.ctx import RequestContext
from cityhub.errors import Conflict, NotFound
from cityhub.stats.models import Indicator
from cityhub.stats.schemas import IndicatorCreate, KosisIndicatorSpec
from cityhub.stats.service_indicators import KOSIS_FIELDS, KOSIS_KEY, create_indicator, refresh_indicator

DATA = Path(__file__).parent / "data" / "kosis_demo.json.gz"
DATASET = "kosis-busan-statistics"
ORG = "planning-office"
CITY = "26"

# slug, tbl_id, item, period, topic, title, title_en, unit, unit_en, definition, definition_en
INDICATORS: list[tuple[str, ...]] = [
    ("population", "DT_1B040A3", "T20", "Y", "population", "총인구", "Population", "명", "persons",
     "주민등록 기준 연말 인구", "Registered residents at year end"),
    ("population-male", "DT_1B040A3", "T21", "Y", "population", "남자 인구", "Male population", "명", "persons",
     "주민등록 기준 남자 인구", "Registered male residents"),
    ("population-female", "DT_1B040A3", "T22", "Y", "population", "여자 인구", "Female population", "명", "persons",
     "주민등록 기준 여자 인구", "Registered female residents"),
    ("households", "DT_1B040B3", "T1", "Y", "population", "세대수", "Households", "세대", "households",
     "주민등록 세대 수", "Registered households"),
    ("household-size", "DT_1B040B3", "T2", "Y", "population", "세대당 인구", "Persons per household", "명",
     "persons", "인구를 세대수로 나눈 값", "Population divided by households"),
    ("population-65plus", "DT_1B04005N", "T65", "Y", "ageing", "65세 이상 인구", "Population aged 65+", "명",
     "persons", "65세 이상 주민등록 인구", "Registered residents aged 65 and over"),
    ("ageing-share", "DT_1B04005N", "T65R", "Y", "ageing", "고령인구비율", "Share of population aged 65+", "%",
     "%", "전체 인구 중 65세 이상 비율", "Residents aged 65+ as a share of all residents"),
    ("population-0-14", "DT_1B04005N", "T014", "Y", "ageing", "유소년 인구", "Population aged 0-14", "명",
     "persons", "0-14세 인구", "Residents aged 0 to 14"),
    ("ageing-index", "DT_1B04005N", "AGI", "Y", "ageing", "노령화지수", "Ageing index", "", "",
     "유소년 인구 100명당 65세 이상 인구", "Residents 65+ per 100 residents aged 0-14"),
    ("births", "DT_1B8000F", "B1", "Y", "vital", "출생아 수", "Live births", "명", "persons",
     "한 해 동안 태어난 아이 수", "Children born in the year"),
    ("deaths", "DT_1B8000F", "D1", "Y", "vital", "사망자 수", "Deaths", "명", "persons", "한 해 동안 사망자 수",
     "Deaths in the year"),
    ("crude-birth-rate", "DT_1B8000F", "B2", "Y", "vital", "조출생률", "Crude birth rate", "인구 천명당",
     "per 1,000", "인구 천 명당 출생아 수", "Live births per 1,000 residents"),
    ("crude-death-rate", "DT_1B8000F", "D2", "Y", "vital", "조사망률", "Crude death rate", "인구 천명당",
     "per 1,000", "인구 천 명당 사망자 수", "Deaths per 1,000 residents"),
    ("natural-increase", "DT_1B8000F", "N1", "Y", "vital", "자연증가", "Natural increase", "명", "persons",
     "출생아 수 - 사망자 수", "Births minus deaths"),
    ("marriages", "DT_1B83A35", "M1", "Y", "vital", "혼인 건수", "Marriages", "건", "cases", "신고된 혼인 건수",
     "Registered marriages"),
    ("divorces", "DT_1B83A35", "V1", "Y", "vital", "이혼 건수", "Divorces", "건", "cases", "신고된 이혼 건수",
     "Registered divorces"),
    ("employment-rate", "DT_1ES3A03", "E1", "Q", "economy", "고용률", "Employment rate", "%", "%",
     "15세 이상 인구 중 취업자 비율", "Employed persons as a share of residents aged 15+"),
    ("unemployment-rate", "DT_1ES3A03", "E2", "Q", "economy", "실업률", "Unemployment rate", "%", "%",
     "경제활동인구 중 실업자 비율", "Unemployed as a share of the labour force"),
    ("labour-force", "DT_1ES3A03", "E3", "Q", "economy", "경제활동인구", "Labour force", "천명", "thousand",
     "15세 이상 취업자와 실업자", "Employed and unemployed residents aged 15+"),
    ("cpi", "DT_1J22003", "P0", "M", "prices", "소비자물가지수", "Consumer price index", "2020=100", "2020=100",
     "소비자가 사는 상품과 서비스의 가격 수준", "Price level of goods and services households buy"),
    ("cpi-food", "DT_1J22003", "P1", "M", "prices", "식료품 물가지수", "CPI food", "2020=100", "2020=100",
     "식료품 및 비주류음료 물가지수", "CPI of food and non-alcoholic beverages"),
    ("businesses", "DT_1K52B01", "S1", "Y", "economy", "사업체 수", "Businesses", "개", "businesses",
     "전국사업체조사 사업체 수", "Businesses counted by the business census"),
    ("business-employees", "DT_1K52B01", "S2", "Y", "economy", "사업체 종사자 수", "Persons employed by businesses",
     "명", "persons", "사업체에서 일하는 사람 수", "Persons working in businesses"),
    ("new-corporations", "DT_1EE0003", "C1N", "Q", "economy", "신설법인 수", "New corporations", "개",
     "corporations", "분기 중 새로 등기한 법인", "Corporations registered in the quarter"),
    ("foreign-visitors", "DT_TOUR_FRN", "F1", "M", "tourism", "외국인 관광객", "Foreign visitors", "명", "persons",
     "부산을 찾은 외래 관광객 수", "Foreign visitors arriving in Busan"),
    ("foreign-residents", "DT_1B040M5", "R1", "Y", "population", "외국인 주민", "Foreign residents", "명",
     "persons", "3개월 넘게 거주하는 외국인", "Foreign nationals resident for more than three months"),
    ("registered-vehicles", "DT_1YL20711", "V2", "Y", "transport", "자동차 등록대수", "Registered vehicles", "대",
     "vehicles", "연말 자동차 등록대수", "Vehicles registered at year end"),
]


def load_tables() -> list[dict[str, Any]]:
    return json.loads(gzip.decompress(DATA.read_bytes()))["tables"]


def source_name(tbl_id: str) -> str:
    return "kosis-" + tbl_id.lower().replace("_", "-")


def seed_statistics(ctx: RequestContext, *, org: str = ORG) -> dict[str, int]:
    """Seed the KOSIS sources (from the packaged answers) and the demo indicators. Idempotent."""
    from cityhub.collect.connectors.base import Payload

    dataset = _ensure_dataset(ctx, org)
    report = {"sources": 0, "rows": 0, "indicators": 0}
    for table in load_tables():
        name = source_name(table["tbl_id"])
        if not _ensure_source(ctx, name, table, dataset):
            continue
        body = json.dumps(table["rows"], ensure_ascii=False).encode()
        payload = Payload(body=body, request={"method": "GET", "url": "packaged:kosis_demo.json.gz"},
                          content_type="application/json;charset=UTF-8")
        run = _run_with(ctx, name, payload)
        report["sources"] += 1
        report["rows"] += run.rows_inserted + run.rows_updated
    for entry in INDICATORS:
        if _ensure_indicator(ctx, entry):
            report["indicators"] += 1
    ctx.db.commit()
    return report


def _ensure_dataset(ctx: RequestContext, org: str) -> str:
    from cityhub.catalog.schemas import DatasetCreate
    from cityhub.catalog.service import create_dataset, get_dataset_ref

    try:
        return get_dataset_ref(ctx, id_or_name=DATASET).id
    except NotFound:
        pass
    _ensure_org(ctx, org)
    ds = create_dataset(ctx, data=DatasetCreate(
        name=DATASET, title="부산 주요 통계 (KOSIS 국가통계포털)", title_en="Busan key statistics (KOSIS)",
        notes="통계청 KOSIS OpenAPI에서 수집한 인구·고령화·출생사망·고용·물가·사업체·관광 통계 (데모: 합성 데이터)",
        notes_en="Population, ageing, vital, employment, prices, business and tourism statistics collected from "
                 "Statistics Korea's KOSIS OpenAPI (demo: synthetic figures)",
        owner_org=org, theme="population", access_level="public", update_frequency="monthly", synthetic=True,
        license_id="KOGL-1"))
    ctx.db.commit()
    return ds.id


def _ensure_org(ctx: RequestContext, org: str) -> None:
    from cityhub.auth.schemas import OrganizationCreate
    from cityhub.auth.service import create_organization

    try:
        create_organization(ctx, data=OrganizationCreate(name=org, title="기획조정실", title_en="Planning Office",
                                                         kind="department"))
        ctx.db.commit()
    except Conflict:
        ctx.db.rollback()


def _ensure_source(ctx: RequestContext, name: str, table: dict[str, Any], dataset_id: str) -> bool:
    """Create the table's KOSIS source; False when it exists already (nothing to seed)."""
    from cityhub.collect import service as collect
    from cityhub.collect.schemas import SourceCreate

    try:
        collect.get_source(ctx, id_or_name=name)
        return False
    except NotFound:
        pass
    prds = sorted({r["PRD_DE"] for r in table["rows"]})
    config = {"api_key": "demo-offline", "org_id": table["org_id"], "tbl_id": table["tbl_id"], "itm_id": "ALL",
              "obj_l1": "ALL", "prd_se": table["prd_se"], "start_prd_de": prds[0], "end_prd_de": prds[-1]}
    collect.create_source(ctx, data=SourceCreate(
        name=name, title=f"KOSIS {table['tbl_id']} {table['tbl_nm']}", connector="kosis", dataset=dataset_id,
        config=config, fields=KOSIS_FIELDS, key=KOSIS_KEY, resource_name=table["tbl_nm"],
        update_frequency={"Y": "yearly", "Q": "quarterly", "M": "monthly"}[table["prd_se"]]))
    ctx.db.commit()
    return True


def _run_with(ctx: RequestContext, name: str, payload: Any) -> Any:
    from cityhub.collect import service as collect

    run_id = collect.start_source_run(ctx, id_or_name=name, trigger="replay")
    return collect.finish_source_run(ctx, run_id=run_id, payloads=iter([payload]))


def _ensure_indicator(ctx: RequestContext, entry: tuple[str, ...]) -> bool:
    slug, tbl, item, period, topic, title, title_en, unit, unit_en, definition, definition_en = entry
    if ctx.db.scalar(select(Indicator.id).where(Indicator.slug == slug)):
        refresh_indicator(ctx, slug=slug)
        return False
    create_indicator(ctx, data=IndicatorCreate(
        slug=slug, title=title, title_en=title_en, definition=definition, definition_en=definition_en, topic=topic,
        unit=unit or None, unit_en=unit_en or None, period=period,
        kosis=KosisIndicatorSpec(source=source_name(tbl), item=item, total_code=CITY)))
    return True
