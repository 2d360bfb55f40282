"""Dashboards: cards of charts, indicators and text with filters across them, shared by link or
embedded. Each card's data is computed as the viewer: a card over a table the viewer may not read
says "no access" and the others still render. Only dashboards whose every card shows public data can
be embedded in other sites."""

from __future__ import annotations

import uuid
from typing import Any

import sqlglot
from sqlalchemy import func, or_, select
from sqlglot import exp

from cityhub.auth import policy
from cityhub.ctx import ANONYMOUS, RequestContext
from cityhub.db import utcnow
from cityhub.errors import CityhubError, Conflict, Forbidden, Invalid, NotFound, Unauthenticated
from cityhub.stats import service_charts as charts
from cityhub.stats import service_figures as figures
from cityhub.stats import service_queries as queries
from cityhub.stats.models import Chart, Dashboard
from cityhub.stats.schemas_charts import (
    Card,
    CardData,
    ChartData,
    ChartSpec,
    DashboardCreate,
    DashboardList,
    DashboardPublic,
    DashboardUpdate,
    ViewFilters,
)
from cityhub.stats.service_indicators import STATS_ACTOR

policy.declare("dashboard.read", "dashboard.manage")
NO_ACCESS = "no access: you may not read the data behind this card"


def to_public(ctx: RequestContext, d: Dashboard) -> DashboardPublic:
    return DashboardPublic(
        id=d.id, slug=d.slug, title=d.title, title_en=d.title_en, description=d.description,
        description_en=d.description_en, cards=[Card.model_validate(c) for c in d.cards or []],
        filters=d.filters or {}, refresh_seconds=d.refresh_seconds, visibility=d.visibility,
        owner_user_id=d.owner_user_id, mine=ctx.actor.is_authenticated and d.owner_user_id == ctx.actor.user_id,
        created_at=d.created_at, modified_at=d.modified_at)


def find(ctx: RequestContext, slug: str, action: str = "dashboard.read") -> Dashboard:
    d = ctx.db.scalar(select(Dashboard).where(or_(Dashboard.slug == slug, Dashboard.id == slug)))
    if d is None or not policy.can(ctx, "dashboard.read", d):
        raise NotFound(f"dashboard {slug!r} not found")
    policy.require(ctx, action, d)
    return d


def _cards(ctx: RequestContext, cards: list[Card]) -> list[dict[str, Any]]:
    out = []
    for i, card in enumerate(cards):
        if card.kind == "chart":
            if not card.chart_id:
                raise Invalid.field(f"cards[{i}].chart_id", "a chart card needs chart_id")
            charts.find(ctx, card.chart_id)  # you may place only charts you may open
        if card.kind == "indicator" and not card.indicator:
            raise Invalid.field(f"cards[{i}].indicator", "an indicator card needs indicator")
        out.append({**card.model_dump(), "id": card.id or uuid.uuid4().hex[:8]})
    return out


def create_dashboard(ctx: RequestContext, *, data: DashboardCreate) -> DashboardPublic:
    """Make a dashboard of charts, indicators and text."""
    policy.require(ctx, "stats.create")
    if ctx.db.scalar(select(Dashboard.id).where(Dashboard.slug == data.slug)):
        raise Conflict(f"dashboard {data.slug!r} exists", details={"slug": ["already in use"]})
    d = Dashboard(slug=data.slug, title=data.title, title_en=data.title_en, description=data.description,
                  description_en=data.description_en, cards=_cards(ctx, data.cards), filters=data.filters,
                  refresh_seconds=data.refresh_seconds, visibility=data.visibility, owner_user_id=ctx.actor.user_id)
    ctx.db.add(d)
    ctx.db.flush()
    return to_public(ctx, d)


def update_dashboard(ctx: RequestContext, *, slug: str, data: DashboardUpdate) -> DashboardPublic:
    """Change a dashboard (its owner)."""
    d = find(ctx, slug, "dashboard.manage")
    values = data.model_dump(exclude_unset=True)
    if data.cards is not None:
        values["cards"] = _cards(ctx, data.cards)
    for key, value in values.items():
        setattr(d, key, value)
    d.modified_at = utcnow()
    ctx.db.flush()
    return to_public(ctx, d)


def delete_dashboard(ctx: RequestContext, *, slug: str) -> None:
    """Remove a dashboard (its owner); its charts stay."""
    ctx.db.delete(find(ctx, slug, "dashboard.manage"))
    ctx.db.flush()


def get_dashboard(ctx: RequestContext, *, slug: str) -> DashboardPublic:
    """A dashboard you own, shared with you, or opened by its link."""
    return to_public(ctx, find(ctx, slug))


def list_dashboards(ctx: RequestContext, *, limit: int = 100, offset: int = 0) -> DashboardList:
    """Public dashboards, those shared with signed-in users, and your own (link-only ones stay unlisted)."""
    visible = [Dashboard.visibility == "public"]
    if ctx.actor.is_authenticated:
        visible += [Dashboard.visibility == "shared", Dashboard.owner_user_id == ctx.actor.user_id]
    cond = or_(*visible)
    total = ctx.db.scalar(select(func.count()).select_from(Dashboard).where(cond)) or 0
    rows = ctx.db.scalars(select(Dashboard).where(cond).order_by(Dashboard.title).limit(limit).offset(offset))
    return DashboardList(items=[to_public(ctx, d) for d in rows], total=total)


# --- card data -----------------------------------------------------------------------------------


def _denied(exc: CityhubError) -> bool:
    return isinstance(exc, (NotFound, Forbidden, Unauthenticated)) or "not found or not permitted" in exc.message


def card_data(ctx: RequestContext, d: Dashboard, card: dict[str, Any], view: ViewFilters) -> CardData:
    """One card as this viewer sees it."""
    out = CardData(id=card["id"], kind=card["kind"], title=card.get("title"), title_en=card.get("title_en"))
    try:
        if card["kind"] == "chart":
            chart = ctx.db.get(Chart, card["chart_id"])
            if chart is None:
                raise NotFound("the chart was removed")
            spec = ChartSpec.model_validate(chart.spec)
            out.title, out.title_en = out.title or chart.title, out.title_en or chart.title_en
            out.spec = spec
            out.chart = charts.chart_data(ctx, spec=spec, view=view, via_dashboard=True)
        elif card["kind"] == "indicator":
            districts = [view.district] if view.district else None
            page = figures.page(ctx, slug=card["indicator"], districts=districts)
            out.title, out.title_en = out.title or page.indicator.title, out.title_en or page.indicator.title_en
            out.indicator = page.model_dump(mode="json")
    except CityhubError as exc:
        if _denied(exc):
            return out.model_copy(update={"status": "no_access", "message": NO_ACCESS, "spec": None, "chart": None})
        return out.model_copy(update={"status": "error", "message": exc.message, "chart": None})
    return out


def dashboard_data(ctx: RequestContext, *, slug: str, view: ViewFilters) -> list[CardData]:
    """Every card's data for this viewer; cards the viewer may not see say so, the rest render."""
    d = find(ctx, slug)
    return [card_data(ctx, d, card, view) for card in d.cards or []]


def one_card(ctx: RequestContext, *, slug: str, card_id: str, view: ViewFilters) -> ChartData:
    """One chart card's data (CSV export of a card)."""
    d = find(ctx, slug)
    card = next((c for c in d.cards or [] if c["id"] == card_id), None)
    if card is None or card["kind"] != "chart":
        raise NotFound(f"no chart card {card_id!r} on this dashboard")
    data = card_data(ctx, d, card, view)
    if data.status == "no_access":
        raise Forbidden(NO_ACCESS)
    if data.chart is None:
        raise Invalid.field("card", data.message or "this card has no data")
    return data.chart


# --- embedding -----------------------------------------------------------------------------------


def embeddable(ctx: RequestContext, *, slug: str) -> Dashboard:
    """A dashboard that may be embedded in other sites: shared by link or public, and every card's data
    public. Anything internal is refused, naming the card and the dataset."""
    d = ctx.db.scalar(select(Dashboard).where(or_(Dashboard.slug == slug, Dashboard.id == slug)))
    if d is None or d.visibility not in ("link", "public"):
        raise NotFound(f"dashboard {slug!r} not found")
    system = ctx.with_actor(STATS_ACTOR)
    for card in d.cards or []:
        for what, level in _levels(system, card):
            if level != "public":
                raise Forbidden(f"this dashboard cannot be embedded: card {card.get('title') or card['id']!r} shows "
                                f"{what}, which is {level} data; only dashboards of public data can be embedded")
    return d


def _levels(ctx: RequestContext, card: dict[str, Any]) -> list[tuple[str, str]]:
    from cityhub.catalog import service as catalog
    from cityhub.stats.service_indicators import find as find_indicator

    if card["kind"] == "indicator":
        ind = find_indicator(ctx, card["indicator"])
        return [(f"indicator {ind.slug}", ind.access_level)]
    if card["kind"] != "chart":
        return []
    chart = ctx.db.get(Chart, card.get("chart_id"))
    if chart is None:
        return []
    spec = ChartSpec.model_validate(chart.spec)
    ids = [spec.source.resource_id] if spec.source.resource_id else _tables_of(ctx, spec.source.query_id or "")
    out = []
    for rid in ids:
        try:
            ref = catalog.authorize_resource(ctx, resource_id=rid)
            out.append((f"dataset {ref.dataset_name}", ref.dataset.access_level))
        except NotFound:
            out.append((f"table {rid}", "unknown"))
    return out


def _tables_of(ctx: RequestContext, query_id: str) -> list[str]:
    q = queries.load(ctx, query_id)
    dialect = "sqlite" if ctx.settings.is_sqlite else "postgres"
    tree = sqlglot.parse_one(q.sql, read=dialect)
    ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
    return sorted({t.name for t in tree.find_all(exp.Table) if t.name and t.name not in ctes})


def embed_data(ctx: RequestContext, *, slug: str, view: ViewFilters) -> tuple[Dashboard, list[CardData]]:
    """An embeddable dashboard's cards, computed as an anonymous visitor (cookies never count here)."""
    d = embeddable(ctx, slug=slug)
    anonymous = ctx.with_actor(ANONYMOUS)
    return d, [card_data(anonymous, d, card, view) for card in d.cards or []]
