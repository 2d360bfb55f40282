"""A feed keyed by two columns (sensor, seq, as MQTT observations are) keeps exact versions: the
before-images of the rows a batch updates are found through the key index (SQLite joins from the key
list instead of scanning the table per statement), once each even when a key repeats."""

from __future__ import annotations

import pytest
import sqlalchemy as sa


def test_composite_key_before_images_give_the_earlier_version(tmp_path) -> None:
    from cityhub.governance import version_delta

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'feed.db'}")
    meta = sa.MetaData()
    feed = sa.Table("feed", meta, sa.Column("_id", sa.Integer, primary_key=True), sa.Column("sensor", sa.Text),
                    sa.Column("seq", sa.Integer), sa.Column("pm10", sa.Float),
                    sa.UniqueConstraint("sensor", "seq"))
    meta.create_all(engine)
    key = ["sensor", "seq"]
    first = [{"sensor": f"s{i % 3}", "seq": i, "pm10": float(i)} for i in range(900)]
    with engine.begin() as conn:
        change = version_delta.begin(conn, feed, key, [(r["sensor"], r["seq"]) for r in first])
        conn.execute(feed.insert(), first)
        version_delta.finish(conn, feed, change, len(first), 0)
    # the next batch: 450 rows changed (beyond one statement's 400 keys), one key twice, 10 new rows
    changed = [(f"s{i % 3}", i) for i in range(0, 900, 2)]
    keys = [*changed, changed[0], *((f"s{i % 3}", i) for i in range(900, 910))]
    with engine.begin() as conn:
        second = version_delta.begin(conn, feed, key, keys)
        conn.execute(feed.update().where(feed.c.seq % 2 == 0).values(pm10=-1.0))
        conn.execute(feed.insert(), [{"sensor": s, "seq": q, "pm10": 0.0} for s, q in keys[-10:]])
        version_delta.finish(conn, feed, second, 10, len(changed))
        gen = version_delta.generation(conn, "feed")
        sql, columns = version_delta.select_sql(conn, {"table": "feed", "gen": gen, "change": change})
        rows = [dict(zip(columns, r, strict=True)) for r in conn.exec_driver_sql(sql)]
        images = conn.exec_driver_sql(f"SELECT count(*) FROM _gov_delta_feed WHERE _change = {second} "
                                      "AND _id IS NOT NULL").scalar_one()
    assert images == len(changed)  # each updated row's before-image once, none for new keys
    assert sorted((r["sensor"], r["seq"], r["pm10"]) for r in rows) == sorted(
        (r["sensor"], r["seq"], r["pm10"]) for r in first)


def _pg_feed_versions(url: str, key: list[str], as_text: bool) -> None:
    """900 rows, then a change updating 450 of them (one key twice) and adding 10: the first version's
    rows read back exact, each updated row's before-image kept once."""
    from datetime import date, datetime, timedelta
    from decimal import Decimal

    from cityhub.governance import version_delta

    engine = sa.create_engine(url)
    meta = sa.MetaData()
    feed = sa.Table("feed", meta, sa.Column("_id", sa.BigInteger, primary_key=True), sa.Column("sensor", sa.Text),
                    sa.Column("seq", sa.BigInteger), sa.Column("ts", sa.DateTime), sa.Column("day", sa.Date),
                    sa.Column("amount", sa.Numeric(10, 2)), sa.Column("pm10", sa.Float))
    sa.Index("ux_feed_key", *[feed.c[k] for k in key], unique=True)

    def row(i: int) -> dict:
        return {"sensor": f"s{i % 3}", "seq": i, "ts": datetime(2026, 1, 1) + timedelta(minutes=i),
                "day": date(2020, 1, 1) + timedelta(days=i), "amount": Decimal(i) / 4, "pm10": float(i)}

    def key_of(r: dict, n: int) -> tuple:  # as_text: every other timestamp/date an ISO string, as feeds send them
        return tuple(r[k].isoformat() if as_text and n % 2 and k in ("ts", "day") else r[k] for k in key)

    first = [row(i) for i in range(900)]
    try:
        with engine.begin() as conn:
            meta.create_all(conn)
            change = version_delta.begin(conn, feed, key, [key_of(r, n) for n, r in enumerate(first)])
            conn.execute(feed.insert(), first)
            version_delta.finish(conn, feed, change, len(first), 0)
        changed = [key_of(r, n) for n, r in enumerate(first) if r["seq"] % 2 == 0]
        keys = [*changed, changed[0], *(key_of(row(i), i) for i in range(900, 910))]
        with engine.begin() as conn:
            second = version_delta.begin(conn, feed, key, keys)
            conn.execute(feed.update().where(feed.c.seq % 2 == 0).values(pm10=-1.0))
            conn.execute(feed.insert(), [row(i) for i in range(900, 910)])
            version_delta.finish(conn, feed, second, 10, len(changed))
            gen = version_delta.generation(conn, "feed")
            sql, columns = version_delta.select_sql(conn, {"table": "feed", "gen": gen, "change": change})
            rows = [dict(zip(columns, r, strict=True)) for r in conn.exec_driver_sql(sql)]
            images = conn.exec_driver_sql(f"SELECT count(*) FROM _gov_delta_feed WHERE _change = {second} "
                                          "AND _id IS NOT NULL").scalar_one()
    finally:
        engine.dispose()
    assert images == len(changed)
    assert [{k: v for k, v in r.items() if k != "_id"} for r in rows] == first


@pytest.mark.parametrize("key", [["ts", "sensor"], ["ts"], ["day", "amount", "sensor"], ["seq", "day"]])
@pytest.mark.parametrize("as_text", [False, True], ids=["typed", "iso-strings"])
def test_postgres_composite_key_versions_are_exact(pg_admin_url: str, pg_schema: str, key: list[str],
                                                   as_text: bool) -> None:
    """PostgreSQL looks each key up through the key index (values cast to the columns' types: one array
    a column, or a VALUES list when a column's values come as different Python types, ISO text among
    datetimes): a timestamp + text key and 1- to 3-column keys of integer, numeric and date columns."""
    sep = "&" if "?" in pg_admin_url else "?"
    _pg_feed_versions(f"{pg_admin_url}{sep}options=-csearch_path%3D{pg_schema}", key, as_text)
