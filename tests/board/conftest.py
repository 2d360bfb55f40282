"""Board fixtures: a small live city (sensors and cameras from the simulator), demo projects, indicators,
an operator, and incidents reported through the operations API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cityhub.cli import system_ctx


def seed_city(settings, *, stats: bool = False, sensors: dict | None = None) -> None:  # noqa: ANN001
    """Projects, sensors and cameras (two moments, so rollups exist), and optionally the demo indicators."""
    from cityhub.board.water import seed_demo as seed_water_complaints
    from cityhub.context.entities import batch
    from cityhub.context.simulator import SimulatedCity
    from cityhub.demo.organizations import seed_organizations
    from cityhub.projects.seed import seed_projects

    with system_ctx(settings) as ctx:
        seed_organizations(ctx)
        seed_projects(ctx)
        seed_water_complaints(ctx, days=7)
        ctx.db.commit()
        city = SimulatedCity(**(sensors or {"air": 60, "traffic": 120, "water": 12, "cameras": 150}))
        now = datetime.now(UTC)
        for at in (now - timedelta(hours=2), now - timedelta(minutes=1)):
            bodies = city.tick(at)
            for i in range(0, len(bodies), 500):
                result = batch(ctx, op="upsert", bodies=bodies[i:i + 500])
                assert not result.errors, result.errors[:3]
            ctx.db.commit()
        if stats:
            from cityhub.stats.kosis_demo import seed_statistics

            seed_statistics(ctx)
            ctx.db.commit()


def fire(lon: float = 129.1635, lat: float = 35.1631, **extra: object) -> dict:
    return {"type": "fire", "subtype": "building", "severity": "high", "location": {"lon": lon, "lat": lat},
            "address": "부산 해운대구 우동 1408", "description": "3층 상가 화재", **extra}
