"""Governance figures, each with its reference measured in the same run:

- validation: import time of a 1,000,000-row CSV with 10 constrained fields, with the dataset's schema
  (every row checked, bad rows quarantined) against the same file into a dataset without a schema.
  Target: validation adds <= 20 %.
- personal-data scan of the same file (the scan runs on every upload). Target: <= 3 s.

- quality: the score update of a 10,000,000-row dataset after a run of 10,000 rows (incremental, from
  the run's own rows) against a full rescan of the table (null counts per column in SQL). Target: <= 2 s.

- versions: a real big table (default 1,000,000 rows) changed twice and rolled back to the first change's
  version: each change's commit with its in-engine version copy, the background recording (diff), and
  the roll-back, against the raw engine doing the same rows (`CREATE TABLE … AS SELECT` of the table,
  `DELETE` + `INSERT … SELECT` from the copy) in the same run. Wall and CPU seconds of this process
  (SQLite runs in it) and the load average beside each figure.

- fed versions: CPU per collection batch of 1,000 rows (500 updated, 500 new) on a 1,000,000-row fed
  table through the datastore's upsert with its version (delta: watermark and before-images, the
  version's outbox row), against the bare upsert (the same INSERT … ON CONFLICT executemany and commit,
  no versions) on a twin table, and the full-table copy each batch paid before deltas. SQLite, in this
  process, so process CPU is all of it.

`--rows` / `--quality-rows` / `--rollback-rows` scale the tables down for a quick run; `--only` picks parts.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

CODES = ["26110", "26140", "26170", "26200", "26230", "26260", "26290", "26320", "26350", "26380", "26410",
         "26440", "26470", "26500", "26530", "26710"]
SCHEMA = {"fields": [
    {"name": "측정ID", "type": "string", "constraints": {"required": True, "unique": True, "pattern": "M[0-9]{7}"}},
    {"name": "시군구코드", "type": "string", "codeList": "busan-district"},
    {"name": "측정일시", "type": "datetime", "constraints": {"required": True}},
    {"name": "PM10", "type": "number", "constraints": {"minimum": 0, "maximum": 1000}},
    {"name": "PM25", "type": "number", "constraints": {"minimum": 0, "maximum": 500}},
    {"name": "등급", "type": "string", "constraints": {"enum": ["좋음", "보통", "나쁨", "매우나쁨"]}},
    {"name": "기온", "type": "number", "constraints": {"minimum": -30, "maximum": 50}},
    {"name": "습도", "type": "integer", "constraints": {"minimum": 0, "maximum": 100}},
    {"name": "측정소명", "type": "string", "constraints": {"maxLength": 40, "required": True}},
    {"name": "설치연도", "type": "integer", "constraints": {"minimum": 1990, "maximum": 2030}},
]}


def generate_csv(path: Path, rows: int) -> None:
    """Ten fields, one bad row in a thousand (a PM10 of 5000)."""
    import duckdb

    codes = ", ".join(f"'{c}'" for c in CODES)
    duckdb.sql(f"""
        COPY (SELECT 'M' || lpad(CAST(i AS VARCHAR), 7, '0') AS "측정ID",
                     [{codes}][(i % 16) + 1] AS "시군구코드",
                     TIMESTAMP '2024-01-01' + to_seconds(i * 3) AS "측정일시",
                     CASE WHEN i % 1000 = 7 THEN 5000 ELSE round(random() * 150, 1) END AS "PM10",
                     round(random() * 70, 1) AS "PM25",
                     ['좋음', '보통', '나쁨', '매우나쁨'][(i % 4) + 1] AS "등급",
                     round(random() * 40 - 5, 1) AS "기온",
                     CAST(i % 100 AS INTEGER) AS "습도",
                     '측정소-' || CAST(i % 300 AS VARCHAR) AS "측정소명",
                     1990 + CAST(i % 35 AS INTEGER) AS "설치연도"
              FROM range({rows}) t(i)) TO '{path}' (HEADER, DELIMITER ',')""")


def _import(settings, dataset: str, csv_path: Path) -> float:  # noqa: ANN001
    from cityhub.catalog import service as catalog
    from cityhub.catalog.schemas import ResourceCreate
    from cityhub.cli import system_ctx

    with system_ctx(settings) as ctx:
        started = time.perf_counter()
        with csv_path.open("rb") as fh:
            catalog.create_resource(ctx, dataset=dataset, data=ResourceCreate(name="obs.csv"), upload=fh,
                                    filename="obs.csv")
    return time.perf_counter() - started


def bench_validation(rows: int, workdir: Path) -> None:
    from cityhub.auth.schemas import OrganizationCreate
    from cityhub.auth.service import create_organization
    from cityhub.catalog import service as catalog
    from cityhub.catalog.schemas import DatasetCreate
    from cityhub.cli import system_ctx
    from cityhub.datastore.importers import read_tabular
    from cityhub.governance import dataset_schema, privacy
    from cityhub.governance.ruleset import ruleset_for
    from cityhub.governance.schemas import DatasetSchemaIn
    from cityhub.settings import Settings

    csv_path = workdir / "obs.csv"
    t0 = time.perf_counter()
    generate_csv(csv_path, rows)
    size = csv_path.stat().st_size >> 20
    print(f"generated {rows:,} rows × 10 fields in {time.perf_counter() - t0:.1f} s ({size} MiB)")
    settings = Settings(data_dir=workdir / "data", log_json=True, access_log=False)
    with system_ctx(settings) as ctx:
        create_organization(ctx, data=OrganizationCreate(name="bench", title="벤치마크"))
        for name in ("plain", "checked"):
            catalog.create_dataset(ctx, data=DatasetCreate(name=name, title=name, owner_org="bench",
                                                           access_level="internal"))
        dataset_schema.put_schema(ctx, dataset="checked", data=DatasetSchemaIn.model_validate({"schema": SCHEMA}))
    _import(settings, "plain", csv_path)  # warm-up: page cache, imports, regex compilation
    plain = _import(settings, "plain", csv_path)
    checked = _import(settings, "checked", csv_path)
    with system_ctx(settings) as ctx:
        raw = read_tabular(csv_path, "CSV", settings)
        rules = ruleset_for(ctx.db, catalog.get_dataset_ref(ctx, id_or_name="checked").id)
        t0 = time.perf_counter()
        accepted, rejected = rules.check_table(raw.table)
        check_only = time.perf_counter() - t0
        t0 = time.perf_counter()
        privacy.scan(raw.table, ctx.db)
        scan = time.perf_counter() - t0
    overhead = (checked - plain) / plain * 100
    print(f"import without schema (reference):   {plain:6.2f} s  ({rows / plain:,.0f} rows/s)")
    print(f"import with 10 constrained fields:   {checked:6.2f} s  ({rows / checked:,.0f} rows/s)  "
          f"→ validation adds {overhead:+.1f} % (target ≤ 20 %)")
    print(f"  rule checks alone (vectorised):    {check_only:6.2f} s  = {check_only / plain * 100:.1f} % of the import;"
          f" {len(rejected):,} rows quarantined, {accepted.num_rows:,} accepted")
    print(f"personal-data scan of the same file: {scan:6.2f} s  (target ≤ 3 s)")


def bench_quality(rows: int, workdir: Path) -> None:
    import io

    import sqlalchemy as sa

    from cityhub.auth.schemas import OrganizationCreate
    from cityhub.auth.service import create_organization
    from cityhub.catalog import service as catalog
    from cityhub.catalog.schemas import DatasetCreate, ResourceCreate
    from cityhub.cli import system_ctx
    from cityhub.governance import quality
    from cityhub.governance.models import QualityCounters
    from cityhub.settings import Settings

    settings = Settings(data_dir=workdir / "qdata", log_json=True, access_log=False)
    seed = "측정ID,구군,PM10,PM25,기온\n" + "".join(f"M{i},해운대구,{i % 150},{i % 70},{i % 30}\n" for i in range(1000))
    with system_ctx(settings) as ctx:
        create_organization(ctx, data=OrganizationCreate(name="bench", title="벤치마크"))
        ds = catalog.create_dataset(ctx, data=DatasetCreate(name="big", title="big", owner_org="bench"))
        res = catalog.create_resource(ctx, dataset=ds.id, data=ResourceCreate(name="obs.csv"),
                                      upload=io.BytesIO(seed.encode()), filename="obs.csv")
    t0 = time.perf_counter()
    with system_ctx(settings) as ctx:  # grow the table to `rows` rows in SQL (the import path is benched above)
        cols = '"측정ID", "구군", "PM10", "PM25", "기온"'
        while (n := ctx.db.execute(sa.text(f'SELECT count(*) FROM "{res.id}"')).scalar_one()) < rows:
            ctx.db.execute(sa.text(f'INSERT INTO "{res.id}" ({cols}) SELECT {cols} FROM "{res.id}" '
                                   f"LIMIT {min(n, rows - n)}"))
    print(f"built a {rows:,}-row table in {time.perf_counter() - t0:.1f} s")
    with system_ctx(settings) as ctx:
        t0 = time.perf_counter()
        counts = ctx.db.execute(sa.text(
            f'SELECT count(*), count("측정ID"), count("구군"), count("PM10"), count("PM25"), count("기온") '
            f'FROM "{res.id}"')).one()
        counters = ctx.db.get(QualityCounters, res.id)
        counters.rows = counters.checked_rows = counts[0]
        counters.cells = counts[0] * 5
        counters.missing_cells = counts[0] * 5 - sum(counts[1:])
        quality.refresh(ctx, dataset_id=ds.id, trigger="upload")
        rescan = time.perf_counter() - t0
    run_rows = [{"측정ID": f"N{i}", "구군": "중구", "PM10": 10, "PM25": 5, "기온": None} for i in range(10_000)]
    with system_ctx(settings) as ctx:
        t0 = time.perf_counter()
        quality.record_write(ctx, dataset_id=ds.id, resource_id=res.id, replace=False, has_rules=False,
                             tally=quality.tally_rows(run_rows, []), trigger="collect", run_id="bench-run")
        incremental = time.perf_counter() - t0
        score = quality.refresh(ctx, dataset_id=ds.id, trigger="metadata")
    print(f"quality score of a {rows:,}-row dataset after a 10,000-row run: {incremental * 1000:7.1f} ms "
          f"(incremental; target ≤ 2 s) — total {score.total}")
    print(f"  full rescan of the same table (reference):              {rescan * 1000:7.1f} ms")


def _timed(work):  # noqa: ANN001, ANN202 — (result, wall s, CPU s of this process)
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def _line(label: str, wall: float, cpu: float) -> str:
    import os

    return f"{label:<58} {wall:6.2f} s wall, {cpu:6.2f} s CPU (load {os.getloadavg()[0]:.1f})"


def _step(factory, settings, work):  # noqa: ANN001, ANN202 — one committed transaction as the system
    from cityhub.bus import make_bus
    from cityhub.cli import SYSTEM
    from cityhub.ctx import RequestContext

    def run():  # noqa: ANN202
        ctx = RequestContext(actor=SYSTEM, db=factory(), settings=settings, bus=make_bus(settings.bus_url))
        try:
            out = work(ctx)
            ctx.db.commit()
            return out
        finally:
            ctx.db.close()

    return _timed(run)


def _versioned_table(workdir: Path):  # noqa: ANN202 — (settings, session factory, table name)
    """A dataset with a 1,000-row table loaded through the catalog (its versions are recorded)."""
    import io

    from cityhub.auth.schemas import OrganizationCreate
    from cityhub.auth.service import create_organization
    from cityhub.catalog import service as catalog
    from cityhub.catalog.schemas import DatasetCreate, ResourceCreate
    from cityhub.cli import system_ctx
    from cityhub.db import make_engine, make_session_factory
    from cityhub.settings import Settings

    settings = Settings(data_dir=workdir / "vdata", log_json=True, access_log=False)
    seed = "측정ID,구군,PM10,PM25,기온\n" + "".join(f"M{i},해운대구,{i % 150},{i % 70},{i % 30}\n" for i in range(1000))
    with system_ctx(settings) as ctx:
        create_organization(ctx, data=OrganizationCreate(name="bench", title="벤치마크"))
        ds = catalog.create_dataset(ctx, data=DatasetCreate(name="versioned", title="versioned", owner_org="bench"))
        res = catalog.create_resource(ctx, dataset=ds.id, data=ResourceCreate(name="obs.csv"),
                                      upload=io.BytesIO(seed.encode()), filename="obs.csv")
    return settings, make_session_factory(make_engine(settings)), res.id


COLS = '"측정ID", "구군", "PM10", "PM25", "기온"'


def _more(ctx, table: str, n: int, count: int) -> None:  # noqa: ANN001 — distinct rows, as a real table's
    import sqlalchemy as sa

    from cityhub.governance import version_delta

    # rows appended beside the datastore's own paths: marked as an append, so versions stay exact
    version_delta.note_append(ctx.db.connection(), sa.Table(table, sa.MetaData(), autoload_with=ctx.db.connection()),
                              count)
    ctx.db.execute(sa.text(f'INSERT INTO "{table}" ({COLS}) SELECT \'G\' || ("_id" + {n}), "구군", "PM10", '
                           f'"PM25", "기온" FROM "{table}" ORDER BY "_id" LIMIT {count}'))


def _count(ctx, table: str) -> int:  # noqa: ANN001
    import sqlalchemy as sa

    return ctx.db.execute(sa.text(f'SELECT count(*) FROM "{table}"')).scalar_one()


def bench_rollback(rows: int, workdir: Path) -> None:
    import sqlalchemy as sa

    from cityhub.catalog import service as catalog
    from cityhub.governance import versions

    if rows <= versions.SNAPSHOT_ROW_CAP:  # a quick run: still measure the big-table path (copies)
        versions.SNAPSHOT_ROW_CAP = rows // 2
    settings, factory, table = _versioned_table(workdir)
    cols = COLS

    def grow(ctx) -> int:  # noqa: ANN001 — to `rows` rows in SQL (the import path is benched above)
        while (n := _count(ctx, table)) < rows:
            _more(ctx, table, n, min(n, rows - n))
        return n

    def change(ctx, added: int = 0) -> None:  # noqa: ANN001 — a row write as the datastore makes it
        if added:
            _more(ctx, table, 10 * rows, added)
        catalog.mark_datastore(ctx, resource_id=table, table=table, row_count=_count(ctx, table))

    _, wall, _ = _step(factory, settings, grow)
    print(f"built a {rows:,}-row table in {wall:.1f} s")
    _, wall, cpu = _step(factory, settings, change)
    print(_line(f"change 1 ({rows:,} rows): commit incl. its version copy", wall, cpu))
    raw = "_bench_raw_copy"
    _, wall, cpu = _step(factory, settings, lambda ctx: ctx.db.execute(
        sa.text(f'CREATE TABLE "{raw}" AS SELECT * FROM "{table}"')))
    print(_line("  raw engine: CREATE TABLE AS SELECT of the same rows", wall, cpu))
    _, wall, cpu = _step(factory, settings, lambda ctx: change(ctx, added=1000))
    print(_line("change 2 (+1,000 rows): commit incl. its version copy", wall, cpu))
    (items, _), wall, cpu = _step(factory, settings, lambda ctx: versions.list_versions(ctx, dataset="versioned"))
    print(_line(f"recording both versions (background: diffs in the engine) → {items[0].diff['rows_added']:,} "
                "added", wall, cpu))
    target = items[1].number
    done, wall, cpu = _step(factory, settings, lambda ctx: versions.rollback(ctx, dataset="versioned", number=target))
    print(_line(f"roll-back to version {target} ({rows:,} rows; diff removed {done.diff['rows_removed']:,})",
                wall, cpu))
    copy = raw  # the version's rows are a pointer now (no copy): the raw engine restores from its own copy
    (items, _), wall, cpu = _step(factory, settings, lambda ctx: versions.list_versions(ctx, dataset="versioned"))
    print(_line(f"  its exact diff (background, two EXCEPTs) → {items[0].diff['rows_removed']:,} removed", wall, cpu))

    def raw_restore(ctx) -> None:  # noqa: ANN001
        names = ", ".join(f'"{c}"' for c in ["_id", *[c.strip('" ') for c in cols.split(",")]])
        ctx.db.execute(sa.text(f'DELETE FROM "{table}"'))
        ctx.db.execute(sa.text(f'INSERT INTO "{table}" ({names}) SELECT {names} FROM "{copy}"'))

    _, wall, cpu = _step(factory, settings, raw_restore)
    print(_line("  raw engine: DELETE + INSERT … SELECT from the same copy", wall, cpu))
    _, wall, cpu = _step(factory, settings, lambda ctx: ctx.db.execute(
        sa.text(f'CREATE TABLE "{raw}2" AS SELECT * FROM "{copy}"')))
    print(_line("  raw engine: CREATE TABLE AS SELECT from the same copy", wall, cpu))


FED_FIELDS = [("id", "integer"), ("station", "text"), ("value", "number")]


def _fed_table(workdir: Path, rows: int):  # noqa: ANN202 — (settings, factory, resource id, bare twin name)
    """A dataset whose resource is a `rows`-row fed table, and a bare twin of it (same rows, same key)."""
    import io

    import sqlalchemy as sa

    from cityhub.auth.schemas import OrganizationCreate
    from cityhub.auth.service import create_organization
    from cityhub.catalog import service as catalog
    from cityhub.catalog.schemas import DatasetCreate, ResourceCreate
    from cityhub.cli import system_ctx
    from cityhub.datastore import rows as fed_rows
    from cityhub.datastore import service as datastore
    from cityhub.db import make_engine, make_session_factory
    from cityhub.settings import Settings

    settings = Settings(data_dir=workdir / "fdata", log_json=True, access_log=False)
    with system_ctx(settings) as ctx:
        create_organization(ctx, data=OrganizationCreate(name="feed", title="수집"))
        ds = catalog.create_dataset(ctx, data=DatasetCreate(name="fed", title="fed", owner_org="feed"))
        res = catalog.create_resource(ctx, dataset=ds.id, data=ResourceCreate(name="fed.csv"),
                                      upload=io.BytesIO(b"id,station,value\n0,s0,0.5\n"), filename="fed.csv")
    with system_ctx(settings) as ctx:
        conn = ctx.db.connection()
        fed = datastore.ensure_fed_table(conn, name=res.id, fields=FED_FIELDS, key=["id"], resource_id=res.id)
        _more_fed(ctx, fed.table, rows - 1)
        fed_rows.ensure_table(conn, name="bare_twin", fields=FED_FIELDS, key=["id"])
        conn.exec_driver_sql(f'INSERT INTO bare_twin SELECT * FROM "{res.id}"')
        datastore.upsert_fed_rows(conn, fed, [])
        catalog.mark_datastore(ctx, resource_id=res.id, table=res.id, row_count=rows)
        assert conn.execute(sa.text("SELECT count(*) FROM bare_twin")).scalar_one() == rows
    return settings, make_session_factory(make_engine(settings)), res.id


def _more_fed(ctx, table, count: int) -> None:  # noqa: ANN001 — a fill beside the datastore's paths, marked
    from cityhub.governance import version_delta

    conn = ctx.db.connection()
    version_delta.note_append(conn, table, count)
    conn.exec_driver_sql(f'INSERT INTO "{table.name}" (id, station, value) WITH RECURSIVE c(i) AS (SELECT 1 '
                         f"UNION ALL SELECT i + 1 FROM c WHERE i < {count}) SELECT i, 's' || (i % 100), i * 0.5 FROM c")


def _batch(rows: int, i: int, size: int) -> list[dict]:
    half = size // 2
    updated = [{"id": 1 + (i * half + j) % rows, "station": "s", "value": float(i + j)} for j in range(half)]
    return updated + [{"id": rows + 1 + i * half + j, "station": "n", "value": 1.0} for j in range(size - half)]


def bench_fed(rows: int, workdir: Path, batches: int = 20, size: int = 1000) -> None:
    import sqlalchemy as sa

    from cityhub.catalog import service as catalog
    from cityhub.datastore import rows as fed_rows
    from cityhub.datastore import service as datastore
    from cityhub.governance import versions

    settings, factory, rid = _fed_table(workdir, rows)
    print(f"fed table: {rows:,} rows, {batches} batches of {size:,} ({size // 2} updated, {size - size // 2} new)")

    def ours(i: int):  # noqa: ANN202 — one collection batch as the pipeline commits it, with its version
        def work(ctx) -> None:  # noqa: ANN001
            conn = ctx.db.connection()
            fed = datastore.ensure_fed_table(conn, name=rid, fields=FED_FIELDS, key=["id"])
            datastore.upsert_fed_rows(conn, fed, _batch(rows, i, size))
            catalog.mark_datastore(ctx, resource_id=rid, table=rid,
                                   row_count=datastore.info(ctx, resource_id=rid).row_count)
        return _step(factory, settings, work)

    def bare(i: int):  # noqa: ANN202 — the same merge, executemany and commit, nothing else
        def work(ctx) -> None:  # noqa: ANN001
            conn = ctx.db.connection()
            table = fed_rows.new_table("bare_twin", [{"id": n, "type": t} for n, t in FED_FIELDS], sqlite=True)
            cols = ("id", "station", "value")
            batch = _batch(rows, i, size)
            conn.exec_driver_sql(fed_rows._merge_sql(conn, table.name, cols, ["id"]),  # noqa: SLF001
                                 [tuple(r[c] for c in cols) for r in batch])
        return _step(factory, settings, work)

    def delta_only(i: int):  # noqa: ANN202 — the datastore's upsert with its delta, without the catalog's
        def work(ctx) -> None:  # noqa: ANN001 — resource update, audit and version outbox row
            conn = ctx.db.connection()
            fed = datastore.ensure_fed_table(conn, name=rid, fields=FED_FIELDS, key=["id"])
            datastore.upsert_fed_rows(conn, fed, _batch(rows, batches + i, size))
        return _step(factory, settings, work)

    for label, run in (("bare upsert, no versions (twin table)", bare), ("upsert with its delta only", delta_only),
                       ("ours: upsert + its version (as collected)", ours)):
        wall = cpu = 0.0
        for i in range(batches):
            _, w, c = run(i)
            wall, cpu = wall + w, cpu + c
        print(f"  {label:<44} {1000 * cpu / batches:7.1f} ms CPU per batch, {1000 * wall / batches:7.1f} ms wall "
              f"(load {__import__('os').getloadavg()[0]:.1f})")
    (items, _), wall, cpu = _step(factory, settings, lambda ctx: versions.list_versions(ctx, dataset="fed"))
    print(f"  recording the {batches} versions (background, diffs from counts): {1000 * cpu / batches:.1f} ms CPU "
          f"per batch; newest diff +{items[0].diff['rows_added']} ~{items[0].diff['rows_changed']}")
    _, wall, cpu = _step(factory, settings, lambda ctx: ctx.db.execute(
        sa.text(f'CREATE TABLE "_bench_full_copy" AS SELECT * FROM "{rid}"')))
    print(f"  before deltas each batch also copied the table: {1000 * cpu:.0f} ms CPU, {1000 * wall:.0f} ms wall")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--quality-rows", type=int, default=10_000_000)
    parser.add_argument("--rollback-rows", type=int, default=1_000_000)
    parser.add_argument("--skip-validation", action="store_true")
    parser.add_argument("--fed-rows", type=int, default=1_000_000)
    parser.add_argument("--only", choices=["validation", "quality", "rollback", "fed"])
    # run_all calls main() with its own arguments on the command line: read ours only when run directly
    args = parser.parse_args(argv if argv is not None else (sys.argv[1:] if __name__ == "__main__" else []))
    with tempfile.TemporaryDirectory(prefix="bench-governance-") as tmp:
        if not args.skip_validation and args.only in (None, "validation"):
            bench_validation(args.rows, Path(tmp))
        if args.only in (None, "quality"):
            bench_quality(args.quality_rows, Path(tmp))
        if args.only in (None, "rollback"):
            bench_rollback(args.rollback_rows, Path(tmp))
        if args.only in (None, "fed"):
            bench_fed(args.fed_rows, Path(tmp))


if __name__ == "__main__":
    main()
