"""Events raised inside savepoints travel only with the outermost commit (found via context's history
writes, which use savepoints: an alert subscriber used to run before the writer had committed)."""

from __future__ import annotations

from sqlalchemy import text

from cityhub.bus import InProcessBus, publish_after_commit


def test_savepoint_events_wait_for_the_outer_commit_and_rolled_back_ones_go(sqlite_settings):
    from cityhub.db import make_engine, make_session_factory

    bus = InProcessBus()
    seen: list[str] = []
    bus.subscribe("*", lambda t, _p: seen.append(t))
    factory = make_session_factory(make_engine(sqlite_settings))
    with factory() as db:
        db.execute(text("SELECT 1"))
        publish_after_commit(db, bus, "outer", {})
        with db.begin_nested():
            publish_after_commit(db, bus, "kept", {})
        assert seen == []  # releasing a savepoint is not a commit
        sp = db.begin_nested()
        publish_after_commit(db, bus, "undone", {})
        sp.rollback()
        db.commit()
    assert seen == ["outer", "kept"]
    with factory() as db:
        publish_after_commit(db, bus, "rolled-back", {})
        db.rollback()
    assert seen == ["outer", "kept"]
