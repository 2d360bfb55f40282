"""`cityhub simulate`: a synthetic live city published in process, over HTTP or over MQTT."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import typer


def context_catalog(org: str = typer.Option(..., help="publishing organization (name or id)")) -> None:
    """Refresh the catalog dataset of every live entity type (latest state as a table)."""
    from cityhub.cli import as_system, console
    from cityhub.context.catalog_link import publish_snapshots

    for item in as_system(lambda ctx: publish_snapshots(ctx, org=org)):
        console.print(f"{item['type']}: dataset [bold]{item['dataset']}[/bold], {item['rows']} rows")

def simulate(
    mode: str = typer.Option("inprocess", help="inprocess | http | mqtt"),
    url: str = typer.Option("http://127.0.0.1:8000", help="cityhub base URL (http mode)"),
    token: str = typer.Option("", envvar="CITYHUB_TOKEN", help="API token of an operator (http mode)"),
    mqtt_url: str = typer.Option("mqtt://127.0.0.1:1883/cityhub/ngsi-ld/upsert", help="broker and topic"),
    ticks: int = typer.Option(1, help="how many moments to publish (0 = run until stopped)"),
    step_seconds: int = typer.Option(300, help="simulated seconds between moments"),
    interval: float = typer.Option(0.0, help="wall-clock seconds between moments"),
    backfill_hours: float = typer.Option(0.0, help="start this many hours in the past (history for charts)"),
    air: int = 300, traffic: int = 1000, water: int = 50, cameras: int = 1200, seed: int = 42,
    batch: int = 1000,
) -> None:
    """Publish a synthetic Busan: air, traffic, water, river levels and cameras, with episodes and faults."""
    from urllib.parse import urlparse

    from rich.progress import Progress

    from cityhub.cli import console
    from cityhub.context import publish
    from cityhub.context.simulator import SimulatedCity
    from cityhub.settings import get_settings

    start = datetime.now(UTC) - timedelta(hours=backfill_hours)
    city = SimulatedCity(seed=seed, air=air, traffic=traffic, water=water, cameras=cameras, start=start)
    if mode == "http":
        sender = publish.over_http(url, token or None, batch=batch)
    elif mode == "mqtt":
        u = urlparse(mqtt_url)
        sender = publish.over_mqtt(u.hostname or "127.0.0.1", u.port or 1883, u.path.lstrip("/"))
    elif mode == "inprocess":
        from cityhub.migrations.runner import upgrade

        upgrade(get_settings())
        sender = publish.in_process(get_settings(), batch=batch)
    else:
        console.print(f"[red]error:[/red] unknown mode {mode!r}")
        raise typer.Exit(code=2)
    console.print(f"simulating {city.counts()} → {mode}")
    if backfill_hours and ticks == 1:
        ticks = max(1, int(backfill_hours * 3600 / step_seconds))
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("publishing", total=ticks or None)
        total = publish.run(city, sender, ticks=ticks, step=timedelta(seconds=step_seconds), interval=interval,
                            on_tick=lambda n, at, sent: progress.update(task, advance=1,
                                                                        description=f"{at:%H:%M} +{sent}"))
    console.print(f"[green]published {total} entity updates[/green]")


def register(app: typer.Typer, dataset_app: typer.Typer) -> None:
    app.command("context-catalog")(context_catalog)
    app.command()(simulate)
