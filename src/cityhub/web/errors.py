"""Friendly error pages for the portal (filled in by the web package)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from cityhub.errors import CityhubError


def error_page(request: Request, exc: CityhubError) -> HTMLResponse:
    return HTMLResponse(f"<h1>{exc.status_code}</h1><p>{exc.message}</p>", status_code=exc.status_code)
