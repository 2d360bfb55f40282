"""The demo city's live parts: statistics from packaged KOSIS answers and the sensor simulator."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from cityhub.ctx import RequestContext
from cityhub.settings import Settings

DERIVED_ORG = "smart-city-division"  # publishes the incident register and the hourly sensor history


def seed_statistics_and_analyses(ctx: RequestContext) -> None:
    """27 demo indicators (no network), 60 days of past incidents, the derived analysis datasets and the
    demonstration dashboards. Idempotent."""
    from cityhub.ops.demo_history import seed_history
    from cityhub.stats.demo_analyses import seed_analyses
    from cityhub.stats.derived import publish
    from cityhub.stats.kosis_demo import seed_statistics

    seed_statistics(ctx)
    seed_history(ctx)
    publish(ctx, org=DERIVED_ORG)
    ctx.db.commit()
    seed_analyses(ctx)
    ctx.db.commit()


def start_simulator(settings: Settings, *, every_seconds: float = 60.0) -> None:
    """Publish the synthetic city's sensors and cameras now, then every minute inside the served app.

    The first moment is published before the server starts, so the board opens with a full map. The later
    ones are the served app's `context:simulate` job (context.jobs): written through the app's own bus, so
    the live feed, subscriptions and ops incidents see them; a thread here would publish to a bus of its own."""
    from cityhub.context import publish
    from cityhub.context.simulator import SimulatedCity
    from cityhub.settings import get_settings

    city = SimulatedCity(seed=42, start=datetime.now(UTC))
    publish.run(city, publish.in_process(settings), ticks=1, step=timedelta(minutes=1), interval=0)
    os.environ["CITYHUB_CONTEXT_SIMULATE_SECONDS"] = str(every_seconds)
    get_settings.cache_clear()  # the app `serve` creates reads the settings again
