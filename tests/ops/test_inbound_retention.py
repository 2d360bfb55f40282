"""Retention of ops_inbound_requests (both backends): rows older than the window go in small batches, young
rows stay, the window never drops under a day (idempotency) nor under the alert sweep's window, a request
replayed within the window is still answered idempotently, and the sweep worker prunes on its own.
Times are set by writing rows with old timestamps, never by waiting."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select, update

from cityhub.app import create_app
from cityhub.db import utcnow
from cityhub.ops import inbound_retention
from cityhub.ops.alert_recovery import claim_key
from cityhub.ops.models import InboundRequest
from tests.ops.conftest import HAEUNDAE, SEOMYEON, fast, make_world
from tests.ops.receivers import wait_until

API = "/api/v1/ops"
_R = InboundRequest.__table__


def _write(app, rows: dict[str, timedelta], actor: str = "agency-test") -> None:  # noqa: ANN001
    """Rows of `actor` keyed by name, each as old as given."""
    now = utcnow()
    with app.state.session_factory() as db:
        db.execute(insert(_R), [{"actor_id": actor, "key": k, "fingerprint": "f", "status_code": 201,
                                 "response": {}, "created_at": now - age} for k, age in rows.items()])
        db.commit()


def _keys(app) -> set[str]:  # noqa: ANN001
    with app.state.session_factory() as db:
        return set(db.scalars(select(_R.c.key)))


def _age(app, key: str, age: timedelta) -> None:  # noqa: ANN001
    with app.state.session_factory() as db:
        db.execute(update(_R).where(_R.c.key == key).values(created_at=utcnow() - age))
        db.commit()


@contextmanager
def _quiet_app(settings) -> Iterator[TestClient]:  # noqa: ANN001
    """The app once its sweep worker has run its one start-up pass (interval 0): prune is then ours alone."""
    settings.ops_alert_sweep_seconds = 0
    with TestClient(create_app(fast(settings))) as c:
        assert wait_until(lambda: not any(t.name == "ops-alert-sweep" for t in threading.enumerate()))
        yield c


def _fire(ref: str, where: dict = HAEUNDAE) -> dict:
    return {"type": "fire", "subtype": "building", "severity": "high", "location": where,
            "description": "화재", "source_ref": ref}


def test_old_rows_go_young_rows_stay_and_replays_within_the_window_are_answered(settings):
    settings.ops_inbound_retention_days = 3
    with _quiet_app(settings) as c:
        world = make_world(c, {})
        app = c.app
        keep = world.headers("fire-119", **{"Idempotency-Key": "119-keep"})
        gone = world.headers("fire-119", **{"Idempotency-Key": "119-gone"})
        first = c.post(f"{API}/incidents", json=_fire("a"), headers=keep)
        old = c.post(f"{API}/incidents", json=_fire("b", SEOMYEON), headers=gone)
        assert first.status_code == old.status_code == 201
        _age(app, "119-keep", timedelta(days=2, hours=23))  # young: inside the 3 days
        _age(app, "119-gone", timedelta(days=3, hours=1))
        young_claim = claim_key("urn:ngsi-ld:Alert:r:young", utcnow().isoformat())
        old_claim = claim_key("urn:ngsi-ld:Alert:r:old", "2026-01-01T00:00:00+00:00")
        _write(app, {"old-1": timedelta(days=4), "old-2": timedelta(days=30), "young": timedelta(days=1),
                     old_claim: timedelta(days=5),
                     young_claim: timedelta(minutes=5)}, actor="system:sensors")
        before = _keys(app)

        assert inbound_retention.prune(app.state.session_factory, app.state.settings) == 4
        assert before - _keys(app) == {"119-gone", "old-1", "old-2", old_claim}
        assert {"119-keep", "young", young_claim} <= _keys(app)
        assert inbound_retention.prune(app.state.session_factory, app.state.settings) == 0

        again = c.post(f"{API}/incidents", json=_fire("a"), headers=keep)  # within the window: the first answer
        assert again.status_code == 201 and again.json() == first.json()
        assert again.headers.get("Idempotent-Replayed") == "true"
        assert c.post(f"{API}/incidents", json=_fire("a") | {"severity": "low"}, headers=keep).status_code == 409
        late = c.post(f"{API}/incidents", json=_fire("b", SEOMYEON), headers=gone)  # past it: a new request
        assert late.headers.get("Idempotent-Replayed") is None  # (a duplicate of its first incident: linked)
        assert late.status_code == 200 and late.json()["id"] == old.json()["id"]


def test_window_never_under_a_day_nor_the_alert_sweep_window(settings):
    settings.ops_inbound_retention_days = 0  # asks for nothing: the idempotency promise (a day) still holds
    with _quiet_app(settings) as c:
        app = c.app
        _write(app, {"20h": timedelta(hours=20), "30h": timedelta(hours=30)})
        assert inbound_retention.prune(app.state.session_factory, app.state.settings) == 1
        assert {"20h"} <= _keys(app) and "30h" not in _keys(app)

        app.state.settings.ops_alert_sweep_window_minutes = 2 * 24 * 60  # claims are read back for two days
        _write(app, {"36h": timedelta(hours=36), "3d": timedelta(days=3)}, actor="system:sensors")
        assert inbound_retention.retention(app.state.settings) == timedelta(days=2)
        assert inbound_retention.prune(app.state.session_factory, app.state.settings) == 1
        assert {"20h", "36h"} <= _keys(app) and "3d" not in _keys(app)


def test_pruned_in_small_batches_a_bounded_number_per_run(settings, monkeypatch):
    monkeypatch.setattr(inbound_retention, "BATCH", 3)
    monkeypatch.setattr(inbound_retention, "MAX_BATCHES", 2)
    with _quiet_app(settings) as c:
        app = c.app
        _write(app, {f"old-{i}": timedelta(days=10 + i) for i in range(10)} | {"new": timedelta(hours=1)})
        assert inbound_retention.prune(app.state.session_factory, app.state.settings) == 6  # two batches of 3
        assert inbound_retention.prune(app.state.session_factory, app.state.settings) == 4  # the rest, next run
        assert _keys(app) == {"new"}


def test_the_sweep_worker_prunes_on_start(settings):
    with TestClient(create_app(fast(settings))) as c:
        _write(c.app, {"stale": timedelta(days=9), "fresh": timedelta(hours=2)})
    # The next start (the lease was released at stop): its sweep worker prunes without being asked.
    with TestClient(create_app(fast(settings))) as c:
        def stale_left() -> int:
            with c.app.state.session_factory() as db:
                return db.scalar(select(func.count()).select_from(_R).where(_R.c.key == "stale"))

        assert wait_until(lambda: stale_left() == 0)
        assert "fresh" in _keys(c.app)
