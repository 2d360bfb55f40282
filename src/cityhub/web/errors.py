"""Friendly error pages for the portal, in the visitor's language.

app.py calls `error_page` for a service error raised under a page route (`request.state.wants_html`);
`install` adds the same for paths no route matched when a browser asks for HTML.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from cityhub.errors import CityhubError
from cityhub.web.templating import here, render

KNOWN_STATUSES = (400, 401, 403, 404, 405, 409, 413, 422, 500, 502)


def error_page(request: Request, exc: CityhubError) -> Response:
    """A page explaining the error; a visitor who must sign in is sent to the login form instead."""
    if exc.status_code == 401:
        return RedirectResponse(f"/user/login?next={quote(here(request), safe='')}", status_code=303)
    return _render_error(request, exc.status_code, exc.message, exc.details)


def _render_error(request: Request, status: int, message: str, details: dict | None = None) -> HTMLResponse:
    key = status if status in KNOWN_STATUSES else (500 if status >= 500 else 400)
    return render(request, "error.html", status_code=status, status=status, status_key=f"error.{key}",
                  message=message, details=details or {})


def _wants_html(request: Request) -> bool:
    if request.url.path.startswith(("/api/", "/ngsi-ld/", "/static/")):
        return False
    return "text/html" in request.headers.get("accept", "")


def install(app: FastAPI) -> None:
    """Browsers that hit an unknown page get the friendly 404; API clients keep JSON (their door's own shape
    when a door installed a handler before this one, e.g. NGSI-LD ProblemDetails)."""
    previous = app.exception_handlers.get(StarletteHTTPException, http_exception_handler)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code in (404, 405) and (getattr(request.state, "wants_html", False) or _wants_html(request)):
            return _render_error(request, exc.status_code, str(exc.detail))
        return await previous(request, exc)
