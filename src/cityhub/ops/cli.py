"""`cityhub ops …`: agencies and their credentials, the camera index, simulated 112/119 agencies."""

from __future__ import annotations

import typer


def init_agencies(webhook: list[str] = typer.Option(  # noqa: B008
        [], help="code=URL, e.g. police-112=http://127.0.0.1:9000/hook (repeatable)")) -> None:
    """Create the 112, 119, disaster-room and protection agencies (idempotent), optionally with webhooks."""
    from cityhub.cli import as_system, console
    from cityhub.ops.service_agencies import ensure_standard_agencies

    hooks = dict(w.split("=", 1) for w in webhook)
    for a in as_system(lambda ctx: ensure_standard_agencies(ctx, webhooks=hooks)):
        console.print(f"{a.code}: {a.name} — webhook {a.webhook_url or '(none)'}")

def credentials(code: str) -> None:
    """Issue an API token for an agency and print it (only the token, on stdout)."""
    from cityhub.cli import console, fail, system_ctx
    from cityhub.errors import CityhubError
    from cityhub.ops.service_agencies import issue_credentials

    try:
        with system_ctx() as ctx:
            creds = issue_credentials(ctx, code=code)
    except CityhubError as exc:
        fail(exc)
    console.print(f"webhook secret: {creds.webhook_secret}")
    print(creds.token)

def cameras_sync() -> None:
    """Re-read every Camera entity into the registry's spatial index."""
    from cityhub.cli import console, system_ctx
    from cityhub.ops import cameras

    with system_ctx() as ctx:
        n = cameras.sync(ctx)
    console.print(f"{n} cameras indexed")

def simulate(
    url: str = typer.Option("http://127.0.0.1:8000", help="cityhub base URL"),
    hours: float = typer.Option(1.0, help="simulated hours"),
    speed: float = typer.Option(60.0, help="simulated seconds per wall-clock second"),
    seed: int = 7,
    police_token: str = typer.Option("", envvar="CITYHUB_POLICE_TOKEN", help="default: issued from the local database"),
    fire_token: str = typer.Option("", envvar="CITYHUB_FIRE_TOKEN", help="default: issued from the local database"),
) -> None:
    """Play the 112 and 119 situation rooms against a running cityhub: calls by hour and district,
    incidents advanced through their lifecycles as the real rooms would."""
    from rich.progress import Progress

    from cityhub.cli import console, system_ctx
    from cityhub.ops.service_agencies import ensure_standard_agencies, issue_credentials
    from cityhub.ops.simulator import AgencySimulator, HttpRooms

    if not (police_token and fire_token):  # same machine as the server: the rooms get their own credentials
        with system_ctx() as ctx:
            ensure_standard_agencies(ctx)
            police_token = police_token or issue_credentials(ctx, code="police-112").token
            fire_token = fire_token or issue_credentials(ctx, code="fire-119").token

    sim = AgencySimulator(seed=seed)
    rooms = HttpRooms(url, {"police": police_token, "fire": fire_token})
    steps = int(hours * 60)
    with Progress(console=console) as progress:
        task = progress.add_task("112/119 calls", total=steps)
        for _ in sim.run(rooms, minutes=steps, speed=speed):
            progress.advance(task)
    console.print(f"reported {rooms.reported}, transitions {rooms.transitions}, refused {rooms.refused}")


def register(app: typer.Typer, dataset_app: typer.Typer) -> None:
    ops_app = typer.Typer(help="integrated operations: agencies, cameras, simulated 112/119")
    app.add_typer(ops_app, name="ops")
    ops_app.command("init-agencies")(init_agencies)
    ops_app.command("credentials")(credentials)
    ops_app.command("cameras-sync")(cameras_sync)
    ops_app.command("simulate")(simulate)
