"""Turn the demo topics into a deterministic, ordered list of dataset plans.

The order interleaves themes so that any prefix covers all eight: first every topic once (city-wide
topics, and each district topic for one district), then more districts round by round. A plan's
slug depends only on its position, so seeding `n` datasets twice yields the same `n` slugs, and
asking for more later only adds.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date

from cityhub.catalog.schemas import THEMES, DatasetCreate
from cityhub.demo import documents
from cityhub.demo.districts import District, districts
from cityhub.demo.organizations import CITY_PUBLISHERS, EMAIL_DOMAIN
from cityhub.demo.rows import Table
from cityhub.demo.topics import DISTRICT, TOPICS, Topic

SYNTHETIC_KO = "※ 합성 데이터: cityhub 데모를 위해 생성한 가상의 자료이며 실제 부산광역시 통계가 아닙니다."
SYNTHETIC_EN = "Synthetic data: generated for the cityhub demo; these are not real Busan figures."


@dataclass(frozen=True)
class ResourcePlan:
    name: str
    filename: str
    format: str
    description: str
    build: Callable[[], bytes] = field(repr=False)


@dataclass(frozen=True)
class DatasetPlan:
    data: DatasetCreate
    resources: tuple[ResourcePlan, ...]
    big: bool  # a table of 100k+ rows at full scale


def _interleaved_topics() -> list[Topic]:
    """Topics in round-robin theme order (transport, environment, ..., transport, ...)."""
    by_theme = [[t for t in TOPICS if t.theme == theme] for theme in THEMES]
    return [t for group in itertools.zip_longest(*by_theme) for t in group if t is not None]


def _slots() -> Iterator[tuple[Topic, District | None]]:
    topics = _interleaved_topics()
    district_topics = [t for t in topics if t.owner == DISTRICT]
    gus = districts()
    for i, topic in enumerate(topics):
        yield topic, (gus[i % len(gus)] if topic.owner == DISTRICT else None)
    # Later rounds rotate the districts so every district appears early on.
    offsets = {t.key: i for i, t in enumerate(topics)}
    for rnd in range(1, len(gus)):
        for topic in district_topics:
            yield topic, gus[(offsets[topic.key] + rnd) % len(gus)]


def catalogue_size() -> int:
    return sum(1 for _ in _slots())


def plan_datasets(n: int, *, rows_scale: float = 1.0) -> list[DatasetPlan]:
    """The first `n` dataset plans (at most `catalogue_size()`)."""
    return [_plan(position, topic, gu, rows_scale) for position, (topic, gu) in
            zip(range(n), _slots(), strict=False)]


def _fill(text: str, gu: District | None) -> str:
    return text.format(gu=gu.name_ko, gu_en=gu.name_en) if gu else text


def _access(topic: Topic, position: int) -> str:
    # Most district data is public; a few district datasets are kept for city staff.
    if topic.owner == DISTRICT and topic.access == "public":
        if position % 11 == 7:
            return "internal"
        if position % 23 == 5:  # restricted: only the district's own staff (and grantees) see it
            return "restricted"
    return topic.access


def _plan(position: int, topic: Topic, gu: District | None, rows_scale: float) -> DatasetPlan:
    slug = f"{gu.slug}-{topic.key}" if gu else topic.key
    owner = gu.slug if gu else topic.owner
    owner_title = gu.name_ko if gu else next(p.title for p in CITY_PUBLISHERS if p.name == topic.owner)
    steward = f"steward.{topic.owner}@{EMAIL_DOMAIN}" if not gu else f"admin@{EMAIL_DOMAIN}"
    spatial = f"부산광역시 {gu.name_ko} ({gu.code})" if gu else "부산광역시 (26)"
    data = DatasetCreate(
        name=slug, title=_fill(topic.title, gu), title_en=_fill(topic.title_en, gu),
        notes=f"{_fill(topic.notes, gu)}\n\n{SYNTHETIC_KO}", notes_en=f"{_fill(topic.notes_en, gu)}\n\n{SYNTHETIC_EN}",
        keywords=[*topic.keywords, *( [gu.name_ko] if gu else ["부산"] ), "합성데이터"],
        theme=topic.theme, owner_org=owner, access_level=_access(topic, position), license_id=topic.license,
        update_frequency=topic.frequency, spatial=spatial, temporal_start=date(2024, 1, 1) if topic.table else None,
        temporal_end=date(2024, 12, 31) if topic.table else None, contact_name=f"{owner_title} 데이터 담당",
        contact_email=steward, maintainer=f"{owner_title} 데이터 담당", maintainer_email=steward,
        synthetic=True,
        extras={"synthetic": "true", "district_code": gu.code if gu else "26", "source": "cityhub demo generator"},
    )
    rows = max(10, int(topic.rows * rows_scale)) if topic.table else 0
    return DatasetPlan(data=data, resources=tuple(_resources(topic, gu, slug, rows)),
                       big=topic.rows >= 100_000)


def _resources(topic: Topic, gu: District | None, slug: str, rows: int) -> Iterator[ResourcePlan]:
    if topic.table is None:
        return
    generator = topic.table
    made: list[Table] = []

    def table() -> Table:
        # Built on first use and shared by the CSV, GeoJSON and chart of the same dataset.
        if not made:
            made.append(generator(random.Random(slug), rows, gu))
        return made[0]

    title = _fill(topic.title, gu)
    base = slug.replace("-", "_")
    if "xlsx" in topic.files:
        yield ResourcePlan(f"{title} (엑셀)", f"{base}.xlsx", "XLSX", "합성 데이터 · synthetic",
                           lambda: documents.xlsx_bytes(table()))
    else:
        encoding = "cp949" if "cp949" in topic.files else "utf-8"
        note = "CP949 인코딩 · CP949-encoded" if encoding == "cp949" else "UTF-8"
        yield ResourcePlan(f"{title} (CSV)", f"{base}.csv", "CSV", f"합성 데이터 · synthetic · {note}",
                           lambda: documents.csv_bytes(table(), encoding=encoding))
    if "geojson" in topic.files:
        yield ResourcePlan(f"{title} (GeoJSON)", f"{base}.geojson", "GeoJSON", "합성 데이터 · synthetic · points",
                           lambda: documents.geojson_bytes(table()))
    if "chart" in topic.files:
        yield ResourcePlan(f"{title} 그래프 (PNG)", f"{base}_chart.png", "PNG",
                           "구·군별 평균 PM10 막대그래프 · mean PM10 per district (synthetic)",
                           lambda: documents.bar_chart_png(_district_means(table())))
    if "spec" in topic.files:
        yield ResourcePlan(f"{title} 데이터 명세서 (PDF)", f"{base}_spec.pdf", "PDF",
                           "데이터 명세서 · data specification (synthetic)",
                           lambda: documents.pdf_document(_spec_lines(topic, table())))


def _district_means(table: Table) -> list[float]:
    """Mean of the first numeric column per district (column 1 names the district)."""
    cols, rows = table
    sums: dict[str, list[float]] = {}
    value_col = 3
    for row in rows:
        acc = sums.setdefault(row[1], [0.0, 0])
        acc[0] += row[value_col]
        acc[1] += 1
    return [s / max(1, k) for s, k in sums.values()]


def _spec_lines(topic: Topic, table: Table) -> list[str]:
    cols, rows = table
    return [
        f"Data specification: {topic.title_en}",
        "SYNTHETIC DATA - generated for the cityhub demo, not real Busan figures.",
        f"Theme: {topic.theme}   Update frequency: {topic.frequency}   Licence: {topic.license}",
        f"Rows: {len(rows):,}   Columns: {len(cols)}",
        "",
        *(f"Column {i + 1}: {c.encode('ascii', 'ignore').decode() or '(Korean header)'}" for i, c in enumerate(cols)),
    ]
