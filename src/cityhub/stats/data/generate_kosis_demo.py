"""Writes kosis_demo.json.gz: synthetic KOSIS answers for the demo city (run by developers, output committed).

Each table is a list of rows exactly as KOSIS statisticsParameterData answers (string DT, PRD_SE "A"
for some yearly tables, C1 codes of Busan's districts with 26 = the whole city), so the demo seeds
them through the KOSIS connector's own parser. Figures are made up but shaped like Busan's: a city
that shrinks and ages, two districts (Gangseo, Gijang) that grow.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import random
from pathlib import Path

HERE = Path(__file__).parent
DISTRICTS = list(csv.DictReader((HERE.parents[1] / "demo" / "busan_districts.csv").open(encoding="utf-8")))
YEARS = list(range(2015, 2025))
QUARTERS = [f"{y}{q}" for y in range(2019, 2025) for q in range(1, 5)]
MONTHS = [f"{y}{m:02d}" for y in range(2020, 2025) for m in range(1, 13)]
OLD = {"26110": 0.09, "26170": 0.09, "26200": 0.08, "26140": 0.07}  # old town centres age fastest
GROWING = {"26440": 0.045, "26710": 0.03}

ITEMS = {  # tbl_id -> (tbl_nm, prd_se, [(itm_id, itm_nm, itm_nm_eng, unit_nm, unit_nm_eng)], by_district)
    "DT_1B040A3": ("행정구역(시군구)별 성별 인구수", "Y", [("T20", "총인구수", "Total population", "명", "Person"),
                                             ("T21", "남자인구수", "Male population", "명", "Person"),
                                             ("T22", "여자인구수", "Female population", "명", "Person")], True),
    "DT_1B040B3": ("행정구역(시군구)별 세대수", "Y", [("T1", "세대수", "Households", "세대", "Household"),
                                          ("T2", "세대당 인구", "Persons per household", "명", "Person")], True),
    "DT_1B04005N": ("행정구역(시군구)별 연령별 인구", "Y", [
        ("T65", "65세 이상 인구", "Population aged 65+", "명", "Person"),
        ("T65R", "고령인구비율", "Share aged 65+", "%", "%"),
        ("T014", "유소년인구(0-14세)", "Population aged 0-14", "명", "Person"),
        ("AGI", "노령화지수", "Ageing index", "-", "-")], True),
    "DT_1B8000F": ("시군구별 출생·사망", "Y", [
        ("B1", "출생아수", "Live births", "명", "Person"), ("D1", "사망자수", "Deaths", "명", "Person"),
        ("B2", "조출생률", "Crude birth rate", "천명당", "Per 1,000"),
        ("D2", "조사망률", "Crude death rate", "천명당", "Per 1,000"),
        ("N1", "자연증가", "Natural increase", "명", "Person")], True),
    "DT_1B83A35": ("시군구별 혼인·이혼", "Y", [("M1", "혼인건수", "Marriages", "건", "Case"),
                                         ("V1", "이혼건수", "Divorces", "건", "Case")], True),
    "DT_1ES3A03": ("시도별 경제활동인구", "Q", [("E1", "고용률", "Employment rate", "%", "%"),
                                        ("E2", "실업률", "Unemployment rate", "%", "%"),
                                        ("E3", "경제활동인구", "Economically active population", "천명",
                                         "Thousand persons")], False),
    "DT_1J22003": ("시도별 소비자물가지수(2020=100)", "M", [
        ("P0", "총지수", "All items", "2020=100", "2020=100"),
        ("P1", "식료품 및 비주류음료", "Food and non-alcoholic beverages", "2020=100", "2020=100")], False),
    "DT_1K52B01": ("시군구별 사업체수 및 종사자수", "Y", [("S1", "사업체수", "Businesses", "개", "Number"),
                                                ("S2", "종사자수", "Persons employed", "명", "Person")], True),
    "DT_1EE0003": ("시군구별 신설법인", "Q", [("C1N", "신설법인수", "New corporations", "개", "Number")], True),
    "DT_TOUR_FRN": ("외래관광객 방문", "M", [("F1", "외국인 관광객", "Foreign visitors", "명", "Person")], False),
    "DT_1B040M5": ("시군구별 외국인주민", "Y", [("R1", "외국인주민수", "Foreign residents", "명", "Person")], True),
    "DT_1YL20711": ("시군구별 자동차 등록대수", "Y", [("V2", "자동차등록대수", "Registered vehicles", "대",
                                                  "Vehicle")], True),
}


def _regions(by_district: bool) -> list[tuple[str, str, str, float]]:
    city = ("26", "부산광역시", "Busan", 0.0)
    if not by_district:
        return [city]
    return [city] + [(d["sigungu_code"], d["name_ko"], d["name_en"], 0.0) for d in DISTRICTS]


def _pop(code: str, year: int) -> float:
    base = {d["sigungu_code"]: float(d["population"]) for d in DISTRICTS}
    if code == "26":
        return sum(_pop(c, year) for c in base)
    return base[code] * (1 + GROWING.get(code, -0.008)) ** (year - 2024)


def _share65(code: str, year: int) -> float:
    if code == "26":
        return sum(_share65(c, year) * _pop(c, year) for c in _codes()) / _pop("26", year)
    start = 0.13 + OLD.get(code, 0.0) - (0.05 if code in GROWING else 0.0)
    return start + (year - 2015) * (0.0095 + OLD.get(code, 0) / 30)


def _codes() -> list[str]:
    return [d["sigungu_code"] for d in DISTRICTS]


def value(tbl: str, item: str, code: str, prd: str, rnd: random.Random) -> float | None:
    year = int(prd[:4])
    pop = _pop(code, year) if code != "26" or tbl not in ("DT_1ES3A03", "DT_1J22003", "DT_TOUR_FRN") else \
        _pop("26", year)
    if tbl == "DT_1B040A3":
        return round(pop * {"T20": 1, "T21": 0.487, "T22": 0.513}[item])
    if tbl == "DT_1B040B3":
        size = 2.45 - (year - 2015) * 0.035
        return round(pop / size) if item == "T1" else round(size, 2)
    if tbl == "DT_1B04005N":
        s65 = _share65(code, year)
        s014 = max(0.07, 0.125 - (year - 2015) * 0.004 + (0.03 if code in GROWING else 0) - OLD.get(code, 0) / 3)
        return {"T65": round(pop * s65), "T65R": round(s65 * 100, 1), "T014": round(pop * s014),
                "AGI": round(s65 / s014 * 100, 1)}[item]
    if tbl == "DT_1B8000F":
        cbr = 8.2 - (year - 2015) * 0.42 + (2.0 if code in GROWING else 0)
        cdr = 5.6 + (year - 2015) * 0.22 + OLD.get(code, 0) * 20
        births, deaths = round(pop * cbr / 1000), round(pop * cdr / 1000)
        return {"B1": births, "D1": deaths, "B2": round(cbr, 1), "D2": round(cdr, 1), "N1": births - deaths}[item]
    if tbl == "DT_1B83A35":
        return round(pop * ((4.9 - (year - 2015) * 0.2) if item == "M1" else 2.0) / 1000)
    if tbl == "DT_1ES3A03":
        q = int(prd[4])
        return {"E1": round(56.5 + (year - 2019) * 0.5 + (q in (2, 3)) * 0.6 - (year == 2020) * 1.8, 1),
                "E2": round(3.9 - (year - 2019) * 0.15 + (year == 2020) * 0.9 + (q == 1) * 0.5, 1),
                "E3": round(1740 - (year - 2019) * 6 + rnd.uniform(-5, 5))}[item]
    if tbl == "DT_1J22003":
        months = (year - 2020) * 12 + int(prd[4:]) - 1
        rate = 0.0045 if year in (2022, 2023) else 0.0018
        base = 100 * (1 + rate) ** months if item == "P0" else 100 * (1 + rate * 1.4) ** months
        return round(base + rnd.uniform(-0.15, 0.15), 2)
    if tbl == "DT_1K52B01":
        firms = pop * 0.085 * (1 + (year - 2015) * 0.01) * (2.4 if code in ("26110", "26230") else 1)
        return round(firms) if item == "S1" else round(firms * 4.3)
    if tbl == "DT_1EE0003":
        q = int(prd[4])
        return max(1, round(pop / 1000 * 0.42 * (1 + (q == 1) * 0.2) * (1 - (year == 2020) * 0.1)
                            + rnd.uniform(-3, 3)))
    if tbl == "DT_TOUR_FRN":
        month = int(prd[4:])
        covid = {2020: 0.12, 2021: 0.05, 2022: 0.25, 2023: 0.7, 2024: 0.95}[year] if month > 2 or year > 2020 else 1
        return round(230000 * covid * (1 + 0.25 * math.sin((month - 4) / 12 * 2 * math.pi)))
    if tbl == "DT_1B040M5":
        return round(pop * (0.018 + (year - 2015) * 0.0012) * (2 if code in ("26530", "26440") else 1))
    if tbl == "DT_1YL20711":
        return round(pop * (0.38 + (year - 2015) * 0.008))
    return None


def build() -> dict:
    rnd = random.Random(2026)
    tables = []
    for tbl, (name, prd_se, items, by_district) in ITEMS.items():
        prds = {"Y": [str(y) for y in YEARS], "Q": QUARTERS, "M": MONTHS}[prd_se]
        rows = []
        for prd in prds:
            for code, nm, nm_eng, _ in _regions(by_district):
                for itm, itm_nm, itm_eng, unit, unit_eng in items:
                    v = value(tbl, itm, code, prd, rnd)
                    dt = "-" if v is None else (str(int(v)) if float(v).is_integer() else str(v))
                    rows.append({"ORG_ID": "101", "TBL_ID": tbl, "TBL_NM": name, "C1": code, "C1_NM": nm,
                                 "C1_NM_ENG": nm_eng, "C1_OBJ_NM": "행정구역(시군구)별", "ITM_ID": itm,
                                 "ITM_NM": itm_nm, "ITM_NM_ENG": itm_eng, "UNIT_NM": unit, "UNIT_NM_ENG": unit_eng,
                                 "PRD_SE": "A" if prd_se == "Y" else prd_se, "PRD_DE": prd, "DT": dt,
                                 "LST_CHN_DE": "2025-06-30"})
        tables.append({"org_id": "101", "tbl_id": tbl, "tbl_nm": name, "prd_se": prd_se, "rows": rows})
    return {"generated": "synthetic, shaped like KOSIS statisticsParameterData answers", "tables": tables}


if __name__ == "__main__":
    data = json.dumps(build(), ensure_ascii=False).encode()
    (HERE / "kosis_demo.json.gz").write_bytes(gzip.compress(data, mtime=0))
    print(f"{len(data):,} bytes")
