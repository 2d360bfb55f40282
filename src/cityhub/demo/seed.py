"""Synthetic demo city seeding (to be built: Foundation issue part 14)."""

from __future__ import annotations

from typing import Any

from cityhub.ctx import RequestContext


def seed_demo_city(ctx: RequestContext, *, datasets: int = 300, console: Any = None) -> None:
    """Seed Busan's 16 districts, organizations and synthetic datasets. Idempotent."""
