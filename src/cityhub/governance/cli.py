"""`cityhub governance prune-versions` — apply the version retention rule now (the scheduler does it hourly)."""

from __future__ import annotations

import typer

governance_app = typer.Typer(help="governance: dataset versions upkeep")


def register(app: typer.Typer, dataset_app: typer.Typer) -> None:
    app.add_typer(governance_app, name="governance")


@governance_app.command("prune-versions")
def prune_versions(dataset: str | None = typer.Option(None, help="only this dataset (name or id)")) -> None:
    """Mark versions past their dataset's retention rule not restorable and drop their big-table copies."""
    from cityhub.cli import fail, system_ctx
    from cityhub.errors import CityhubError
    from cityhub.governance.version_retention import prune_all

    try:
        with system_ctx() as ctx:
            done = prune_all(ctx, dataset=dataset)
    except CityhubError as exc:
        fail(exc)
    print(f"datasets: {done['datasets']}, versions pruned: {done['versions_pruned']}, "
                  f"copies dropped: {done['copies_dropped']}")
