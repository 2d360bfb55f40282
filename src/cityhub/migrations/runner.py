"""Run Alembic programmatically: `cityhub db upgrade` and app start-up call `upgrade`."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import TYPE_CHECKING

from cityhub.settings import Settings

if TYPE_CHECKING:
    from alembic.config import Config

HERE = Path(__file__).parent


def alembic_config(settings: Settings) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    # One folder per domain branch (versions/core, versions/collect, ...): domains migrate independently.
    folders = sorted(p for p in (HERE / "versions").iterdir() if p.is_dir() and not p.name.startswith("__"))
    cfg.set_main_option("version_locations", " ".join(str(p) for p in folders))
    cfg.set_main_option("sqlalchemy.url", settings.database_url.replace("%", "%%"))
    cfg.attributes["settings"] = settings
    return cfg


def upgrade(settings: Settings, revision: str = "heads") -> None:
    """Bring the database schema up to date (every domain's branch).

    Every CLI command calls this first. When the database already stands at the heads, Alembic is not
    loaded at all: importing it and its env.py (every domain's models, numpy, pyarrow) was ~0.9 s of CPU
    per command, about half of what `cityhub org create` spent."""
    settings.ensure_dirs()
    if revision == "heads" and _at_heads(settings):
        return
    from alembic import command

    command.upgrade(alembic_config(settings), revision)


def _script_graph() -> dict[str, tuple[str, ...]] | None:
    """Each revision of the version files with what it stands on (down revisions and depends_on), read
    with `ast` (no import of Alembic or the files); None when a file is not in the plain form Alembic
    writes (then Alembic decides)."""
    graph: dict[str, tuple[str, ...]] = {}
    for folder in (HERE / "versions").iterdir():
        if not folder.is_dir() or folder.name.startswith("__"):
            continue
        for path in folder.glob("*.py"):
            if path.name.startswith("__"):
                continue
            found = _revision_ids(path)
            if found is None:
                return None
            graph[found[0]] = found[1]
    return graph or None


def _ids(value: object) -> tuple[str, ...] | None:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, tuple | list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _revision_ids(path: Path) -> tuple[str, tuple[str, ...]] | None:
    names = ("revision", "down_revision", "depends_on")
    values: dict[str, object] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        target, value = None, None
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            target, value = node.targets[0].id, node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            target, value = node.target.id, node.value
        if target in names and value is not None:
            try:
                values[target] = ast.literal_eval(value)
            except ValueError:
                return None
    rev = values.get("revision")
    down, deps = _ids(values.get("down_revision", ...)), _ids(values.get("depends_on"))
    if not isinstance(rev, str) or down is None or deps is None:
        return None
    return rev, down + deps


def _at_heads(settings: Settings) -> bool:
    """True when every revision of the version files is applied: all of them stand under the
    database's alembic_version rows (a revision's row goes when one standing on it is applied)."""
    from sqlalchemy import create_engine, pool
    from sqlalchemy.exc import SQLAlchemyError

    graph = _script_graph()
    if graph is None:
        return False
    url = settings.database_url
    if settings.is_sqlite and not _sqlite_file_exists(url):
        return False  # a new database: Alembic creates it
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            current = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
    except SQLAlchemyError:
        return False  # no version table yet, or the database is not reachable: Alembic says so properly
    finally:
        engine.dispose()
    applied: set[str] = set()
    todo = list(current)
    while todo:
        rev = todo.pop()
        if rev not in graph:
            return False  # a revision these files do not know: Alembic reports it
        if rev not in applied:
            applied.add(rev)
            todo.extend(graph[rev])
    return applied == graph.keys()


def _sqlite_file_exists(url: str) -> bool:
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    return bool(database) and database != ":memory:" and Path(database).exists()


def revision(settings: Settings, message: str, branch: str, *, new_branch: bool = False) -> None:
    """Autogenerate a migration on a domain's branch (developer tool)."""
    from alembic import command

    cfg = alembic_config(settings)
    if new_branch:
        (HERE / "versions" / branch).mkdir(parents=True, exist_ok=True)
        cfg = alembic_config(settings)
        command.revision(cfg, message=message, autogenerate=True, head="base", branch_label=branch,
                         version_path=str(HERE / "versions" / branch))
    else:
        command.revision(cfg, message=message, autogenerate=True, head=f"{branch}@head")
