"""Content negotiation for every /ngsi-ld door, checked once as a router dependency (ETSI GS CIM 009 6.3.4).

- Accept must admit application/json or application/ld+json (directly, or by `application/*` / `*/*`);
  otherwise 406 NotAcceptable. No Accept header admits anything. application/geo+json is not admitted: this
  door answers JSON or JSON-LD only, so a client asking for GeoJSON alone is told so instead of getting JSON.
- A POST/PATCH/PUT body must be application/json or application/ld+json (application/merge-patch+json too,
  NGSI-LD 1.5's media type for a merge PATCH); otherwise 415 UnsupportedMediaType. A request without a
  Content-Type is read as application/json, as before.
"""

from __future__ import annotations

from functools import lru_cache

from fastapi import Request

from cityhub.context.problems import NotAcceptable, UnsupportedMediaType

PRODUCED = frozenset(("application/json", "application/ld+json", "application/*", "*/*"))
BODY_TYPES = frozenset(("application/json", "application/ld+json", "application/merge-patch+json"))
WITH_BODY = frozenset(("POST", "PATCH", "PUT"))


@lru_cache(maxsize=256)  # clients send the same few Accept values on every request
def admits_json(accept: str) -> bool:
    """Whether an Accept header value admits a JSON / JSON-LD answer (a range with q=0 refuses it)."""
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        if media.lower() not in PRODUCED:
            continue
        q = next((p.split("=", 1)[1].strip() for p in params if p.lower().startswith("q=")), "1")
        try:
            if float(q) > 0:
                return True
        except ValueError:  # a malformed weight is read as the default, 1
            return True
    return False


async def check_media_types(request: Request) -> None:
    """406 / 415 before any handler work (async: no thread hop for a check of two headers)."""
    headers = request.headers
    accept = headers.get("accept")
    if accept and not admits_json(accept):
        raise NotAcceptable(f"Accept {accept!r} admits none of application/json, application/ld+json")
    if request.method in WITH_BODY:
        content_type = headers.get("content-type")
        if content_type is not None and content_type.split(";")[0].strip().lower() not in BODY_TYPES:
            raise UnsupportedMediaType(
                f"Content-Type {content_type!r} is not supported; use application/json or application/ld+json")
