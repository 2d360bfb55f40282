"""`cityhub stats seed-demo|indicators|refresh|publish-derived` — the statistics commands."""

from __future__ import annotations

import typer
from rich.table import Table

stats_app = typer.Typer(help="statistics: demo indicators and dashboards, refresh, rollups")


def register(app: typer.Typer, dataset_app: typer.Typer) -> None:
    app.add_typer(stats_app, name="stats")


@stats_app.command("seed-demo")
def seed_demo(analyses: bool = typer.Option(True, help="also the demonstration dashboards")) -> None:
    """Seed the KOSIS indicators from the packaged answers (no network) and the demo dashboards."""
    from cityhub.cli import console, system_ctx
    from cityhub.stats.kosis_demo import seed_statistics

    with system_ctx() as ctx:
        report = seed_statistics(ctx)
        console.print(f"KOSIS sources seeded: {report['sources']}, rows: {report['rows']:,}, "
                      f"new indicators: {report['indicators']}")
        if analyses:
            from cityhub.stats.demo_analyses import seed_analyses

            made = seed_analyses(ctx)
            console.print(f"demonstration dashboards: {', '.join(made) or 'already there'}")


@stats_app.command("indicators")
def indicators() -> None:
    """List the indicators with their period, last figure period and last update."""
    from cityhub.cli import console, system_ctx
    from cityhub.stats.service_indicators import list_indicators

    table = Table("slug", "title", "period", "last period", "values", "updated")
    with system_ctx() as ctx:
        for ind in list_indicators(ctx, limit=1000).items:
            table.add_row(ind.slug, ind.title, ind.period, ind.last_period or "", str(ind.values_count),
                          ind.updated_at.isoformat(timespec="seconds") if ind.updated_at else "")
    console.print(table)


@stats_app.command("refresh")
def refresh(slug: str) -> None:
    """Re-read one indicator's figures from its source."""
    from cityhub.cli import console, fail, system_ctx
    from cityhub.errors import CityhubError
    from cityhub.stats.service_indicators import refresh_indicator

    try:
        with system_ctx() as ctx:
            result = refresh_indicator(ctx, slug=slug)
    except CityhubError as exc:
        fail(exc)
    colour = "red" if result.error else "green"
    console.print(f"[{colour}]{result.indicator}: {result.values} figures, changed={result.changed}"
                  f"{' — ' + result.error if result.error else ''}[/{colour}]")


@stats_app.command("publish-derived")
def publish_derived(org: str = typer.Option(..., help="the organization that publishes them")) -> None:
    """Publish (once) and refresh the incident register and the hourly sensor history as datasets."""
    from cityhub.cli import as_system, console
    from cityhub.stats.derived import publish

    for d in as_system(lambda ctx: publish(ctx, org=org)):
        console.print(f"{d['dataset']}: {d['rows']:,} rows (+{d['inserted']:,} new, {d['updated']:,} changed)")
