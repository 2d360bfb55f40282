"""Reading quality: a dataset's current score and history, its report, badges, and the ranking of
organizations — always within what the caller may see."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select

from cityhub.auth.models import Organization
from cityhub.ctx import RequestContext
from cityhub.governance import quality
from cityhub.governance.models import QualityScore


class QualityPublic(BaseModel):
    dataset_id: str
    total: float | None
    grade: str
    dimensions: dict[str, Any]
    computed_at: datetime | None
    run_id: str | None = None
    trigger: str | None = None


class OrganizationQuality(BaseModel):
    organization: str
    title: str
    datasets: int
    average: float
    rank: int


def grade(total: float | None) -> str:
    """A–E for badges: A ≥ 90, B ≥ 75, C ≥ 60, D ≥ 40, else E; '-' when not scored yet."""
    if total is None:
        return "-"
    for letter, floor in (("A", 90), ("B", 75), ("C", 60), ("D", 40)):
        if total >= floor:
            return letter
    return "E"


def _public(row: QualityScore | None, dataset_id: str) -> QualityPublic:
    if row is None:
        return QualityPublic(dataset_id=dataset_id, total=None, grade="-", dimensions={}, computed_at=None)
    return QualityPublic(dataset_id=dataset_id, total=row.total, grade=grade(row.total), dimensions=row.dimensions,
                         computed_at=row.computed_at, run_id=row.run_id, trigger=row.trigger)


def _ref(ctx: RequestContext, dataset: str):  # noqa: ANN202
    from cityhub.catalog import service as catalog

    return catalog.get_dataset_ref(ctx, id_or_name=dataset)


def current(ctx: RequestContext, *, dataset: str) -> QualityPublic:
    """A dataset's current quality score (anyone who may read the dataset)."""
    ref = _ref(ctx, dataset)
    row = ctx.db.scalar(select(QualityScore).where(QualityScore.dataset_id == ref.id, QualityScore.current.is_(True)))
    if row is None:  # never written to: score the metadata alone
        row = quality.refresh(ctx, dataset_id=ref.id, trigger="metadata")
    return _public(row, ref.id)


def scores_for(ctx: RequestContext, dataset_ids: list[str]) -> dict[str, QualityPublic]:
    """Current scores of several datasets at once (search results, lists); callers pass visible ids."""
    rows = ctx.db.scalars(select(QualityScore).where(QualityScore.dataset_id.in_(dataset_ids),
                                                     QualityScore.current.is_(True))) if dataset_ids else []
    return {r.dataset_id: _public(r, r.dataset_id) for r in rows}


def history(ctx: RequestContext, *, dataset: str, limit: int = 200) -> list[QualityPublic]:
    """Scores over time, newest first (per upload, per collection run page, per metadata change)."""
    ref = _ref(ctx, dataset)
    rows = ctx.db.scalars(select(QualityScore).where(QualityScore.dataset_id == ref.id)
                          .order_by(QualityScore.id.desc()).limit(limit))
    return [_public(r, ref.id) for r in rows]


def per_run(ctx: RequestContext, *, dataset: str) -> list[QualityPublic]:
    """The score each collection run left behind (its last page), newest first."""
    return [h for h in _last_per_run(history(ctx, dataset=dataset, limit=5000))]


def _last_per_run(items: list[QualityPublic]) -> list[QualityPublic]:
    seen: set[str] = set()
    out = []
    for item in items:
        if item.run_id and item.run_id not in seen:
            seen.add(item.run_id)
            out.append(item)
    return out


def report_csv(ctx: RequestContext, *, dataset: str) -> str:
    """A downloadable report: current dimensions, missing metadata, then the history."""
    now = current(ctx, dataset=dataset)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["section", "item", "value"])
    w.writerow(["score", "total", now.total])
    w.writerow(["score", "grade", now.grade])
    for dim in quality.DIMENSIONS:
        w.writerow(["dimension", dim, now.dimensions.get(dim)])
    w.writerow(["data", "rows", now.dimensions.get("rows")])
    for field in now.dimensions.get("missing_metadata", []):
        w.writerow(["missing_metadata", field, "DCAT-AP"])
    w.writerow([])
    w.writerow(["computed_at", "trigger", "run_id", "total", *quality.DIMENSIONS])
    for h in history(ctx, dataset=dataset):
        w.writerow([h.computed_at.isoformat() if h.computed_at else "", h.trigger, h.run_id or "", h.total,
                    *(h.dimensions.get(d) for d in quality.DIMENSIONS)])
    return buf.getvalue()


BADGE_COLOURS = {"A": "#2e7d32", "B": "#689f38", "C": "#f9a825", "D": "#ef6c00", "E": "#c62828", "-": "#9e9e9e"}


def badge_svg(score: QualityPublic) -> str:
    """A small shields-style badge: 품질 | 87 A."""
    value = "—" if score.total is None else f"{score.total:.0f} {score.grade}"
    colour = BADGE_COLOURS[score.grade]
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="110" height="20" role="img" '
            f'aria-label="품질 quality {value}"><rect width="50" height="20" fill="#555"/>'
            f'<rect x="50" width="60" height="20" fill="{colour}"/><g fill="#fff" font-family="sans-serif" '
            f'font-size="11" text-anchor="middle"><text x="25" y="14">품질</text><text x="80" y="14">{value}</text>'
            f"</g></svg>")


def ranking(ctx: RequestContext) -> list[OrganizationQuality]:
    """Organizations by the mean current score of their datasets the caller may see."""
    stmt = (select(QualityScore.owner_org_id, func.count(), func.avg(QualityScore.total))
            .where(QualityScore.current.is_(True), QualityScore.owner_org_id.is_not(None), quality.visible(ctx))
            .group_by(QualityScore.owner_org_id))
    rows = ctx.db.execute(stmt).all()
    orgs = {o.id: o for o in ctx.db.scalars(select(Organization).where(
        Organization.id.in_([r[0] for r in rows])))} if rows else {}
    ranked = sorted(rows, key=lambda r: (-float(r[2]), orgs[r[0]].name if r[0] in orgs else ""))
    return [OrganizationQuality(organization=orgs[r[0]].name, title=orgs[r[0]].title, datasets=r[1],
                                average=round(float(r[2]), 1), rank=i + 1)
            for i, r in enumerate(ranked) if r[0] in orgs]
