"""The `cityhub` command line honours CITYHUB_DATA_DIR and CITYHUB_DATABASE_URL and fails with clear messages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from cityhub.settings import Settings


def run(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CITYHUB_DATA_DIR": str(settings.data_dir), "CITYHUB_DATABASE_URL": settings.database_url}
    cli = Path(sys.executable).parent / "cityhub"
    return subprocess.run([str(cli), *args], env=env, capture_output=True, text=True, timeout=120)


def test_org_user_token_commands(settings: Settings, tmp_path: Path) -> None:
    assert run(settings, "db", "upgrade").returncode == 0
    made = run(settings, "org", "create", "transport", "--title", "교통국", "--title-en", "Transport Bureau")
    assert made.returncode == 0, made.stderr
    user = run(settings, "user", "create", "s@busan.test", "--role", "steward", "--org", "transport",
               "--password", "long-enough-1")
    assert user.returncode == 0, user.stderr
    token = run(settings, "token", "create", "s@busan.test")
    assert token.returncode == 0
    lines = token.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ch_")  # the token and nothing else on stdout

    # the token works against the same database through the API
    from fastapi.testclient import TestClient

    from cityhub.app import create_app

    with TestClient(create_app(settings)) as client:
        me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {lines[0]}"})
        assert me.status_code == 200 and me.json()["organizations"] == ["transport"]


def test_cli_errors_are_clear(settings: Settings) -> None:
    run(settings, "org", "create", "transport", "--title", "교통국")
    dup = run(settings, "org", "create", "transport", "--title", "교통국")
    assert dup.returncode == 2 and "exists" in dup.stderr
    bad_role = run(settings, "user", "create", "x@busan.test", "--role", "mayor")
    assert bad_role.returncode == 2 and "role" in bad_role.stderr
    missing = run(settings, "token", "create", "nobody@busan.test")
    assert missing.returncode == 2 and "not found" in missing.stderr


def test_serve_answers_health(sqlite_settings: Settings) -> None:
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "CITYHUB_DATA_DIR": str(sqlite_settings.data_dir)}
    cli = Path(sys.executable).parent / "cityhub"
    proc = subprocess.Popen([str(cli), "serve", "--port", str(port)], env=env)
    try:
        deadline = time.time() + 120  # a loaded CI machine starts slowly
        while time.time() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise AssertionError("server did not answer /healthz")
        assert httpx.get(f"http://127.0.0.1:{port}/docs", timeout=5).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_upgrade_skips_alembic_only_when_every_revision_is_applied(settings: Settings) -> None:
    """Each command first checks the schema without loading Alembic; a database missing any revision
    still goes through Alembic."""
    from alembic import command
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine, inspect

    from cityhub.migrations import runner

    cfg = runner.alembic_config(settings)
    assert set(runner._script_graph() or {}) == {r.revision for r in ScriptDirectory.from_config(cfg).walk_revisions()}
    settings.ensure_dirs()
    (settings.data_dir / "cityhub.db").unlink(missing_ok=True)  # the harness's migrated copy: start from nothing
    assert not runner._at_heads(settings)  # a new database
    command.upgrade(cfg, "core@head")
    assert not runner._at_heads(settings)  # one branch of many
    runner.upgrade(settings)
    assert runner._at_heads(settings)
    engine = create_engine(settings.database_url)
    try:
        assert {"organizations", "ops_incidents", "ctx_outbox"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
