"""`cityhub source add|list|run|runs|replay` — the collection commands."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

source_app = typer.Typer(help="collection sources: add, list, run, runs, replay")


def register(app: typer.Typer, dataset_app: typer.Typer) -> None:
    app.add_typer(source_app, name="source")


def _load_json(value: str | None, what: str) -> object:
    if not value:
        return None
    text = Path(value[1:]).read_text(encoding="utf-8") if value.startswith("@") else value
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"{what} is not valid JSON: {exc}") from None


@source_app.command("add")
def add(
    name: str,
    connector: str = typer.Option(..., help="http, kosis, seoul, datagokr, ckan, mqtt, file or a plugin"),
    dataset: str = typer.Option(..., help="target dataset name or id"),
    title: str | None = typer.Option(None),
    config: str = typer.Option("{}", help="connector config as JSON, or @file.json"),
    fields: str | None = typer.Option(None, help="field mapping as a JSON list, or @file.json"),
    key: str | None = typer.Option(None, help="comma-separated key fields"),
    schedule: str | None = typer.Option(None, help="'interval:3600' or 'cron:0 3 * * *'"),
    update_frequency: str | None = typer.Option(None),
) -> None:
    """Add a source feeding a dataset."""
    from pydantic import ValidationError

    from cityhub.cli import console, fail, system_ctx
    from cityhub.collect.schemas import SourceCreate
    from cityhub.collect.service import create_source
    from cityhub.errors import CityhubError

    kind, _, expr = (schedule or "none:").partition(":")
    try:
        data = SourceCreate(name=name, title=title or name, connector=connector, dataset=dataset,
                            config=_load_json(config, "config") or {}, fields=_load_json(fields, "fields") or [],
                            key=[k.strip() for k in (key or "").split(",") if k.strip()],
                            schedule_kind=kind, schedule_expr=expr or None, update_frequency=update_frequency)
    except ValidationError as exc:
        for err in exc.errors():
            console.print(f"[red]error:[/red] {'.'.join(map(str, err['loc']))}: {err['msg']}")
        raise typer.Exit(code=2) from None
    try:
        with system_ctx() as ctx:
            created = create_source(ctx, data=data)
    except CityhubError as exc:
        fail(exc)
    console.print(f"added source [bold]{created.name}[/bold] ({created.connector}) → dataset {dataset}")


@source_app.command("list")
def list_(as_json: bool = typer.Option(False, "--json")) -> None:
    """Sources with their health."""
    from cityhub.cli import system_ctx
    from cityhub.collect.service import list_sources

    with system_ctx() as ctx:
        result = list_sources(ctx, limit=1000)
    if as_json:
        print(result.model_dump_json(indent=2))
        return
    table = Table("name", "connector", "schedule", "health", "last success", "failures")
    for s in result.items:
        table.add_row(s.name, s.connector, f"{s.schedule_kind} {s.schedule_expr or ''}".strip(), s.health.status,
                      str(s.health.last_success_at or "-"), str(s.health.failure_streak))
    from rich.console import Console

    Console().print(table)


def _run_with_progress(work, label: str) -> object:  # noqa: ANN001
    from cityhub.cli import console

    with Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(),
                  TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task(label, total=None, info="")

        def progress(run) -> None:  # noqa: ANN001
            bar.update(task, info=f"{run.requests} requests · {run.rows_received} rows · "
                                  f"+{run.rows_inserted} ~{run.rows_updated} ={run.rows_unchanged} "
                                  f"!{run.rows_quarantined}")

        return work(progress)


def _print_run(run) -> None:  # noqa: ANN001
    from cityhub.cli import console

    colour = "green" if run.status == "succeeded" else "red"
    console.print(f"run {run.id}: [{colour}]{run.status}[/{colour}] — {run.requests} requests, "
                  f"{run.rows_received} rows received, {run.rows_inserted} inserted, {run.rows_updated} updated, "
                  f"{run.rows_unchanged} unchanged, {run.rows_quarantined} quarantined, {run.bytes} bytes")
    if run.error:
        console.print(f"[red]error:[/red] {run.error}")
    if run.upstream_message:
        console.print(f"[red]upstream said:[/red] {run.upstream_message}")


@source_app.command("run")
def run(name: str) -> None:
    """Run a source now (resuming an interrupted run from its cursor)."""
    from cityhub.cli import fail, system_ctx
    from cityhub.collect.service import recover, run_source
    from cityhub.errors import CityhubError

    try:
        with system_ctx() as ctx:
            recover(ctx.db)
            ctx.db.commit()
            result = _run_with_progress(lambda p: run_source(ctx, id_or_name=name, trigger="cli", progress=p),
                                        f"collecting {name}")
    except CityhubError as exc:
        fail(exc)
    _print_run(result)
    if result.status != "succeeded":
        raise typer.Exit(code=1)


@source_app.command("replay")
def replay(name: str) -> None:
    """Rebuild a source's rows from its raw landing zone."""
    from cityhub.cli import fail, system_ctx
    from cityhub.collect.service import replay_source
    from cityhub.errors import CityhubError

    try:
        with system_ctx() as ctx:
            result = _run_with_progress(lambda p: replay_source(ctx, id_or_name=name, progress=p),
                                        f"replaying {name}")
    except CityhubError as exc:
        fail(exc)
    _print_run(result)
    if result.status != "succeeded":
        raise typer.Exit(code=1)


@source_app.command("runs")
def runs(name: str | None = typer.Argument(None), limit: int = 20,
         as_json: bool = typer.Option(False, "--json")) -> None:
    """Run history (all sources, or one)."""
    from rich.console import Console

    from cityhub.cli import system_ctx
    from cityhub.collect.service import list_runs

    with system_ctx() as ctx:
        result = list_runs(ctx, id_or_name=name, limit=limit)
    if as_json:
        print(result.model_dump_json(indent=2))
        return
    table = Table("started", "source", "trigger", "status", "requests", "rows", "+ins", "~upd", "=same", "!quar",
                  "error")
    for r in result.items:
        table.add_row(r.started_at.strftime("%Y-%m-%d %H:%M:%S"), r.source_name or "", r.trigger, r.status,
                      str(r.requests), str(r.rows_received), str(r.rows_inserted), str(r.rows_updated),
                      str(r.rows_unchanged), str(r.rows_quarantined), (r.error or "")[:80])
    Console().print(table)
