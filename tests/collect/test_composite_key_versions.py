"""A feed keyed by two columns (sensor, seq, as MQTT observations are) keeps exact versions: the
before-images of the rows a batch updates are found through the key index (SQLite joins from the key
list instead of scanning the table per statement), once each even when a key repeats."""

from __future__ import annotations

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
