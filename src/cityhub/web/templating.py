"""Rendering pages: the Jinja2 environment, the shared navigation and the page-route marker.

Every domain's pages extend `base.html` and add their entry to the navigation with `add_nav(...)`,
so the portal, the statistics pages and the city board share one header, footer and language switch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from cityhub.web.i18n import LANGUAGES, Translator, negotiate

WEB_DIR = Path(__file__).parent
templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))


@dataclass(frozen=True)
class NavItem:
    """A link in the site header. `key` is an i18n key; `prefix` marks it current for paths under it."""

    key: str
    href: str
    prefix: str
    order: int = 100


NAV: list[NavItem] = []


def add_nav(key: str, href: str, prefix: str | None = None, order: int = 100) -> None:
    """Register a header link (other domains call this when their pages module is imported)."""
    if any(item.href == href for item in NAV):
        return
    NAV.append(NavItem(key, href, prefix or href, order))
    NAV.sort(key=lambda item: item.order)


add_nav("nav.datasets", "/dataset", order=10)
add_nav("nav.organizations", "/organization", order=20)


def mark_page(request: Request) -> None:
    """Dependency of every page route: errors become friendly pages in the visitor's language."""
    request.state.wants_html = True
    request.state.lang = negotiate(request, request.app.state.settings.default_locale)


def page_lang(request: Request) -> str:
    lang = getattr(request.state, "lang", None)
    if lang not in LANGUAGES:
        lang = negotiate(request, request.app.state.settings.default_locale)
        request.state.lang = lang
    return lang


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a page template with the language, the signed-in actor and the navigation."""
    lang = page_lang(request)
    t = Translator(lang)
    actor = getattr(request.state, "actor", None)
    base = {
        "request": request,
        "lang": lang,
        "t": t,
        "loc": lambda obj, field: localized(obj, field, lang),
        "actor": actor if actor is not None and actor.is_authenticated else None,
        "nav": NAV,
        "site_title": request.app.state.settings.site_title,
        "current_path": request.url.path,
        "here": here(request),
    }
    base.update(context)
    response = templates.TemplateResponse(request, name, base, status_code=status_code)
    response.headers["Content-Language"] = lang
    response.headers.setdefault("Cache-Control", "no-store" if base["actor"] else "private, max-age=0")
    return response


def here(request: Request) -> str:
    """The current path and query, for `next=` links (language switch, login)."""
    path = request.url.path
    return path + ("?" + request.url.query if request.url.query else "")


def safe_next(target: str | None, default: str = "/") -> str:
    """Only local paths are followed after login or a language switch (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def localized(obj: Any, field: str, lang: str) -> Any:
    """`title` in Korean, `title_en` in English when present (and the other way round as fallback)."""
    get = obj.get if isinstance(obj, dict) else lambda k, d=None: getattr(obj, k, d)
    korean, english = get(field), get(f"{field}_en")
    if lang == "en":
        return english or korean
    return korean or english


def _filesize(value: int | None) -> str:
    if value is None:
        return ""
    size = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def _datefmt(value: date | datetime | None, with_time: bool = False) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime) and with_time:
        return value.strftime("%Y-%m-%d %H:%M")
    return value.strftime("%Y-%m-%d")


templates.env.filters["filesize"] = _filesize
templates.env.filters["datefmt"] = _datefmt
templates.env.filters["num"] = lambda v: f"{v:,}" if isinstance(v, int) else v
templates.env.filters["urlpart"] = lambda v: quote(str(v), safe="")
templates.env.globals["languages"] = LANGUAGES
