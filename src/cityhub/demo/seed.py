"""Seed the synthetic demo city: Busan's 16 districts, city departments and public bodies, demo
users and a catalogue of synthetic datasets whose tables are loaded into the datastore.

Everything goes through the domain services (organizations, users, datasets, resource uploads),
so the demo exercises the same paths a steward does. Re-running is idempotent: what exists is
left as it is, only what is missing is added. Each dataset is committed with its resources, so an
interrupted seed resumes where it stopped.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from cityhub.catalog.schemas import ResourceCreate
from cityhub.catalog.service import create_dataset, create_resource, list_dataset_names
from cityhub.ctx import RequestContext
from cityhub.demo.catalogue import DatasetPlan, catalogue_size, plan_datasets
from cityhub.demo.organizations import DEMO_PASSWORD, EMAIL_DOMAIN, demo_users, seed_organizations, seed_users
from cityhub.errors import Conflict

log = logging.getLogger("cityhub.demo")


@dataclass
class SeedReport:
    organizations_created: int = 0
    users_created: int = 0
    datasets_created: int = 0
    datasets_existing: int = 0
    resources_created: int = 0
    rows_loaded: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0


def seed_demo_city(ctx: RequestContext, *, datasets: int = 300, console: Any = None,
                   rows_scale: float = 1.0) -> SeedReport:
    """Seed Busan's 16 districts, ~15 departments and public bodies, demo users and `datasets`
    synthetic datasets (tables scaled by `rows_scale`). Idempotent; commits as it goes."""
    started = time.perf_counter()
    report = SeedReport()
    report.organizations_created = seed_organizations(ctx)
    report.users_created = seed_users(ctx)
    ctx.db.commit()
    from cityhub.board.water import seed_demo as seed_water_complaints
    from cityhub.projects.seed import seed_projects  # the mayor's office and the 26 major projects

    seed_projects(ctx)
    seed_water_complaints(ctx)  # the board's water panel: 30 days of synthetic complaints, kept current live
    ctx.db.commit()
    if datasets > catalogue_size():
        log.warning("the demo catalogue has %d datasets; seeding all of them", catalogue_size())
    plans = plan_datasets(datasets, rows_scale=rows_scale)
    existing = set(list_dataset_names(ctx, public_only=False))
    todo = [p for p in plans if p.data.name not in existing]
    report.datasets_existing = len(plans) - len(todo)
    del plans  # a plan keeps its generated table until it is dropped
    todo.reverse()
    with _progress(console, len(todo)) as step:
        while todo:
            plan = todo.pop()
            step(plan)
            _seed_dataset(ctx, plan, report)
            step(None)
            del plan
    report.seconds = time.perf_counter() - started
    if console is not None:
        _print_summary(console, report)
    return report


def _seed_dataset(ctx: RequestContext, plan: DatasetPlan, report: SeedReport) -> None:
    """One dataset and its files in one transaction: all of it lands, or none of it."""
    name = plan.data.name
    try:
        create_dataset(ctx, data=plan.data)
        created, rows = 0, 0
        for res in plan.resources:
            out = create_resource(
                ctx, dataset=name, upload=io.BytesIO(res.build()), filename=res.filename,
                data=ResourceCreate(name=res.name, description=res.description, format=res.format),
            )
            created += 1
            rows += out.row_count or 0
        ctx.db.commit()
    except Conflict:  # a deleted dataset still holds its name: leave it as it is
        ctx.db.rollback()
        report.datasets_existing += 1
        return
    except Exception as exc:  # noqa: BLE001 — one bad dataset must not stop the demo; it is reported
        ctx.db.rollback()
        log.exception("demo dataset %s failed", name)
        report.failures.append((name, f"{type(exc).__name__}: {exc}"))
        return
    report.datasets_created += 1
    report.resources_created += created
    report.rows_loaded += rows


@contextmanager
def _progress(console: Any, total: int) -> Iterator[Callable[[DatasetPlan | None], None]]:
    """A Rich progress bar when a console is given; `step(plan)` names the dataset being seeded,
    `step(None)` counts it done."""
    if console is None or not total:
        yield lambda plan: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("[bold]demo city[/bold]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.description}"), console=console) as bar:
        task = bar.add_task("", total=total)

        def step(plan: DatasetPlan | None) -> None:
            if plan is None:
                bar.advance(task)
            else:
                big = " (100k+ rows)" if plan.big and plan.resources else ""
                bar.update(task, description=plan.data.name + big)

        yield step


def _print_summary(console: Any, report: SeedReport) -> None:
    from rich.table import Table

    console.print(
        f"[green]demo city ready[/green] in {report.seconds:.1f} s: {report.datasets_created} datasets added "
        f"({report.datasets_existing} already there), {report.resources_created} files, "
        f"{report.rows_loaded:,} rows loaded; {report.organizations_created} organizations and "
        f"{report.users_created} users added. All data is synthetic (합성 데이터)."
    )
    for name, message in report.failures:
        console.print(f"[red]failed:[/red] {name}: {message}")
    table = Table(title=f"demo accounts — password: {DEMO_PASSWORD}", show_lines=False)
    table.add_column("email", no_wrap=True)
    table.add_column("role")
    table.add_column("organization")
    stewards = [u for u in demo_users() if u.role == "steward"]
    for user in demo_users():
        if user.role != "steward":
            table.add_row(user.email, user.role, user.org or "—")
        elif user == stewards[0]:
            table.add_row(f"steward.<organization>@{EMAIL_DOMAIN}", "steward",
                          f"each of the {len(stewards)} departments and public bodies, e.g. {user.org}")
    console.print(table)
