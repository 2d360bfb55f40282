"""@context handling for the NGSI-LD door: where a request's context comes from, and what we answer.

cityhub stores short attribute names and never expands JSON-LD on the hot path. A request's
context is still checked: the ETSI core context (any version) is ours, served locally; another
remote context must be in the local cache (data_dir/jsonld-cache, put there by an operator) or the
request fails with LdContextNotAvailable at once. Nothing is ever fetched from the internet.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

from cityhub.context.problems import BadRequestData, LdContextNotAvailable
from cityhub.settings import Settings

CORE_CONTEXT_FILE = Path(__file__).parent / "data" / "ngsi-ld-core-context.jsonld"
CORE_PATH = "/ngsi-ld/v1/jsonldContexts/ngsi-ld-core-context.jsonld"
ETSI_CORE = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"
DEFAULT_VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
LINK_REL = "http://www.w3.org/ns/json-ld#context"
_ETSI_CORE_RE = re.compile(r"^https?://uri\.etsi\.org/ngsi-ld/(v[\d.]+/)?ngsi-ld-core-context(-v[\d.]+)?\.jsonld$")
_LINK_RE = re.compile(r'^\s*<([^>]*)>\s*(;.*)?$')


@lru_cache(maxsize=1)
def core_context_document() -> bytes:
    return CORE_CONTEXT_FILE.read_bytes()


@dataclass(frozen=True)
class LdContext:
    """The context a request used; echoed back in ld+json answers."""

    value: Any  # a URL, an inline object or a list of them

    @property
    def urls(self) -> list[str]:
        items = self.value if isinstance(self.value, list) else [self.value]
        return [i for i in items if isinstance(i, str)]


CORE = LdContext(ETSI_CORE)


def is_core(url: str, settings: Settings | None = None) -> bool:
    if _ETSI_CORE_RE.match(url) or url.endswith(CORE_PATH):
        return True
    return False


def cache_path(settings: Settings, url: str) -> Path:
    return settings.data_dir / "jsonld-cache" / (hashlib.sha256(url.encode()).hexdigest() + ".jsonld")


def _check_url(settings: Settings, url: str) -> None:
    if is_core(url):
        return
    if not re.match(r"^https?://", url):
        raise BadRequestData.field("@context", f"{url!r} is not an http(s) URL")
    if not cache_path(settings, url).exists():
        raise LdContextNotAvailable(
            f"@context {url} is not available: cityhub does not fetch remote contexts; "
            f"use the core context or ask an operator to cache this one")


def check_context(settings: Settings, value: Any) -> LdContext:
    """Validate an @context value (string, object or list); raise BadRequestData/LdContextNotAvailable."""
    items = value if isinstance(value, list) else [value]
    if not items:
        raise BadRequestData.field("@context", "an empty @context list")
    for item in items:
        if isinstance(item, str):
            _check_url(settings, item)
        elif not isinstance(item, dict):
            kind = type(item).__name__
            raise BadRequestData.field("@context", f"must be a URL, an object or a list of them, not {kind}")
    return LdContext(value)


def parse_link_header(header: str | None) -> str | None:
    """The context URL from `Link: <url>; rel="http://www.w3.org/ns/json-ld#context"`."""
    if not header:
        return None
    for part in header.split(","):
        m = _LINK_RE.match(part)
        if not m:
            raise BadRequestData.field("Link", "malformed Link header")
        params = m.group(2) or ""
        if "rel" not in params or LINK_REL in params:
            return m.group(1)
    return None


def request_context(settings: Settings, *, content_type: str, link: str | None,
                    body_context: Any = None, has_body_context: bool = False) -> LdContext:
    """The context of a request, from the body (application/ld+json) or the Link header (application/json)."""
    ld = content_type.startswith("application/ld+json")
    if has_body_context and not ld:
        raise BadRequestData.field("@context", "an @context in the body needs Content-Type application/ld+json")
    if has_body_context:
        return check_context(settings, body_context)
    url = parse_link_header(link)
    if url is not None:
        if ld:
            raise BadRequestData.field("Link", "with application/ld+json the @context goes in the body")
        return check_context(settings, url)
    return CORE


def parse_json(raw: bytes) -> Any:
    """Parse a request body, naming line and column of a syntax error."""
    if not raw.strip():
        raise InvalidBody("the request body is empty")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidBody(f"malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None


class InvalidBody(BadRequestData):
    ngsi_type = "InvalidRequest"


def compact_name(name: str) -> str:
    """Full IRIs of the default vocabulary become short terms (we store short terms)."""
    if name.startswith(DEFAULT_VOCAB):
        return name[len(DEFAULT_VOCAB):]
    if name.startswith("https://uri.etsi.org/ngsi-ld/"):
        return name.rsplit("/", 1)[-1]
    return name


def link_header(ctx_value: LdContext, base_url: str = "") -> str:
    url = ctx_value.urls[0] if ctx_value.urls else ETSI_CORE
    return f'<{url}>; rel="{LINK_REL}"; type="application/ld+json"'


def response_context(ctx_value: LdContext) -> Any:
    return ctx_value.value
