"""`cityhub` command line. Each command opens a system context and calls a domain service."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import typer
from rich.console import Console

from cityhub.ctx import SYSTEM, Actor, RequestContext
from cityhub.errors import CityhubError
from cityhub.settings import Settings, get_settings

T = TypeVar("T")

app = typer.Typer(help="cityhub — smart-city data platform", no_args_is_help=True)
db_app = typer.Typer(help="database schema")
org_app = typer.Typer(help="organizations")
user_app = typer.Typer(help="users")
token_app = typer.Typer(help="API tokens")
dataset_app = typer.Typer(help="datasets")
app.add_typer(db_app, name="db")
app.add_typer(org_app, name="org")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(dataset_app, name="dataset")

console = Console(stderr=True)


@contextmanager
def system_ctx(settings: Settings | None = None, actor: Actor = SYSTEM) -> Iterator[RequestContext]:
    """A committed-on-success context acting as the system administrator."""
    from cityhub.bus import make_bus
    from cityhub.db import make_engine, make_session_factory
    from cityhub.governance.audit import bind_actor, flush_pending, install_write_hook
    from cityhub.migrations.runner import upgrade

    settings = settings or get_settings()
    upgrade(settings)
    engine = make_engine(settings)
    factory = make_session_factory(engine)
    db = factory()
    install_write_hook()
    bind_actor(db, actor, request_id="cli")
    try:
        yield RequestContext(actor=actor, db=db, settings=settings, bus=make_bus(settings.bus_url), request_id="cli")
        db.commit()  # queued audit entries are written with it
    except BaseException:
        db.rollback()
        flush_pending(db, failed=True)
        db.commit()
        raise
    finally:
        db.close()
        engine.dispose()


def as_system(work: Callable[[RequestContext], T]) -> T:
    """Run `work` in a committed system context; a refusal ends the command with its message."""
    try:
        with system_ctx() as ctx:
            return work(ctx)
    except CityhubError as exc:
        fail(exc)
        raise  # fail() exits; this line only tells type checkers so


def fail(exc: CityhubError) -> None:
    console.print(f"[red]error:[/red] {exc.message}")
    for field, messages in exc.details.items():
        console.print(f"  [red]{field}[/red]: {'; '.join(map(str, messages))}")
    raise typer.Exit(code=2)


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Serve the platform (migrations are applied first)."""
    import uvicorn

    from cityhub.migrations.runner import upgrade

    settings = get_settings()
    upgrade(settings)
    # Migrated once here; workers must not race each other migrating again at their start-up.
    os.environ["CITYHUB_RUN_MIGRATIONS_ON_START"] = "false"
    # On SIGTERM uvicorn stops accepting, lets requests in flight finish within the grace period, then cancels
    # them (their transactions roll back); see app._drain.
    uvicorn.run("cityhub.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="warning", timeout_graceful_shutdown=int(max(1, settings.shutdown_grace_seconds)))


@app.command()
def demo(
    host: str = "127.0.0.1",
    port: int = 8000,
    no_serve: bool = typer.Option(False, "--no-serve", help="seed only"),
    datasets: int = typer.Option(300, help="how many synthetic datasets"),
    simulate: bool = typer.Option(True, help="run the sensor simulator while serving"),
) -> None:
    """Seed the synthetic demo city (idempotent), then serve it with live simulated sensors."""
    from cityhub.demo.live import seed_statistics_and_analyses, start_simulator
    from cityhub.demo.seed import seed_demo_city
    from cityhub.ops.demo import seed_operations, start_rooms

    with system_ctx() as ctx:
        seed_demo_city(ctx, datasets=datasets, console=console)
        console.print("seeding statistics and demonstration dashboards …")
        seed_statistics_and_analyses(ctx)
        console.print("seeding the linked agencies (112, 119, disaster room, protection) …")
        agencies = seed_operations(ctx)
    if not no_serve:
        if simulate:
            console.print("publishing the simulated sensors and cameras; simulated 112/119 rooms …")
            start_simulator(get_settings())
            start_rooms(f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}", agencies)
        serve(host=host, port=port)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all schema migrations."""
    from cityhub.migrations.runner import upgrade

    upgrade(get_settings())
    console.print("[green]database is up to date[/green]")


@db_app.command("revision")
def db_revision(message: str = typer.Option(..., "-m"), branch: str = typer.Option(...),
                new_branch: bool = False) -> None:
    """Autogenerate a migration on a domain branch (developers)."""
    from cityhub.migrations.runner import revision

    revision(get_settings(), message, branch, new_branch=new_branch)


@org_app.command("create")
def org_create(name: str, title: str = typer.Option(...), title_en: str | None = None,
               kind: str = "department", description: str | None = None) -> None:
    """Create an organization."""
    from cityhub.auth.schemas import OrganizationCreate
    from cityhub.auth.service import create_organization

    try:
        with system_ctx() as ctx:
            org = create_organization(ctx, data=OrganizationCreate(name=name, title=title, title_en=title_en,
                                                                   kind=kind, description=description))
    except CityhubError as exc:
        fail(exc)
    console.print(f"created organization [bold]{org.name}[/bold] ({org.id})")


@user_app.command("create")
def user_create(email: str, role: str = typer.Option("citizen"), org: str | None = None,
                password: str | None = None, capacity: str = "member", name: str | None = None) -> None:
    """Create a user, optionally in an organization."""
    from pydantic import ValidationError

    from cityhub.auth.schemas import UserCreate
    from cityhub.auth.service import create_user

    try:
        data = UserCreate(email=email, role=role, org=org, password=password, capacity=capacity, name=name)
    except ValidationError as exc:
        for err in exc.errors():
            console.print(f"[red]error:[/red] {'.'.join(map(str, err['loc']))}: {err['msg']}")
        raise typer.Exit(code=2) from None
    try:
        with system_ctx() as ctx:
            user = create_user(ctx, data=data)
    except CityhubError as exc:
        fail(exc)
    console.print(f"created user [bold]{user.email}[/bold] ({user.role})")


@token_app.command("create")
def token_create(email: str, name: str = "cli", expires_in_days: int | None = None) -> None:
    """Create an API token for a user and print it (only the token, on stdout)."""
    from cityhub.auth.service import actor_for_user, create_token, get_user_by_email

    try:
        with system_ctx() as ctx:
            user = get_user_by_email(ctx.db, email)
            own = ctx.with_actor(actor_for_user(ctx.db, user))
            created = create_token(own, user_id=user.id, name=name, expires_in_days=expires_in_days)
    except CityhubError as exc:
        fail(exc)
    print(created.token)


# Each module here defines `register(app, dataset_app)`; a module not yet written is skipped.
DOMAIN_CLI_MODULES = (
    "cityhub.datastore.cli",
    "cityhub.collect.cli",
    "cityhub.context.cli",
    "cityhub.ops.cli",
    "cityhub.stats.cli",
    "cityhub.governance.cli",
)


def _register_domain_commands() -> None:
    """Domains add their own command groups (source, simulate, ...) without editing this file."""
    import importlib

    for module_name in DOMAIN_CLI_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if not module_name.startswith(exc.name or "-"):
                raise
            continue
        module.register(app, dataset_app)


_register_domain_commands()
