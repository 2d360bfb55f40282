"""Home page and the language switch."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from cityhub.auth import service as auth_service
from cityhub.catalog import service as catalog
from cityhub.catalog.models import THEMES
from cityhub.catalog.schemas import DatasetSearch
from cityhub.http import Ctx
from cityhub.web.i18n import LANG_COOKIE, LANGUAGES
from cityhub.web.templating import mark_page, render, safe_next

router = APIRouter(dependencies=[Depends(mark_page)])
HOME_LIST_SIZE = 6


@router.get("/")
def home(request: Request, ctx: Ctx) -> Response:
    """Search box, the eight themes with counts, newest and most-viewed datasets."""
    counts = catalog.count_by_theme(ctx)
    newest = catalog.search_datasets(ctx, query=DatasetSearch(sort="created", limit=HOME_LIST_SIZE, facets=False,
                                                              full=False))
    popular = catalog.search_datasets(ctx, query=DatasetSearch(sort="views", limit=HOME_LIST_SIZE, facets=False,
                                                               full=False))
    organizations = auth_service.list_organizations(ctx, limit=0).total
    themes = [(theme, counts.get(theme, 0)) for theme in THEMES]
    return render(request, "home.html", themes=themes, newest=newest.items, popular=popular.items,
                  total=newest.total, organizations=organizations)


@router.get("/lang/{code}")
def switch_language(code: str, next: str | None = None) -> Response:
    """Remember the visitor's language in a cookie and go back where they were."""
    response = RedirectResponse(safe_next(next), status_code=303)
    if code in LANGUAGES:
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 24 * 3600, samesite="lax", httponly=True)
    return response
