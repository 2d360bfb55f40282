"""Run Alembic programmatically: `cityhub db upgrade` and app start-up call `upgrade`."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from cityhub.settings import Settings

HERE = Path(__file__).parent


def alembic_config(settings: Settings) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    # One folder per domain branch (versions/core, versions/collect, ...): domains migrate independently.
    folders = sorted(p for p in (HERE / "versions").iterdir() if p.is_dir() and not p.name.startswith("__"))
    cfg.set_main_option("version_locations", " ".join(str(p) for p in folders))
    cfg.set_main_option("sqlalchemy.url", settings.database_url.replace("%", "%%"))
    cfg.attributes["settings"] = settings
    return cfg


def upgrade(settings: Settings, revision: str = "heads") -> None:
    """Bring the database schema up to date (every domain's branch)."""
    settings.ensure_dirs()
    command.upgrade(alembic_config(settings), revision)


def revision(settings: Settings, message: str, branch: str, *, new_branch: bool = False) -> None:
    """Autogenerate a migration on a domain's branch (developer tool)."""
    cfg = alembic_config(settings)
    if new_branch:
        (HERE / "versions" / branch).mkdir(parents=True, exist_ok=True)
        cfg = alembic_config(settings)
        command.revision(cfg, message=message, autogenerate=True, head="base", branch_label=branch,
                         version_path=str(HERE / "versions" / branch))
    else:
        command.revision(cfg, message=message, autogenerate=True, head=f"{branch}@head")
