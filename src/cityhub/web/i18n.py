"""Korean and English for every page: message catalogs and the visitor's language.

The language comes from the `cityhub_lang` cookie (set by the switch), else the browser's
Accept-Language, else the city's default. Catalogs are flat JSON files (web/i18n/<lang>.json);
a key missing in one language falls back to the other, then to the key itself, so a page never breaks.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from fastapi import Request

LANGUAGES = ("ko", "en")
LANG_COOKIE = "cityhub_lang"
CATALOG_DIR = Path(__file__).parent / "i18n"


@lru_cache
def catalog(lang: str) -> dict[str, str]:
    return json.loads((CATALOG_DIR / f"{lang}.json").read_text(encoding="utf-8"))


def parse_accept_language(header: str) -> list[str]:
    """Language codes from an Accept-Language header, best first (`ko-KR,ko;q=0.9,en;q=0.8`)."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        code, _, params = part.strip().partition(";")
        if not code:
            continue
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        ranked.append((-weight, position, code.split("-")[0].lower()))
    return [code for weight, _, code in sorted(ranked) if weight < 0]


def negotiate(request: Request, default: str = "ko") -> str:
    """The visitor's language: cookie, then Accept-Language, then the city's default."""
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    for code in parse_accept_language(request.headers.get("accept-language", "")):
        if code in LANGUAGES:
            return code
    return default if default in LANGUAGES else LANGUAGES[0]


class Translator:
    """`t("key", name=…)` for one language; missing keys fall back to the other language."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.messages = catalog(lang)
        self.fallback = catalog("en" if lang == "ko" else "ko")

    def __call__(self, key: str, **values: object) -> str:
        text = self.messages.get(key) or self.fallback.get(key) or key
        return text.format(**values) if values else text

    def has(self, key: str) -> bool:
        return key in self.messages
