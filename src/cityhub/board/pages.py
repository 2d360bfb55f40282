"""The board's pages: /ops (operators, the mayor's office, department heads) and /city (citizens)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from cityhub.board import i18n as board_i18n
from cityhub.board.service import staff_view
from cityhub.http import Ctx
from cityhub.web.templating import add_nav, mark_page, page_lang, render

router = APIRouter(dependencies=[Depends(mark_page)])
board_i18n.register()
add_nav("nav.board", "/city", order=70)


def _page(request: Request, view: str) -> Response:
    lang = page_lang(request)
    return render(request, "board/board.html", view=view, words=board_i18n.words(lang),
                  basemap_url=request.app.state.settings.board_basemap_url)


@router.get("/ops")
def ops_board(request: Request, ctx: Ctx) -> Response:
    """The live city board for the operations centre and the mayor's office."""
    staff_view(ctx, "ops")
    return _page(request, "ops")


@router.get("/city")
def city_board(request: Request, ctx: Ctx) -> Response:
    """The citizens' board: air, traffic, water levels, public indicators and project progress."""
    staff_view(ctx, "city")
    return _page(request, "city")
