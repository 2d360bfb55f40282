"""Quality scores: completeness, validity, uniqueness, consistency, timeliness and metadata
completeness (DCAT-AP), each 0–100, and their mean as the dataset's score.

Scores are incremental: every write path tallies its own rows (missing cells, refused rows and the
rules they broke) into per-resource counters, and a score is computed from the counters and the
dataset's metadata — a 10-million-row table is never rescanned after a run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import func, select, update

from cityhub.auth import policy
from cityhub.ctx import RequestContext
from cityhub.db import utcnow
from cityhub.governance.models import QualityCounters, QualityScore

DIMENSIONS = ("completeness", "validity", "uniqueness", "consistency", "timeliness", "metadata")
CONSISTENCY_RULES = frozenset({"compare", "code_list"})
FREQUENCY_DAYS = {"realtime": 1 / 24, "hourly": 2 / 24, "daily": 1, "weekly": 7, "monthly": 31, "quarterly": 92,
                  "yearly": 366}
# DCAT-AP: title and description are mandatory for a dataset; these are recommended.
DCAT_MANDATORY = ("title", "notes")
DCAT_RECOMMENDED = ("organization", "keywords", "theme", "contact", "spatial", "temporal", "resources", "license_id",
                    "update_frequency")


@dataclass
class Tally:
    rows: int = 0
    checked_rows: int = 0
    cells: int = 0
    missing_cells: int = 0
    invalid_rows: int = 0
    inconsistent_rows: int = 0
    duplicate_rows: int = 0


def _rules_of(rejected: list[Any]) -> tuple[int, int]:
    inconsistent = sum(1 for r in rejected if any(v.rule in CONSISTENCY_RULES for v in r.violations))
    duplicates = sum(1 for r in rejected if any(v.rule == "unique" for v in r.violations))
    return inconsistent, duplicates


def tally_table(table: pa.Table, rejected: list[Any]) -> Tally:
    """Counts for an upload (missing: null or a missing marker such as "" or "-")."""
    inconsistent, duplicates = _rules_of(rejected)
    from cityhub.governance.validation import _present

    missing = sum(len(table) - (pc.sum(_present(table.column(n))).as_py() or 0) for n in table.column_names)
    return Tally(rows=table.num_rows, checked_rows=table.num_rows + len(rejected),
                 cells=table.num_rows * table.num_columns, missing_cells=missing, invalid_rows=len(rejected),
                 inconsistent_rows=inconsistent, duplicate_rows=duplicates)


def tally_rows(rows: list[dict[str, Any]], rejected: list[Any]) -> Tally:
    """Counts for row-at-a-time writes (collection pages, the rows API)."""
    inconsistent, duplicates = _rules_of(rejected)
    cells = sum(len(r) for r in rows)
    missing = sum(1 for r in rows for v in r.values() if v is None or v == "")
    return Tally(rows=len(rows), checked_rows=len(rows) + len(rejected), cells=cells, missing_cells=missing,
                 invalid_rows=len(rejected), inconsistent_rows=inconsistent, duplicate_rows=duplicates)


def record_write(ctx: RequestContext, *, dataset_id: str, resource_id: str, tally: Tally, replace: bool,
                 has_rules: bool, trigger: str, run_id: str | None = None,
                 refresh_every: float | None = None) -> None:
    """Add a write's counts to its resource (`replace`: a new upload supersedes the old counts) and
    rescore the dataset from the counters — with `refresh_every`, only when its current score is older
    than that many seconds (a feed committing every second need not rescore every second; the counters
    stay exact and `refresh_if_behind` settles the score when the run ends)."""
    counters = ctx.db.get(QualityCounters, resource_id) or QualityCounters(
        resource_id=resource_id, dataset_id=dataset_id, rows=0, checked_rows=0, cells=0, missing_cells=0,
        invalid_rows=0, inconsistent_rows=0, duplicate_rows=0)
    for name, value in vars(tally).items():
        setattr(counters, name, value if replace else (getattr(counters, name) or 0) + value)
    counters.has_rules, counters.last_write_at = has_rules or bool(counters.has_rules and not replace), utcnow()
    ctx.db.add(counters)
    ctx.db.flush()
    if refresh_every is not None:
        scored = _scored_at(ctx, dataset_id)
        if scored is not None and (utcnow() - scored).total_seconds() < refresh_every:
            return
    refresh(ctx, dataset_id=dataset_id, trigger=trigger, run_id=run_id)


def _scored_at(ctx: RequestContext, dataset_id: str) -> datetime | None:
    scored = ctx.db.scalar(select(QualityScore.computed_at).where(QualityScore.dataset_id == dataset_id,
                                                                  QualityScore.current.is_(True)))
    return scored if scored is None or scored.tzinfo else scored.replace(tzinfo=UTC)


def refresh_if_behind(ctx: RequestContext, *, dataset_id: str, trigger: str, run_id: str | None = None) -> None:
    """Rescore a dataset when a write was counted after its current score (see `refresh_every`)."""
    written = ctx.db.scalar(select(func.max(QualityCounters.last_write_at))
                            .where(QualityCounters.dataset_id == dataset_id))
    scored = _scored_at(ctx, dataset_id)
    if written is None:
        return
    written = written if written.tzinfo else written.replace(tzinfo=UTC)
    if scored is None or written > scored:
        refresh(ctx, dataset_id=dataset_id, trigger=trigger, run_id=run_id)


def _pct(bad: int, total: int) -> float:
    return round(100.0 * (1 - bad / total), 1) if total else 100.0


def _timeliness(frequency: str | None, last: datetime, now: datetime) -> float:
    """100 while the data is as fresh as its declared update frequency promises; down to 0 at 4× late."""
    days = FREQUENCY_DAYS.get(frequency or "")
    age = (now - last).total_seconds() / 86400
    if days is None:  # irregular, never or undeclared: only very old data loses points
        return 100.0 if age <= 366 else 50.0
    if age <= days:
        return 100.0
    return round(max(0.0, 100.0 * (1 - (age - days) / (3 * days))), 1)


def _metadata(ds: Any) -> tuple[float, list[str]]:
    present = {
        "title": bool(ds.title), "notes": bool(ds.notes), "organization": ds.organization is not None,
        "keywords": bool(ds.keywords), "theme": bool(ds.theme), "contact": bool(ds.contact_email or ds.contact_name),
        "spatial": bool(ds.spatial), "temporal": bool(ds.temporal_start or ds.temporal_end),
        "resources": bool(ds.resources), "license_id": bool(ds.license_id),
        "update_frequency": bool(ds.update_frequency),
    }
    mandatory = sum(present[k] for k in DCAT_MANDATORY) / len(DCAT_MANDATORY)
    recommended = sum(present[k] for k in DCAT_RECOMMENDED) / len(DCAT_RECOMMENDED)
    missing = [k for k in (*DCAT_MANDATORY, *DCAT_RECOMMENDED) if not present[k]]
    return round(60 * mandatory + 40 * recommended, 1), missing


def score(counters: list[QualityCounters], ds: Any, now: datetime) -> dict[str, Any]:
    """The six dimensions and the total for a dataset (pure: counters and metadata in, numbers out)."""
    checked = sum(c.checked_rows for c in counters)
    has_data = bool(counters) and checked > 0
    dims: dict[str, float | None] = {d: None for d in DIMENSIONS}
    if has_data:
        dims["completeness"] = _pct(sum(c.missing_cells for c in counters), sum(c.cells for c in counters))
        ruled = [c for c in counters if c.has_rules]
        if ruled:  # validity and consistency are only known against a schema
            ruled_checked = sum(c.checked_rows for c in ruled)
            dims["validity"] = _pct(sum(c.invalid_rows for c in ruled), ruled_checked)
            dims["consistency"] = _pct(sum(c.inconsistent_rows for c in ruled), ruled_checked)
        dims["uniqueness"] = _pct(sum(c.duplicate_rows for c in counters), checked)
    last = max([c.last_write_at for c in counters] + [ds.modified_at])
    last = last if last.tzinfo else last.replace(tzinfo=UTC)
    dims["timeliness"] = _timeliness(ds.update_frequency, last, now)
    dims["metadata"], missing = _metadata(ds)
    known = [v for v in dims.values() if v is not None]
    total = round(sum(known) / len(known), 1)
    return {"total": total, "dimensions": dims, "rows": sum(c.rows for c in counters), "checked_rows": checked,
            "missing_metadata": missing}


def refresh(ctx: RequestContext, *, dataset_id: str, trigger: str, run_id: str | None = None) -> QualityScore:
    """Rescore a dataset from its counters and metadata; the previous score stays in the history."""
    from cityhub.catalog import service as catalog

    ds = catalog.get_dataset(ctx, id_or_name=dataset_id)
    counters = list(ctx.db.scalars(select(QualityCounters).where(QualityCounters.dataset_id == dataset_id)))
    result = score(counters, ds, datetime.now(UTC))
    previous = ctx.db.scalar(select(QualityScore).where(QualityScore.dataset_id == dataset_id,
                                                        QualityScore.current.is_(True)))
    if (trigger == "metadata" and previous is not None and previous.total == result["total"]
            and previous.access_level == ds.access_level):
        return previous  # nothing moved: keep the history to real changes
    ctx.db.execute(update(QualityScore).where(QualityScore.dataset_id == dataset_id, QualityScore.current.is_(True))
                   .values(current=False))
    row = QualityScore(dataset_id=dataset_id, owner_org_id=ds.organization.id if ds.organization else None,
                       access_level=ds.access_level, run_id=run_id, trigger=trigger, total=result["total"],
                       dimensions={**result["dimensions"], "rows": result["rows"],
                                   "checked_rows": result["checked_rows"],
                                   "missing_metadata": result["missing_metadata"]},
                       current=True, computed_at=utcnow())
    ctx.db.add(row)
    ctx.db.flush()
    return row


def sort_key(dataset_id_column: Any) -> Any:
    """The catalog's `quality` sort: a dataset's current score (unscored datasets last)."""
    return func.coalesce(select(QualityScore.total).where(QualityScore.dataset_id == dataset_id_column,
                                                          QualityScore.current.is_(True))
                         .limit(1).scalar_subquery(), -1.0)


def visible(ctx: RequestContext) -> Any:
    return policy.visible_dataset_clause(ctx, id_col=QualityScore.dataset_id, access_col=QualityScore.access_level,
                                         org_col=QualityScore.owner_org_id)


def stale_after(frequency: str | None) -> timedelta | None:
    days = FREQUENCY_DAYS.get(frequency or "")
    return timedelta(days=days) if days else None
