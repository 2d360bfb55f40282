"""Synthetic table rows for the demo city's datasets.

Every generator takes a seeded `random.Random`, a target row count and an optional district (None
means city-wide) and returns `(columns, rows)`. They build plain tuples in tight loops so the big
tables (100k+ rows) take a fraction of a second; the numbers are plausible, never real.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta

from cityhub.demo.districts import District, districts, random_point

Table = tuple[list[str], list[tuple]]
Generator = Callable[[random.Random, int, District | None], Table]
LAT, LON = "위도", "경도"  # the datastore turns these columns into point geometry

START = datetime(2024, 1, 1)
ROADS = ("중앙대로", "가야대로", "해운대로", "수영로", "낙동대로", "번영로", "동서고가로", "광안대로", "만덕대로",
         "충렬대로", "거제대로", "반송로", "공항로", "신선로", "다대로", "신천대로", "구덕로", "황령대로")
METRO = (("1호선", "다대포해수욕장 신평 하단 괴정 사하 대티 서대신 동대신 토성 자갈치 남포 중앙 부산역 초량 부산진 "
                  "좌천 범일 범내골 서면 부전 양정 시청 연산 교대 동래 명륜 온천장 부산대 구서 두실 남산 범어사 노포"),
         ("2호선", "장산 중동 해운대 동백 벡스코 센텀시티 민락 수영 광안 금련산 남천 경성대·부경대 대연 못골 지게골 "
                  "문현 국제금융센터·부산은행 전포 서면 부암 가야 동의대 개금 냉정 주례 감전 사상 덕포 모덕 모라 구남 "
                  "구명 덕천 수정 화명 율리 동원 금곡 호포 증산 부산대양산캠퍼스 남양산 양산"),
         ("3호선", "수영 망미 배산 물만골 연산 거제 종합운동장 사직 미남 만덕 남산정 숙등 덕천 구포 강서구청 "
                  "체육공원 대저"),
         ("4호선", "미남 동래 수안 낙민 충렬사 명장 서동 금사 반여농산물시장 석대 영산대 윗반송 고촌 안평"))
BUS_ROUTES = (5, 10, 31, 40, 41, 51, 63, 83, 86, 100, 139, 179, 1001, 1003)
PLACES = ("중앙", "시장", "역앞", "공원", "주민센터", "사거리", "초등학교", "체육관", "도서관", "해변", "삼거리",
          "터미널")


def _gus(gu: District | None) -> tuple[District, ...]:
    return (gu,) if gu else districts()


def _place(rng: random.Random, d: District) -> str:
    return f"{d.name_ko} {rng.choice(PLACES)}"


def air_quality(rng: random.Random, n: int, gu: District | None) -> Table:
    """Hourly PM10, PM2.5, O3, NO2, CO, SO2 per monitoring station."""
    stations = [(f"{d.name_ko} 측정소" if i == 0 else f"{d.name_ko} 도로변 측정소", d.name_ko, 25 + rng.random() * 20)
                for d in _gus(gu) for i in range(1 if d.area_km2 < 40 or gu else 2)]
    hours = max(1, n // len(stations))
    rows = []
    r = rng.random
    for h in range(hours):
        t = START + timedelta(hours=h)
        stamp = t.strftime("%Y-%m-%d %H:00")
        # Rush hours and winter raise particulates; ozone peaks in the afternoon.
        diurnal = 1.25 if t.hour in (7, 8, 9, 18, 19, 20) else 0.9 if t.hour < 5 else 1.0
        season = 1.3 if t.month in (1, 2, 3, 12) else 0.85 if t.month in (7, 8) else 1.0
        sun = 1.4 if 12 <= t.hour <= 16 else 0.7
        for name, gu_ko, base in stations:
            pm10 = base * diurnal * season * (0.6 + r() * 0.8)
            rows.append((name, gu_ko, stamp, round(pm10), round(pm10 * (0.45 + r() * 0.2)),
                         round(0.02 * sun * (0.6 + r() * 0.8), 3), round(0.018 * diurnal * (0.5 + r()), 3),
                         round(0.4 + r() * 0.3, 1), round(0.002 + r() * 0.003, 4)))
    return ["측정소명", "구군", "측정일시", "PM10(㎍/㎥)", "PM2.5(㎍/㎥)", "오존(ppm)", "이산화질소(ppm)",
            "일산화탄소(ppm)", "아황산가스(ppm)"], rows


def bus_boardings(rng: random.Random, n: int, gu: District | None) -> Table:
    """Boardings and alightings per stop and hour."""
    stops = []
    for d in _gus(gu):
        for i in range(max(3, round(d.population / 12000))):
            stops.append((f"{d.code[2:]}{i:03d}", f"{_place(rng, d)} 정류소", d.name_ko,
                          str(rng.choice(BUS_ROUTES)), 2 + rng.random() * 30))
    per_hour = max(1, n // (len(stops) * 24))
    rows = []
    r = rng.random
    for day in range(per_hour):
        d0 = START + timedelta(days=day)
        for hour in range(24):
            stamp = (d0 + timedelta(hours=hour)).strftime("%Y-%m-%d %H:00")
            peak = 2.5 if hour in (7, 8, 18) else 1.6 if hour in (9, 17, 19) else 0.1 if hour < 5 else 1.0
            for stop_id, stop_name, gu_ko, route, base in stops:
                on = int(base * peak * (0.5 + r()))
                rows.append((stamp, route, stop_id, stop_name, gu_ko, on, int(on * (0.7 + r() * 0.6))))
    return ["일시", "노선번호", "정류소ID", "정류소명", "구군", "승차인원", "하차인원"], rows


def traffic_speed(rng: random.Random, n: int, gu: District | None) -> Table:
    """Average speed and volume per road link every five minutes."""
    links = [(f"L{1000 + i}", road, d.name_ko, 35 + rng.random() * 35)
             for i, (road, d) in enumerate((rng.choice(ROADS), d) for d in _gus(gu) for _ in range(12))]
    steps = max(1, n // len(links))
    rows = []
    r = rng.random
    for s in range(steps):
        t = START + timedelta(minutes=5 * s)
        stamp = t.strftime("%Y-%m-%d %H:%M")
        jam = 0.55 if t.hour in (8, 18) else 0.75 if t.hour in (7, 9, 17, 19) else 1.1 if t.hour < 6 else 1.0
        for link, road, gu_ko, free in links:
            speed = free * jam * (0.8 + r() * 0.3)
            rows.append((link, road, gu_ko, stamp, round(speed, 1), int((90 - speed) * 3 * (0.6 + r()))))
    return ["링크ID", "도로명", "구군", "측정일시", "평균속도(km/h)", "교통량(대)"], rows


def metro_ridership(rng: random.Random, n: int, gu: District | None) -> Table:
    """Daily entries and exits per metro station."""
    stations = [(line, name, 3000 + rng.random() * 40000) for line, names in METRO for name in names.split()]
    days = max(1, n // len(stations))
    rows = []
    r = rng.random
    for day in range(days):
        t = START + timedelta(days=day)
        stamp = t.strftime("%Y-%m-%d")
        weekend = 0.65 if t.weekday() >= 5 else 1.0
        for line, name, base in stations:
            on = int(base * weekend * (0.85 + r() * 0.3))
            rows.append((stamp, line, name, on, int(on * (0.9 + r() * 0.2))))
    return ["일자", "호선", "역명", "승차인원", "하차인원"], rows


def facilities(kinds: Sequence[str], capacity: str, low: int, high: int, *, suffix: str = "",
               extra: tuple[str, Sequence[str]] | None = None) -> Generator:
    """A geo-located facility list (parking lots, CCTV, shelters, ...) with lat/lon in each district."""

    def generate(rng: random.Random, n: int, gu: District | None) -> Table:
        gus = _gus(gu)
        rows = []
        for i in range(n):
            d = gus[i % len(gus)]
            lat, lon = random_point(d, rng)
            kind = rng.choice(kinds)
            row = [f"{d.code}-{i + 1:05d}", f"{_place(rng, d)} {kind}{suffix}", kind, d.name_ko,
                   f"부산광역시 {d.name_ko} {rng.choice(ROADS)} {rng.randint(1, 400)}", lat, lon,
                   rng.randint(low, high), 2005 + rng.randint(0, 19)]
            if extra:
                row.append(rng.choice(extra[1]))
            rows.append(tuple(row))
        cols = ["관리번호", "시설명", "구분", "구군", "소재지도로명주소", LAT, LON, capacity, "설치연도"]
        return cols + ([extra[0]] if extra else []), rows

    return generate


def monthly_stats(categories: Sequence[str], measures: Sequence[tuple[str, int, int]], *,
                  months: int = 36, period: str = "month") -> Generator:
    """Counts per period, district and category (complaints, waste, accidents, openings, ...)."""

    def generate(rng: random.Random, n: int, gu: District | None) -> Table:
        gus = _gus(gu)
        rows = []
        for m in range(months):
            year, month = 2022 + m // 12, m % 12 + 1
            label = f"{year}-{month:02d}" if period == "month" else f"{year}-Q{(month - 1) // 3 + 1}"
            if period == "quarter" and month % 3 != 1:
                continue
            for d in gus:
                scale = d.population / 200000
                for cat in categories:
                    rows.append((label, d.name_ko, cat,
                                 *(int(rng.randint(lo, hi) * scale) for _, lo, hi in measures)))
                    if len(rows) >= n:
                        return cols, rows
        return cols, rows

    cols = ["기준연월" if period == "month" else "기준분기", "구군", "구분", *(name for name, _, _ in measures)]
    return generate


def daily_stats(categories: Sequence[str], measure: str, low: int, high: int) -> Generator:
    """Counts per day, district and category (dispatches, payments, visitors, complaints)."""

    def generate(rng: random.Random, n: int, gu: District | None) -> Table:
        gus = _gus(gu)
        per_day = len(gus) * len(categories)
        rows = []
        for day in range(max(1, n // per_day)):
            t = START + timedelta(days=day)
            stamp = t.strftime("%Y-%m-%d")
            weekend = 0.7 if t.weekday() >= 5 else 1.0
            for d in gus:
                scale = d.population / 200000 * weekend
                for cat in categories:
                    rows.append((stamp, d.name_ko, cat, int(rng.randint(low, high) * scale)))
        return ["일자", "구군", "구분", measure], rows

    return generate


def population(rng: random.Random, n: int, gu: District | None) -> Table:
    """Registered residents per month, district and five-year age band."""
    bands = [f"{a}~{a + 4}세" for a in range(0, 100, 5)] + ["100세 이상"]
    weights = [0.035, 0.04, 0.042, 0.045, 0.055, 0.06, 0.062, 0.065, 0.07, 0.075, 0.08, 0.08, 0.075,
               0.065, 0.05, 0.035, 0.025, 0.015, 0.008, 0.003, 0.001]
    rows = []
    for m in range(max(1, n // (len(bands) * len(_gus(gu))))):
        label = (date(2020, 1, 1) + timedelta(days=31 * m)).strftime("%Y-%m")
        for d in _gus(gu):
            drift = 1 - 0.0008 * m
            for band, w in zip(bands, weights, strict=True):
                total = int(d.population * w * drift * (0.97 + rng.random() * 0.06))
                men = int(total * (0.47 + rng.random() * 0.05))
                rows.append((label, d.code, d.name_ko, band, men, total - men, total))
    return ["기준연월", "시군구코드", "구군", "연령대", "남자", "여자", "계"], rows


def budget(rng: random.Random, n: int, gu: District | None) -> Table:
    """Monthly spending against budget per policy area (thousand won)."""
    areas = ("일반공공행정", "공공질서및안전", "교육", "문화및관광", "환경", "사회복지", "보건", "농림해양수산",
             "산업·중소기업및에너지", "교통및물류", "국토및지역개발", "예비비")
    rows = []
    for area in areas:
        planned = rng.randint(50, 2500) * 1_000_000
        spent = 0
        for month in range(1, 13):
            spent = min(planned, spent + int(planned / 12 * (0.6 + rng.random() * 0.7)))
            rows.append(("2024", month, area, planned, spent, round(spent / planned * 100, 1)))
    return ["회계연도", "월", "분야", "예산현액(천원)", "누적집행액(천원)", "집행률(%)"], rows[:n]


def events(rng: random.Random, n: int, gu: District | None) -> Table:
    """Festivals and events with dates, venue and expected visitors."""
    kinds = ("축제", "공연", "전시", "체육행사", "불꽃축제", "영화제", "야시장")
    rows = []
    for i in range(n):
        d = rng.choice(_gus(gu))
        start = date(2024, 1, 1) + timedelta(days=rng.randint(0, 360))
        kind = rng.choice(kinds)
        lat, lon = random_point(d, rng)
        rows.append((f"E{i + 1:04d}", f"{d.name_ko} {rng.choice(PLACES)} {kind}", kind, d.name_ko,
                     start.isoformat(), (start + timedelta(days=rng.randint(0, 9))).isoformat(),
                     rng.randint(1, 300) * 100, lat, lon))
    return ["행사ID", "행사명", "구분", "구군", "시작일", "종료일", "예상방문객", LAT, LON], rows


def incidents(rng: random.Random, n: int, gu: District | None) -> Table:
    """Disaster and safety situation reports (time, type, district, damage)."""
    kinds = ("호우", "강풍", "폭염", "한파", "화재", "교통사고", "붕괴위험", "침수", "정전")
    rows = []
    for i in range(n):
        d = rng.choice(_gus(gu))
        t = START + timedelta(minutes=rng.randint(0, 525_000))
        rows.append((f"R{i + 1:05d}", t.strftime("%Y-%m-%d %H:%M"), rng.choice(kinds), d.name_ko,
                     rng.randint(0, 3), rng.randint(0, 12), rng.choice(("접수", "조치중", "종결", "종결"))))
    return ["보고번호", "발생일시", "유형", "구군", "인명피해", "재산피해(건)", "처리상태"], rows
