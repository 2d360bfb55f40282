"""The demo city's live parts: statistics from packaged KOSIS answers and the sensor simulator."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from cityhub.ctx import RequestContext
from cityhub.settings import Settings

log = logging.getLogger("cityhub.demo")


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


def start_simulator(settings: Settings, *, every_seconds: float = 60.0) -> threading.Thread:
    """Publish the synthetic city's sensors and cameras now and then every minute, in this process.

    The first moment is published before the server starts, so the board opens with a full map."""
    from cityhub.context import publish
    from cityhub.context.simulator import SimulatedCity

    city = SimulatedCity(seed=42, start=datetime.now(UTC))
    sender = publish.in_process(settings)
    publish.run(city, sender, ticks=1, step=timedelta(minutes=1), interval=0)

    def keep_publishing() -> None:
        try:
            publish.run(city, sender, ticks=0, step=timedelta(seconds=every_seconds), interval=every_seconds,
                        start=datetime.now(UTC) + timedelta(seconds=every_seconds))
        except Exception:  # the demo server keeps serving even if the simulator stops
            log.exception("demo simulator stopped")

    thread = threading.Thread(target=keep_publishing, name="demo-simulator", daemon=True)
    thread.start()
    return thread
