"""The portal's HTTP door: mounts each area's page router and the static files.

Pages are thin: they call the same catalog and auth services as the APIs and render templates.
Other domains add their page modules to PAGE_MODULES (and their header link with templating.add_nav).
"""

from __future__ import annotations

import importlib

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from cityhub.web import errors
from cityhub.web.templating import WEB_DIR

PAGE_MODULES = (
    "cityhub.web.pages_home",
    "cityhub.web.pages_auth",
    "cityhub.web.pages_steward",  # before pages_dataset: /dataset/new must win over /dataset/{slug}
    "cityhub.web.pages_dataset",
    "cityhub.web.pages_org",
    "cityhub.web.pages_geo",
    "cityhub.stats.pages",
    "cityhub.projects.pages",
    "cityhub.board.pages",
    "cityhub.ops.pages",
)

router = APIRouter(include_in_schema=False)
for _name in PAGE_MODULES:
    router.include_router(importlib.import_module(_name).router)


def install(app: FastAPI) -> None:
    """Static files (our CSS/JS and the npm libraries in static/vendor) and friendly 404 pages."""
    app.mount("/static", StaticFiles(directory=str(WEB_DIR / "static")), name="static")
    errors.install(app)
