"""A generic paged REST upstream for the `http` connector, with switchable faults.

GET /items?page=N&size=S (page paging, JSON `{"data": {"items": [...], "total": T}}`),
/offset?offset=&limit=, /cursor?cursor=, /link (RFC 8288 Link header), /xml, /csv (CP949).
`behaviour` switches faults: down (HTTP 503), slow seconds, html, truncated, error_on_page, renamed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class Behaviour:
    total: int = 95
    down: bool = False
    fail_first: int = 0  # answer 503 this many times, then recover (retries)
    slow: float = 0.0
    html: bool = False
    truncated_on_page: int | None = None
    error_on_page: int | None = None
    renamed: bool = False
    require_key: str | None = None
    value_offset: int = 0
    bad_value_ids: set[int] = field(default_factory=set)
    calls: int = 0


def make_rows(b: Behaviour) -> list[dict]:
    rows = []
    for i in range(1, b.total + 1):
        value = "not-a-number" if i in b.bad_value_ids else f"{i * 1.5 + b.value_offset:.1f}"
        when = f"2025-05-09 {i % 24 + 1:02d}:00"  # hours 01..24, as Korean portals write them
        if b.renamed:
            rows.append({"ident": i, "STATION": f"st-{i % 7}", "reading": value, "time": when})
        else:
            rows.append({"id": i, "station": f"st-{i % 7}", "value": value, "measured": when})
    return rows


def make_app(b: Behaviour) -> Starlette:
    def gate(request: Request) -> Response | None:
        b.calls += 1
        if b.slow:
            time.sleep(b.slow)
        if b.down:
            return Response("service unavailable", status_code=503)
        if b.fail_first > 0:
            b.fail_first -= 1
            return Response("bad gateway", status_code=502)
        if b.require_key and request.query_params.get("api_key") != b.require_key \
                and request.headers.get("x-api-key") != b.require_key:
            return JSONResponse({"error": "invalid api key"}, status_code=401)
        if b.html:
            return Response("<!DOCTYPE html><html><head><title>Maintenance 점검중</title></head><body>x</body></html>",
                            media_type="text/html")
        return None

    def body_for(page: int, chunk: list[dict], extra: dict) -> Response:
        if b.error_on_page == page:
            return JSONResponse({"error": {"code": "E42", "message": f"backend exploded on page {page}"}},
                                status_code=500)
        content = JSONResponse({"data": {"items": chunk, "total": b.total, **extra}}).body
        if b.truncated_on_page == page:
            content = content[: len(content) // 2]
        return Response(content, media_type="application/json")

    def items(request: Request) -> Response:
        if (r := gate(request)) is not None:
            return r
        page, size = int(request.query_params.get("page", 1)), int(request.query_params.get("size", 10))
        chunk = make_rows(b)[(page - 1) * size: page * size]
        return body_for(page, chunk, {"page": page})

    def offset(request: Request) -> Response:
        if (r := gate(request)) is not None:
            return r
        off, limit = int(request.query_params.get("offset", 0)), int(request.query_params.get("limit", 10))
        return body_for(off // limit + 1, make_rows(b)[off: off + limit], {})

    def cursor(request: Request) -> Response:
        if (r := gate(request)) is not None:
            return r
        start = int(request.query_params.get("cursor") or 0)
        chunk = make_rows(b)[start: start + 10]
        nxt = str(start + 10) if start + 10 < b.total else None
        return body_for(start // 10 + 1, chunk, {"next": nxt})

    def link(request: Request) -> Response:
        if (r := gate(request)) is not None:
            return r
        page = int(request.query_params.get("p", 1))
        chunk = make_rows(b)[(page - 1) * 10: page * 10]
        resp = body_for(page, chunk, {})
        if page * 10 < b.total:
            resp.headers["link"] = f'</link?p={page + 1}>; rel="next"'
        return resp

    def xml(request: Request) -> Response:
        if (r := gate(request)) is not None:
            return r
        rows = "".join(f"<row><id>{r['id']}</id><station>{r['station']}</station><value>{r['value']}</value>"
                       f"<measured>{r['measured']}</measured></row>" for r in make_rows(b))
        return Response(f"<?xml version='1.0' encoding='UTF-8'?><result><rows>{rows}</rows></result>",
                        media_type="application/xml")

    def csv(request: Request) -> Response:
        if (r := gate(request)) is not None:
            return r
        lines = ["id,station,value,measured,측정소"] + [
            f"{r['id']},{r['station']},{r['value']},{r['measured']},중구" for r in make_rows(b)]
        return Response(("\r\n".join(lines) + "\r\n").encode("cp949"), media_type="text/csv")

    return Starlette(routes=[Route("/items", items), Route("/offset", offset), Route("/cursor", cursor),
                             Route("/link", link), Route("/xml", xml), Route("/csv", csv)])
