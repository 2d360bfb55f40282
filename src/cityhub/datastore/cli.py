"""`cityhub dataset import FILE`: create a dataset and load a tabular file into it, with a progress bar;
`cityhub dataset index-columns`: build the per-column indexes the server leaves to a maintenance window."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import typer


def _slug(title: str, path: Path) -> str:
    base = re.sub(r"[^a-z0-9_-]+", "-", path.stem.lower()).strip("-")
    if len(base) < 2:
        base = "dataset"
    return f"{base[:80]}-{uuid.uuid4().hex[:6]}"


def register(app: typer.Typer, dataset_app: typer.Typer) -> None:
    @dataset_app.command("import")
    def import_file(
        file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
        org: str = typer.Option(..., help="publisher organization (name or id)"),
        title: str = typer.Option(..., help="dataset title"),
        name: str | None = typer.Option(None, help="URL slug (default: from the file name)"),
        access: str = typer.Option("public", help="public | internal | restricted"),
        format: str | None = typer.Option(None, help="CSV, TSV, XLSX, JSON or GeoJSON (default: from the suffix)"),
    ) -> None:
        """Create a dataset and load FILE into the datastore (CSV, TSV, XLSX, JSON, GeoJSON)."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from cityhub.catalog import service as catalog
        from cityhub.catalog.schemas import DatasetCreate, ResourceCreate
        from cityhub.cli import console, fail, system_ctx
        from cityhub.datastore.bulk_load import prepare_upload
        from cityhub.datastore.service import PROGRESS_KEY
        from cityhub.errors import CityhubError

        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=False) as bar:
            tasks: dict[str, int] = {}

            def report(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=total or 1)
                bar.update(tasks[stage], completed=done, total=total or 1)

            try:
                with system_ctx() as ctx:
                    ctx.extra[PROGRESS_KEY] = report
                    # a big file is loaded before the dataset is written: its row would hold the lock the loader needs
                    prepare_upload(ctx, path=file, owner_org=org, fmt=format, progress=report)
                    dataset = catalog.create_dataset(ctx, data=DatasetCreate(
                        name=name or _slug(title, file), title=title, owner_org=org, access_level=access))
                    with file.open("rb") as handle:
                        resource = catalog.create_resource(
                            ctx, dataset=dataset.id, data=ResourceCreate(name=file.name, format=format),
                            upload=handle, filename=file.name)
            except CityhubError as exc:
                fail(exc)
        console.print(f"[green]imported[/green] {resource.row_count or 0:,} rows into dataset "
                      f"[bold]{dataset.name}[/bold] (resource {resource.id})")
    _register_index_columns(dataset_app)


def _register_index_columns(dataset_app: typer.Typer) -> None:
    @dataset_app.command("index-columns")
    def index_columns() -> None:
        """Build every pending per-column index, big SQLite tables included (each build holds SQLite's
        write lock for its whole duration, so run it when the city can wait for writes)."""
        from rich.progress import Progress

        from cityhub.cli import console
        from cityhub.datastore import column_indexes
        from cityhub.db import make_engine
        from cityhub.settings import get_settings

        engine = make_engine(get_settings())
        with engine.connect() as conn:
            work = column_indexes.pending(conn, min_age_seconds=0, any_size=True)
        total = sum(len(columns) for _, columns in work)
        built = 0
        with Progress(console=console) as bar:
            task = bar.add_task("column indexes", total=total or 1)
            for resource_id, columns in work:
                for column in columns:
                    built += column_indexes.build_one(engine, resource_id, column, any_size=True)
                    bar.advance(task)
        engine.dispose()
        console.print(f"{built} column index(es) built")
