"""Test harness: the real app on a temporary data dir, over SQLite and PostgreSQL.

- `settings` is parametrized over both backends (PostgreSQL gets a fresh schema per test);
  `sqlite_settings` is for tests whose subject is not storage.
- `client` is an in-process HTTP client with the app's lifespan running;
  `live_server` serves the same app with uvicorn on a free loopback port (ckanapi, Playwright).
- `people` makes organizations, users and tokens through the real services.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cityhub.app import create_app
from cityhub.settings import Settings

PG_URL = os.environ.get("CITYHUB_TEST_POSTGRES_URL", "")


def _pg_available() -> bool:
    if not PG_URL:
        return False
    try:
        import psycopg

        with psycopg.connect(PG_URL.replace("postgresql+psycopg", "postgresql"), connect_timeout=3):
            return True
    except Exception:
        return False


PG_OK = _pg_available()
if os.environ.get("CI") == "true" and not PG_OK:
    raise RuntimeError("CI=true but PostgreSQL is not reachable at CITYHUB_TEST_POSTGRES_URL; .ci/run must start it")


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    return PG_URL


def _pg_schema_url(schema: str) -> str:
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema for one test, dropped afterwards."""
    import psycopg

    if not PG_OK:
        pytest.skip("PostgreSQL not configured (set CITYHUB_TEST_POSTGRES_URL)")
    name = "t_" + uuid.uuid4().hex[:12]
    raw = PG_URL.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(raw, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    yield name
    _drop_schema(raw, name)


def _drop_schema(raw: str, name: str) -> None:
    """Drop a test's schema. A daemon thread of a stopped test app (a server thread, a background writer)
    may still hold a lock in it, and DROP … CASCADE can then deadlock with it: end those sessions first."""
    import psycopg

    holders = ("SELECT DISTINCT l.pid FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
               "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND l.pid <> pg_backend_pid()")
    for attempt in range(3):
        with psycopg.connect(raw, autocommit=True) as conn:
            try:
                conn.execute(f"DROP SCHEMA {name} CASCADE")
                return
            except (psycopg.errors.DeadlockDetected, psycopg.errors.LockNotAvailable):
                if attempt == 2:
                    raise
                for (pid,) in conn.execute(holders, (name,)).fetchall():
                    conn.execute("SELECT pg_terminate_backend(%s)", (pid,))


def make_settings(tmp_path: Path, database_url: str = "", **overrides: object) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url, log_json=True,
                    secret_key="test-secret", **overrides)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated to the heads once per worker. Each test's database starts as a copy:
    migrating a new one took ~0.35 s of CPU (and seconds of fsync on a busy disk) in every test's setup.
    The app's start-up still runs `upgrade` on the copy; migrating from nothing is tests/cli's subject."""
    from cityhub.db import make_engine
    from cityhub.migrations.runner import upgrade

    made = make_settings(tmp_path_factory.mktemp("sqlite-template"))
    upgrade(made)
    engine = make_engine(made)  # one connection attaches the side files (history moved to its own)
    engine.connect().close()
    engine.dispose()
    return made.data_dir / "cityhub.db"


def sqlite_test_settings(tmp_path: Path, template: Path) -> Settings:
    from cityhub.context.history_store import side_path

    made = make_settings(tmp_path)
    made.data_dir.mkdir(parents=True, exist_ok=True)
    for source in (template, Path(side_path(str(template)))):
        if source.exists():
            shutil.copyfile(source, made.data_dir / source.name)
    return made


@pytest.fixture
def settings(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Settings:
    if backend == "postgres":
        schema = request.getfixturevalue("pg_schema")
        return make_settings(tmp_path, _pg_schema_url(schema))
    return sqlite_test_settings(tmp_path, request.getfixturevalue("sqlite_template"))


@pytest.fixture
def sqlite_settings(tmp_path: Path, sqlite_template: Path) -> Settings:
    return sqlite_test_settings(tmp_path, sqlite_template)


@pytest.fixture
def app(settings: Settings):
    return create_app(settings)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def sqlite_client(sqlite_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(sqlite_settings)) as c:
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """The real app under uvicorn on a loopback port, in a background thread."""

    def __init__(self, app) -> None:  # noqa: ANN001
        import uvicorn

        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.time() + 30
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("live server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        from cityhub import stopping

        # What SIGTERM does under `cityhub serve` (no signal reaches a server in a thread): open event
        # streams end now rather than keep uvicorn's graceful shutdown waiting for them.
        stopping.begin(self.app)
        self.server.should_exit = True
        self.thread.join(timeout=15)


@pytest.fixture
def live_server(app) -> Iterator[LiveServer]:  # noqa: ANN001
    with LiveServer(app) as server:
        yield server


@dataclass
class Person:
    email: str
    user_id: str
    token: str
    role: str
    org: str | None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class People:
    """Makes organizations, users and tokens through the services, as the CLI would."""

    def __init__(self, app) -> None:  # noqa: ANN001
        self.app = app

    def _ctx(self):  # noqa: ANN202
        from contextlib import contextmanager

        from cityhub.cli import SYSTEM
        from cityhub.ctx import RequestContext

        @contextmanager
        def scope():  # noqa: ANN202
            db = self.app.state.session_factory()
            try:
                yield RequestContext(actor=SYSTEM, db=db, settings=self.app.state.settings, bus=self.app.state.bus)
                db.commit()
            finally:
                db.close()

        return scope()

    def org(self, name: str, title: str | None = None, kind: str = "department") -> str:
        from cityhub.auth.schemas import OrganizationCreate
        from cityhub.auth.service import create_organization

        with self._ctx() as ctx:
            return create_organization(ctx, data=OrganizationCreate(name=name, title=title or name, kind=kind)).id

    def user(self, email: str, role: str = "citizen", org: str | None = None, capacity: str = "member",
             password: str | None = "password123") -> Person:
        from cityhub.auth.schemas import UserCreate
        from cityhub.auth.service import actor_for_user, create_token, create_user, get_user_by_email

        with self._ctx() as ctx:
            created = create_user(ctx, data=UserCreate(email=email, role=role, org=org, capacity=capacity,
                                                       password=password))
            user = get_user_by_email(ctx.db, email)
            token = create_token(ctx.with_actor(actor_for_user(ctx.db, user)), user_id=user.id).token
        return Person(email=email, user_id=created.id, token=token, role=role, org=org)

    def admin(self, email: str = "admin@city.test") -> Person:
        return self.user(email, role="admin")


@pytest.fixture
def people(client) -> People:  # noqa: ANN001
    return People(client.app)


@pytest.fixture
def sqlite_people(sqlite_client) -> People:  # noqa: ANN001
    return People(sqlite_client.app)


REFERENCE_DIR = Path(__file__).resolve().parents[2] / "shared" / "reference"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """../shared/reference (the external formats we speak and the demo city's districts)."""
    return REFERENCE_DIR


@pytest.fixture
def live_people(live_server: LiveServer) -> People:
    """People for tests that talk to `live_server` (do not combine `people`/`client` with it: one app, one start)."""
    return People(live_server.app)
