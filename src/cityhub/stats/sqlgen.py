"""Generated SQL for charts and computed indicators, built with sqlglot in the engine's dialect.

Column names are checked against the table before they get here and always go out quoted, so a
name can never become SQL. Time buckets give the same text labels on SQLite (ISO text dates) and
PostgreSQL (real timestamps): 2024, 2024-07, 2024-07-15, 2024-07-15T10:00, and hour-of-day /
weekday numbers.
"""

from __future__ import annotations

from typing import Any

import sqlglot
from sqlglot import exp

BUCKETS = ("hour", "day", "week", "month", "quarter", "year", "hour_of_day", "weekday")

_SQLITE = {
    "hour": "substr({c}, 1, 13) || ':00'",
    "day": "substr({c}, 1, 10)",
    "week": "date(substr({c}, 1, 10), 'weekday 0', '-6 days')",
    "month": "substr({c}, 1, 7)",
    "quarter": "substr({c}, 1, 4) || 'Q' || ((CAST(substr({c}, 6, 2) AS INTEGER) + 2) / 3)",
    "year": "substr({c}, 1, 4)",
    "hour_of_day": "CAST(substr({c}, 12, 2) AS INTEGER)",
    "weekday": "CAST(strftime('%w', substr({c}, 1, 19)) AS INTEGER)",
}
_POSTGRES = {
    "hour": "to_char({c}, 'YYYY-MM-DD\"T\"HH24:00')",
    "day": "to_char({c}, 'YYYY-MM-DD')",
    "week": "to_char(date_trunc('week', {c}), 'YYYY-MM-DD')",
    "month": "to_char({c}, 'YYYY-MM')",
    "quarter": "to_char({c}, 'YYYY\"Q\"Q')",
    "year": "to_char({c}, 'YYYY')",
    "hour_of_day": "CAST(extract(hour FROM {c}) AS INTEGER)",
    "weekday": "CAST(extract(dow FROM {c}) AS INTEGER)",
}


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def column(name: str) -> exp.Expression:
    return exp.column(name, quoted=True)


def bucket(name: str, grain: str, dialect: str) -> exp.Expression:
    """A time column cut to a bucket label (or hour-of-day / weekday number)."""
    if dialect == "sqlite":
        return sqlglot.parse_one(_SQLITE[grain].format(c=quote(name)), read=dialect)
    # A text column holding ISO times (a collected feed) reads as a timestamp too; a no-op on timestamps.
    return sqlglot.parse_one(_POSTGRES[grain].format(c=f"CAST({quote(name)} AS TIMESTAMP)"), read=dialect)


def aggregate(agg: str, name: str | None) -> exp.Expression:
    if agg == "count":
        return exp.Count(this=exp.Star()) if not name else exp.Count(this=column(name))
    target = column(name or "")
    return {"sum": exp.Sum, "avg": exp.Avg, "min": exp.Min, "max": exp.Max}[agg](this=target)


def table(name: str) -> exp.Table:
    return exp.Table(this=exp.to_identifier(name, quoted=True))


def literal(value: Any) -> exp.Expression:
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, float)):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))


def render(query: exp.Expression, dialect: str) -> str:
    return query.sql(dialect=dialect)
