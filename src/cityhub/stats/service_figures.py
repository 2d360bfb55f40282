"""An indicator's figures: time series per district, district comparison with year-on-year change,
the page bundle, and CSV for download."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from cityhub.ctx import RequestContext
from cityhub.errors import Invalid
from cityhub.stats import periods
from cityhub.stats.models import Indicator, IndicatorValue
from cityhub.stats.schemas import (
    DistrictFigure,
    DistrictSeries,
    IndicatorComparison,
    IndicatorPage,
    IndicatorSeries,
    SeriesPoint,
)
from cityhub.stats.service_indicators import CITY_CODE, find, source_status, to_public

MAX_DISTRICTS = 30


def _values(ctx: RequestContext, ind: Indicator, *, districts: list[str] | None = None,
            start: str | None = None, end: str | None = None) -> list[IndicatorValue]:
    conds = [IndicatorValue.indicator_id == ind.id]
    if districts is not None:
        conds.append(IndicatorValue.district_code.in_(districts))
    if start:
        conds.append(IndicatorValue.period_start >= periods.start_of(start, ind.period))
    if end:
        conds.append(IndicatorValue.period_start <= periods.start_of(end, ind.period))
    return list(ctx.db.scalars(select(IndicatorValue).where(*conds)
                               .order_by(IndicatorValue.district_code, IndicatorValue.period_start)))


def _district_codes(ctx: RequestContext, ind: Indicator, wanted: list[str] | None) -> list[str] | None:
    """District codes from codes or names (Korean or English); '' or 'city' is the whole city."""
    if not wanted:
        return None
    if len(wanted) > MAX_DISTRICTS:
        raise Invalid.field("district", f"at most {MAX_DISTRICTS} districts at a time")
    known = ctx.db.execute(select(IndicatorValue.district_code, IndicatorValue.district, IndicatorValue.district_en)
                           .where(IndicatorValue.indicator_id == ind.id).distinct()).all()
    by_name = {}
    for code, name, name_en in known:
        for key in (code, name, name_en):
            if key:
                by_name[str(key).lower()] = code
    out = []
    for item in wanted:
        key = item.strip().lower()
        if key in ("", "city", "total", "전체"):
            out.append(CITY_CODE)
        elif key in by_name:
            out.append(by_name[key])
        else:
            raise Invalid.field("district", f"no district {item!r} in this indicator")
    return out


def series(ctx: RequestContext, *, slug: str, districts: list[str] | None = None, start: str | None = None,
           end: str | None = None) -> IndicatorSeries:
    """The time series of the whole city (default) or of the given districts."""
    ind = find(ctx, slug)
    return _series(ctx, ind, districts if districts else [CITY_CODE], start, end)


def _series(ctx: RequestContext, ind: Indicator, wanted: list[str], start: str | None,
            end: str | None) -> IndicatorSeries:
    codes = _district_codes(ctx, ind, wanted)
    grouped: dict[str, DistrictSeries] = {}
    for v in _values(ctx, ind, districts=codes, start=start, end=end):
        entry = grouped.get(v.district_code)
        if entry is None:
            entry = grouped[v.district_code] = DistrictSeries(district_code=v.district_code, district=v.district,
                                                               district_en=v.district_en, points=[])
        entry.points.append(SeriesPoint(period=v.period, value=v.value))
    ordered = [grouped[c] for c in (codes or list(grouped)) if c in grouped]
    return IndicatorSeries(indicator=ind.slug, unit=ind.unit, series=ordered)


def comparison(ctx: RequestContext, *, slug: str, period: str | None = None) -> IndicatorComparison:
    """Every district in one period (the latest by default) with its change from a year before."""
    return _comparison(ctx, find(ctx, slug), period)


def _comparison(ctx: RequestContext, ind: Indicator, period: str | None) -> IndicatorComparison:
    label = period or ind.last_period
    if label is None:
        return IndicatorComparison(indicator=ind.slug, period=None, previous_period=None, districts=[])
    periods.start_of(label, ind.period)  # a malformed period is a 422 naming it
    before = periods.year_before(label, ind.period)
    rows = ctx.db.scalars(select(IndicatorValue).where(IndicatorValue.indicator_id == ind.id,
                                                       IndicatorValue.period.in_([label, before]))).all()
    prev = {r.district_code: r.value for r in rows if r.period == before}
    figures = []
    for r in rows:
        if r.period != label:
            continue
        old = prev.get(r.district_code)
        change = None if r.value is None or old is None else r.value - old
        pct = None if change is None or not old else round(change / old * 100, 2)
        figures.append(DistrictFigure(district_code=r.district_code, district=r.district, district_en=r.district_en,
                                      value=r.value, previous=old, change=change, change_percent=pct))
    total = next((f for f in figures if f.district_code == CITY_CODE), None)
    districts = sorted((f for f in figures if f.district_code != CITY_CODE), key=lambda f: f.district_code)
    return IndicatorComparison(indicator=ind.slug, period=label, previous_period=before, total=total,
                               districts=districts)


def page(ctx: RequestContext, *, slug: str, districts: list[str] | None = None) -> IndicatorPage:
    """What an indicator page shows: the indicator, its series (city and chosen districts), the latest
    district comparison with year-on-year change, and the districts one may pick."""
    ind = find(ctx, slug)
    wanted = [CITY_CODE, *(districts or [])]
    known = ctx.db.execute(select(IndicatorValue.district_code, IndicatorValue.district, IndicatorValue.district_en)
                           .where(IndicatorValue.indicator_id == ind.id,
                                  IndicatorValue.period == ind.last_period)).all()
    return IndicatorPage(
        indicator=to_public(ind, source_status(ctx, ind)),
        series=_series(ctx, ind, wanted, None, None),
        comparison=_comparison(ctx, ind, None),
        districts=[{"code": c, "name": n, "name_en": e} for c, n, e in sorted(known) if c != CITY_CODE])


def to_csv(data: IndicatorSeries) -> str:
    """Series as CSV: indicator, district code and names, period, value."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["indicator", "district_code", "district", "district_en", "period", "value", "unit"])
    for s in data.series:
        for p in s.points:
            writer.writerow([data.indicator, s.district_code, s.district or "", s.district_en or "", p.period,
                             "" if p.value is None else p.value, data.unit or ""])
    return out.getvalue()
