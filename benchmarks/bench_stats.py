"""Statistics figures: a chart over 10,000,000 rows by district and month, and an indicator page's data.

Chart: ours = the chart service end to end (policy, column check through the sandbox, the rollup kept
for the saved chart) against the raw engine = the same chart's generated SQL as a plain scan on an
open sqlite3 connection (what the chart would cost without a rollup). Also prints the rollup's build
time (paid once per import, in the background). Indicator: the page data of "population" with three
districts (indicator, source freshness, city + district series, latest comparison with year-on-year
change) from the 27 demo indicators seeded through the KOSIS parser.

`python -m benchmarks.bench_stats [rows]` (default 10,000,000; the table is generated inside SQLite).
"""

from __future__ import annotations

import io
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

DISTRICTS = ["중구", "서구", "동구", "영도구", "부산진구", "동래구", "남구", "북구", "해운대구", "사하구",
             "금정구", "강서구", "연제구", "수영구", "사상구", "기장군"]
TWO_YEARS = 2 * 365 * 86400
START = 1704067200  # 2024-01-01T00:00:00Z


def _ms(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000


def _system(settings):  # noqa: ANN001, ANN202
    from cityhub.cli import system_ctx

    return system_ctx(settings)


def _fill(db_path: Path, table: str, rows: int) -> float:
    """rows readings spread over two years and 16 districts, generated inside SQLite."""
    started = time.perf_counter()
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TEMP TABLE d (k INTEGER PRIMARY KEY, name TEXT)")
    conn.executemany("INSERT INTO d VALUES (?, ?)", list(enumerate(DISTRICTS)))
    conn.execute(f"DELETE FROM \"{table}\"")
    conn.execute(f"""
        INSERT INTO "{table}" (measured, district, pm25, traffic)
        WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < {rows})
        SELECT strftime('%Y-%m-%dT%H:%M:%S', {START} + (i * 631) % {TWO_YEARS}, 'unixepoch'), d.name,
               5.0 + (i * 37) % 80, (i * 13) % 2000
        FROM s JOIN d ON d.k = i % 16""")
    conn.commit()
    conn.close()
    return time.perf_counter() - started


def chart_bench(settings, rows: int) -> None:  # noqa: ANN001
    from cityhub.catalog import service as catalog
    from cityhub.catalog.schemas import DatasetCreate, ResourceCreate
    from cityhub.datastore.models import DatastoreTable
    from cityhub.stats import rollups, sqlgen
    from cityhub.stats import service_charts as charts
    from cityhub.stats.schemas_charts import ChartCreate, ChartSpec

    with _system(settings) as ctx:
        from cityhub.auth.schemas import OrganizationCreate
        from cityhub.auth.service import create_organization

        create_organization(ctx, data=OrganizationCreate(name="env", title="환경국", kind="department"))
        catalog.create_dataset(ctx, data=DatasetCreate(name="air-history", title="대기질 이력", owner_org="env"))
        sample = "measured,district,pm25,traffic\n2024-01-01T00:00:00,중구,10.5,100\n".encode()
        res = catalog.create_resource(ctx, dataset="air-history", data=ResourceCreate(name="air.csv"),
                                      upload=io.BytesIO(sample), filename="air.csv")
    db_path = Path(settings.database_url.removeprefix("sqlite:///"))
    fill = _fill(db_path, res.id, rows)
    with _system(settings) as ctx:
        catalog.mark_datastore(ctx, resource_id=res.id, table=res.id, row_count=rows)
        ctx.db.get(DatastoreTable, res.id).row_count = rows
    spec = ChartSpec.model_validate({
        "type": "line", "source": {"resource_id": res.id}, "x": {"column": "measured", "bucket": "month"},
        "series": "district", "y": [{"column": "pm25", "agg": "avg"}, {"agg": "count"}],
        "time_column": "measured", "district_column": "district"})
    text = sqlgen.render(charts.build_query(_FakeSource(res.id), spec, None, "sqlite"), "sqlite")
    raw = sqlite3.connect(db_path)
    started = time.perf_counter()
    plain_rows = raw.execute(text).fetchall()
    plain = time.perf_counter() - started
    raw.close()

    with _system(settings) as ctx:
        chart = charts.create_chart(ctx, data=ChartCreate(title="PM2.5 by district and month", spec=spec))
        cube, table = charts.plan_rollup(ctx, spec)
        cube_id = cube.id
    with _system(settings) as ctx:
        from cityhub.stats.models import Cube

        built = rollups.build(ctx.db, ctx.db.get(Cube, cube_id), source_table=table)
        build_s, cube_rows = built.build_seconds, built.cube_rows
    samples = []
    with _system(settings) as ctx:
        for _ in range(15):
            started = time.perf_counter()
            data = charts.saved_chart_data(ctx, chart_id=chart.id)
            samples.append(time.perf_counter() - started)
        assert data.engine == "rollup", data.engine
        assert len(data.rows) == len(plain_rows), (len(data.rows), len(plain_rows))
        filtered = []
        from datetime import date

        from cityhub.stats.schemas_charts import ViewFilters

        for _ in range(15):
            started = time.perf_counter()
            charts.saved_chart_data(ctx, chart_id=chart.id, view=ViewFilters(
                date_from=date(2024, 6, 1), date_to=date(2025, 5, 31), district="해운대구"))
            filtered.append(time.perf_counter() - started)
    p50, p95 = _ms(samples)
    f50, f95 = _ms(filtered)
    print(f"chart over {rows:,} rows by district and month ({len(data.rows)} points)")
    print(f"  table generated in SQLite:          {fill:8.1f} s")
    print(f"  rollup build (once per import):     {build_s:8.1f} s  ({cube_rows:,} rollup rows)")
    print(f"  ours, chart data (service):         p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   target <= 500 ms")
    print(f"  ours, with date range + district:   p50 {f50:7.1f} ms   p95 {f95:7.1f} ms")
    print(f"  raw engine, plain SQLite scan:      {plain * 1000:9.1f} ms  (same generated SQL, no rollup)")


class _FakeSource:
    """The chart's table as build_query needs it (columns known), to print the plain-scan SQL."""

    def __init__(self, rid: str) -> None:
        from cityhub.stats import sqlgen

        self.table, self.cte, self.resource_id = sqlgen.table(rid), None, rid
        self.types = {"measured": "text", "district": "text", "pm25": "numeric", "traffic": "int"}


def indicator_bench(settings) -> None:  # noqa: ANN001
    from cityhub.stats import service_figures as figures
    from cityhub.stats.kosis_demo import seed_statistics

    with _system(settings) as ctx:
        started = time.perf_counter()
        report = seed_statistics(ctx)
        seeded = time.perf_counter() - started
    from cityhub.ctx import ANONYMOUS

    samples = []
    with _system(settings) as ctx:
        citizen = ctx.with_actor(ANONYMOUS)
        for _ in range(60):
            started = time.perf_counter()
            page = figures.page(citizen, slug="population", districts=["해운대구", "강서구", "중구"])
            samples.append(time.perf_counter() - started)
    from fastapi.testclient import TestClient

    from cityhub.app import create_app

    http = []
    with TestClient(create_app(settings)) as client:
        url = "/api/v1/stats/indicators/population/page?district=해운대구,강서구,중구"
        for _ in range(60):
            started = time.perf_counter()
            assert client.get(url).status_code == 200
            http.append(time.perf_counter() - started)
    h50, h95 = _ms(http[10:])
    p50, p95 = _ms(samples[10:])
    print(f"indicator page data (population, city + 3 districts, {len(page.comparison.districts)} districts "
          f"compared); {report['indicators']} indicators seeded in {seeded:.1f} s")
    print(f"  ours, page data (service, citizen): p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   target <= 50 ms")
    print(f"  ours, page data (HTTP, in-process): p50 {h50:7.1f} ms   p95 {h95:7.1f} ms")


def main(rows: int = 10_000_000) -> None:
    from cityhub.migrations.runner import upgrade
    from cityhub.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", secret_key="bench", log_json=True)
        settings.ensure_dirs()
        upgrade(settings)
        import logging

        logging.disable(logging.WARNING)
        indicator_bench(settings)
        chart_bench(settings, rows)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000)
