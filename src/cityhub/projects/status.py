"""A project's progress and status, computed from its milestones (never typed in by hand).

Progress is the milestones' progress weighted by their planned length. Status compares that with
where the plan says the project should be today:
- completed: every milestone done;
- delayed: a milestone more than DELAYED_DAYS past its planned end, or progress more than
  DELAYED_LAG points behind plan;
- at risk: any milestone past its planned end, or progress more than AT_RISK_LAG points behind;
- on track otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

DELAYED_DAYS = 30
DELAYED_LAG = 20
AT_RISK_LAG = 10


class MilestoneLike(Protocol):
    planned_start: date
    planned_end: date
    progress: int
    completed_on: date | None


@dataclass(frozen=True)
class Standing:
    progress: int
    expected: int
    status: str


def _weight(m: MilestoneLike) -> int:
    return max((m.planned_end - m.planned_start).days, 1)


def done(m: MilestoneLike) -> bool:
    return m.completed_on is not None or m.progress >= 100


def overdue_days(m: MilestoneLike, today: date) -> int:
    return 0 if done(m) or today <= m.planned_end else (today - m.planned_end).days


def milestone_state(m: MilestoneLike, today: date) -> str:
    if done(m):
        return "done"
    if overdue_days(m, today):
        return "overdue"
    return "in_progress" if today >= m.planned_start else "upcoming"


def _expected_share(m: MilestoneLike, today: date) -> float:
    if today <= m.planned_start:
        return 0.0
    if today >= m.planned_end:
        return 1.0
    return (today - m.planned_start).days / _weight(m)


def standing(milestones: Sequence[MilestoneLike], today: date) -> Standing:
    """Progress (0–100), the progress the plan expects today, and the status."""
    if not milestones:
        return Standing(0, 0, "on_track")
    total = sum(_weight(m) for m in milestones)
    progress = sum(_weight(m) * (100 if done(m) else m.progress) for m in milestones) / total
    expected = sum(_weight(m) * 100 * _expected_share(m, today) for m in milestones) / total
    if all(done(m) for m in milestones):
        return Standing(100, round(expected), "completed")
    worst = max(overdue_days(m, today) for m in milestones)
    lag = expected - progress
    if worst > DELAYED_DAYS or lag > DELAYED_LAG:
        status = "delayed"
    elif worst > 0 or lag > AT_RISK_LAG:
        status = "at_risk"
    else:
        status = "on_track"
    return Standing(round(progress), round(expected), status)
