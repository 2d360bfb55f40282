"""The NGSI-LD door at /ngsi-ld/v1: translates ETSI NGSI-LD HTTP into context service calls.

Paths are accepted with and without a trailing slash (clients send both). Errors on these paths
are ETSI ProblemDetails with the exact type URIs clients map on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from cityhub.context import entities, jsonld, negotiate, subscriptions, temporal, temporal_write
from cityhub.context import query as q_service
from cityhub.context.geo import parse_geoquery
from cityhub.context.jsonld import LdContext
from cityhub.context.problems import ETSI_ERRORS, BadRequestData, UnsupportedMediaType, problem_body
from cityhub.errors import CityhubError
from cityhub.http import Ctx, dumps

log = logging.getLogger("cityhub.context.ngsild")
PREFIX = "/ngsi-ld/v1"
# Accept / Content-Type are checked once for every door here (406 / 415 ProblemDetails), not per handler
router = APIRouter(prefix=PREFIX, tags=["NGSI-LD"], dependencies=[Depends(negotiate.check_media_types)])


def route(method: str, path: str, **kw: Any) -> Callable:
    """Register a handler for `path` and `path/` (clients send trailing slashes)."""

    def register(fn: Callable) -> Callable:
        router.add_api_route(path, fn, methods=[method], **kw)
        router.add_api_route(path.rstrip("/") + "/", fn, methods=[method], include_in_schema=False, **kw)
        return fn

    return register


async def raw_body(request: Request) -> bytes:
    return await request.body()


Body = Depends(raw_body)


# --- request and response helpers -------------------------------------------------------------

def wants_ld(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/ld+json" in accept and "application/json" not in accept.split(",")[0]


def read_body(request: Request, raw: bytes) -> tuple[Any, LdContext]:
    """Parse the body and the @context it came with (body for ld+json, Link header otherwise)."""
    settings = request.app.state.settings
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if content_type not in negotiate.BODY_TYPES:  # the router's dependency answers 415 first; kept for direct calls
        raise UnsupportedMediaType(f"unsupported Content-Type {content_type!r}; use application/json or "
                                   "application/ld+json")
    body = jsonld.parse_json(raw)
    link = request.headers.get("link")
    items = body if isinstance(body, list) else [body]
    contexts = [i["@context"] for i in items if isinstance(i, dict) and "@context" in i]
    if content_type == "application/ld+json" and isinstance(body, dict) and not contexts:
        raise BadRequestData.field("@context", "an application/ld+json body must carry an @context")
    seen: list[Any] = []
    for c in contexts:
        if c not in seen:
            seen.append(c)
    if not seen:
        return body, jsonld.request_context(settings, content_type=content_type, link=link)
    result = jsonld.CORE
    for c in seen:
        result = jsonld.request_context(settings, content_type=content_type, link=link, body_context=c,
                                        has_body_context=True)
    return body, result


def query_context(request: Request) -> LdContext:
    return jsonld.request_context(request.app.state.settings, content_type="", link=request.headers.get("link"))


def respond(request: Request, content: Any, ld_ctx: LdContext = jsonld.CORE, status: int = 200,
            headers: dict[str, str] | None = None) -> Response:
    headers = dict(headers or {})
    if wants_ld(request):
        if isinstance(content, dict):
            content = {**content, "@context": jsonld.response_context(ld_ctx)}
        elif isinstance(content, list):
            content = [{**c, "@context": jsonld.response_context(ld_ctx)} if isinstance(c, dict) else c
                       for c in content]
        media = "application/ld+json"
    else:
        headers["Link"] = jsonld.link_header(ld_ctx)
        media = "application/json"
    return Response(dumps(content), status_code=status, media_type=media, headers=headers)


def no_content() -> Response:
    return Response(status_code=204)


def options_of(request: Request) -> set[str]:
    raw = ",".join(request.query_params.getlist("options") + request.query_params.getlist("format"))
    return {o.strip() for o in raw.split(",") if o.strip()}


def int_param(request: Request, name: str, default: int) -> int:
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise BadRequestData.field(name, f"must be an integer, got {value!r}") from None


def csv_param(request: Request, name: str) -> list[str]:
    out: list[str] = []
    for value in request.query_params.getlist(name):
        out.extend(v.strip() for v in value.split(",") if v.strip())
    return [jsonld.compact_name(v) for v in out] if name in ("type", "attrs") else out


def _attrs_set(request: Request) -> set[str] | None:
    attrs = csv_param(request, "attrs")
    return set(attrs) if attrs else None


# --- contexts ----------------------------------------------------------------------------------

@route("GET", "/jsonldContexts/ngsi-ld-core-context.jsonld")
def core_context() -> Response:
    """The NGSI-LD core @context, served locally (cityhub never fetches contexts from the internet)."""
    return Response(jsonld.core_context_document(), media_type="application/ld+json",
                    headers={"Cache-Control": "public, max-age=86400"})


# --- entities ----------------------------------------------------------------------------------

@route("POST", "/entities", status_code=201)
def create_entity(request: Request, ctx: Ctx, raw: bytes = Body) -> Response:
    body, _ = read_body(request, raw)
    if not isinstance(body, dict):
        raise BadRequestData.field("body", "an entity is a JSON object")
    eid = entities.create_entity(ctx, body=body)
    return Response(status_code=201, headers={"Location": f"{PREFIX}/entities/{quote(eid, safe=':')}"})


def _entity_query(request: Request) -> q_service.EntityQuery:
    params = request.query_params
    opts = options_of(request)
    geoq = parse_geoquery(params.get("georel"), params.get("geometry"), params.get("coordinates"),
                          params.get("geoproperty"))
    return q_service.EntityQuery(
        ids=csv_param(request, "id"), types=csv_param(request, "type"), id_pattern=params.get("idPattern"),
        attrs=_attrs_set(request), q=params.get("q"), geo=geoq, district=params.get("district"),
        limit=int_param(request, "limit", 20), offset=int_param(request, "offset", 0),
        count=params.get("count", "").lower() == "true" or "count" in opts,
        key_values="keyValues" in opts or "simplified" in opts or "concise" in opts,
        raw=not wants_ld(request),  # respond() writes the list unchanged: stored JSON goes out as it is
    )


@route("GET", "/entities")
def query_entities(request: Request, ctx: Ctx) -> Response:
    ld_ctx = query_context(request)
    query = _entity_query(request)
    page = q_service.query_entities(ctx, query=query)
    headers = {}
    if page.total is not None:
        headers["NGSILD-Results-Count"] = str(page.total)
    return respond(request, page.items, ld_ctx, headers=headers)


@route("GET", "/entities/{entity_id}")
def get_entity(entity_id: str, request: Request, ctx: Ctx) -> Response:
    ld_ctx = query_context(request)
    opts = options_of(request)
    item = entities.get_entity(ctx, entity_id=entity_id, attrs=_attrs_set(request),
                               key_values="keyValues" in opts or "simplified" in opts,
                               with_sys_attrs="sysAttrs" in opts)
    return respond(request, item, ld_ctx)


@route("PUT", "/entities/{entity_id}")
def replace_entity(entity_id: str, request: Request, ctx: Ctx, raw: bytes = Body) -> Response:
    body, _ = read_body(request, raw)
    entities.replace_entity(ctx, entity_id=entity_id, body=body)
    return no_content()


@route("PATCH", "/entities/{entity_id}")
def merge_entity(entity_id: str, request: Request, ctx: Ctx, raw: bytes = Body) -> Response:
    body, _ = read_body(request, raw)
    entities.merge_entity(ctx, entity_id=entity_id, body=body)
    return no_content()


@route("DELETE", "/entities/{entity_id}")
def delete_entity(entity_id: str, ctx: Ctx) -> Response:
    entities.delete_entity(ctx, entity_id=entity_id)
    return no_content()


def _partial(updated: list[str], not_updated: list[dict]) -> Response:
    if not not_updated:
        return no_content()
    return Response(dumps({"updated": updated, "notUpdated": not_updated}), status_code=207,
                    media_type="application/json")


@route("POST", "/entities/{entity_id}/attrs")
def append_attrs(entity_id: str, request: Request, ctx: Ctx, raw: bytes = Body) -> Response:
    body, _ = read_body(request, raw)
    updated, not_updated = entities.append_attrs(ctx, entity_id=entity_id, body=body,
                                                 no_overwrite="noOverwrite" in options_of(request))
    return _partial(updated, not_updated)


@route("PATCH", "/entities/{entity_id}/attrs")
def update_attrs(entity_id: str, request: Request, ctx: Ctx, raw: bytes = Body) -> Response:
    body, _ = read_body(request, raw)
    updated, not_updated = entities.update_attrs(ctx, entity_id=entity_id, body=body)
    return _partial(updated, not_updated)


@route("PATCH", "/entities/{entity_id}/attrs/{attr}")
def patch_attr(entity_id: str, attr: str, request: Request, ctx: Ctx, raw: bytes = Body) -> Response:
    body, _ = read_body(request, raw)
    entities.patch_attr(ctx, entity_id=entity_id, attr=jsonld.compact_name(attr), body=body)
    return no_content()


@route("PUT", "/entities/{entity_id}/attrs/{attr}")
def replace_attr(entity_id: str, attr: str, request: Request, ctx: Ctx, raw: bytes = Body) -> Response:
    body, _ = read_body(request, raw)
    entities.patch_attr(ctx, entity_id=entity_id, attr=jsonld.compact_name(attr), body=body, replace=True)
    return no_content()


@route("DELETE", "/entities/{entity_id}/attrs/{attr}")
def delete_attr(entity_id: str, attr: str, ctx: Ctx) -> Response:
    entities.delete_attr(ctx, entity_id=entity_id, attr=jsonld.compact_name(attr))
    return no_content()


# --- batch operations --------------------------------------------------------------------------

def _batch_response(op: str, result: entities.BatchResult) -> Response:
    if result.errors:
        return Response(dumps({"success": result.success, "errors": result.errors}), status_code=207,
                        media_type="application/json")
    if op == "create" or (op == "upsert" and result.created):
        # upsert: 201 with the ids created when any entity was new, 204 when all existed
        return Response(dumps(result.created), status_code=201, media_type="application/json")
    return no_content()


def _batch(op: str) -> Callable:
    def handler(request: Request, ctx: Ctx, raw: bytes = Body) -> Response:
        body, _ = read_body(request, raw)
        opts = options_of(request)
        kind = op
        if op == "upsert" and "update" in opts:
            kind = "upsert_update"
        if op == "update" and "noOverwrite" in opts:
            kind = "update_no_overwrite"
        return _batch_response(op, entities.batch(ctx, op=kind, bodies=body))

    handler.__name__ = f"batch_{op}"
    return handler


for _op in ("create", "upsert", "update", "merge", "delete"):
    route("POST", f"/entityOperations/{_op}")(_batch(_op))


@route("POST", "/entityOperations/query")
def batch_query(request: Request, ctx: Ctx, raw: bytes = Body) -> Response:
    body, ld_ctx = read_body(request, raw)
    if not isinstance(body, dict):
        raise BadRequestData.field("body", "a Query is a JSON object")
    ents = body.get("entities") or []
    geoq = body.get("geoQ") or {}
    query = q_service.EntityQuery(
        ids=[e["id"] for e in ents if isinstance(e, dict) and "id" in e],
        types=[jsonld.compact_name(e["type"]) for e in ents if isinstance(e, dict) and "type" in e],
        id_pattern=next((e["idPattern"] for e in ents if isinstance(e, dict) and "idPattern" in e), None),
        attrs=set(body["attrs"]) if body.get("attrs") else None, q=body.get("q"),
        geo=parse_geoquery(geoq.get("georel"), geoq.get("geometry"), geoq.get("coordinates"),
                           geoq.get("geoproperty")) if geoq else None,
        limit=int_param(request, "limit", 20), offset=int_param(request, "offset", 0),
        count=request.query_params.get("count", "").lower() == "true",
        key_values="keyValues" in options_of(request), raw=not wants_ld(request))
    page = q_service.query_entities(ctx, query=query)
    headers = {"NGSILD-Results-Count": str(page.total)} if page.total is not None else {}
    return respond(request, page.items, ld_ctx, headers=headers)


# --- types and attributes ----------------------------------------------------------------------

@route("GET", "/types")
def list_types(request: Request, ctx: Ctx) -> Response:
    types = q_service.list_types(ctx)
    body = {"id": "urn:ngsi-ld:EntityTypeList:cityhub", "type": "EntityTypeList",
            "typeList": [t["type"] for t in types]}
    if "details" in options_of(request) or request.query_params.get("details") == "true":
        return respond(request, [{"id": t["type"], "type": "EntityType", "typeName": t["type"],
                                  "entityCount": t["count"]} for t in types])
    return respond(request, body)


@route("GET", "/attributes")
def list_attributes(request: Request, ctx: Ctx) -> Response:
    names = q_service.list_attributes(ctx)
    return respond(request, {"id": "urn:ngsi-ld:AttributeList:cityhub", "type": "AttributeList",
                             "attributeList": names})


# --- subscriptions -------------------------------------------------------------------------------

@route("POST", "/subscriptions", status_code=201)
def create_subscription(request: Request, ctx: Ctx, raw: bytes = Body) -> Response:
    body, _ = read_body(request, raw)
    sid = subscriptions.create_subscription(ctx, body=body)
    return Response(status_code=201, headers={"Location": f"{PREFIX}/subscriptions/{quote(sid, safe=':')}"})


@route("GET", "/subscriptions")
def list_subscriptions(request: Request, ctx: Ctx) -> Response:
    q_service.check_page(ctx.settings, int_param(request, "limit", 20), 0)
    items = subscriptions.list_subscriptions(ctx, limit=int_param(request, "limit", 20),
                                             offset=int_param(request, "offset", 0))
    return respond(request, items)


@route("GET", "/subscriptions/{subscription_id}")
def get_subscription(subscription_id: str, request: Request, ctx: Ctx) -> Response:
    return respond(request, subscriptions.get_subscription(ctx, subscription_id=subscription_id))


@route("PATCH", "/subscriptions/{subscription_id}")
def update_subscription(subscription_id: str, request: Request, ctx: Ctx, raw: bytes = Body) -> Response:
    body, _ = read_body(request, raw)
    subscriptions.update_subscription(ctx, subscription_id=subscription_id, body=body)
    return no_content()


@route("DELETE", "/subscriptions/{subscription_id}")
def delete_subscription(subscription_id: str, ctx: Ctx) -> Response:
    subscriptions.delete_subscription(ctx, subscription_id=subscription_id)
    return no_content()


# --- temporal ------------------------------------------------------------------------------------

def _temporal_query(request: Request) -> temporal.TemporalQuery:
    tq = temporal.build_query(dict(request.query_params))
    tq.ids, tq.types = csv_param(request, "id"), csv_param(request, "type")
    tq.id_pattern, tq.attrs = request.query_params.get("idPattern"), csv_param(request, "attrs")
    tq.temporal_values = "temporalValues" in options_of(request)
    tq.limit, tq.offset = int_param(request, "limit", 20), int_param(request, "offset", 0)
    tq.encoded = True  # aggregate series come as JSON fragments, spliced into the response as they are
    return tq


@route("GET", "/temporal/entities")
def temporal_query(request: Request, ctx: Ctx) -> Response:
    ld_ctx = query_context(request)
    tq = _temporal_query(request)
    items = temporal.query_temporal(ctx, tq=tq)
    return _temporal_response(request, items, ld_ctx, tq, {"Page-Size": str(tq.limit)})


@route("GET", "/temporal/entities/{entity_id}")
def temporal_entity(entity_id: str, request: Request, ctx: Ctx) -> Response:
    ld_ctx = query_context(request)
    tq = _temporal_query(request)
    return _temporal_response(request, temporal.get_temporal_entity(ctx, entity_id=entity_id, tq=tq), ld_ctx, tq)


def _temporal_response(request: Request, content: Any, ld_ctx: LdContext, tq: temporal.TemporalQuery,
                       headers: dict[str, str] | None = None) -> Response:
    """200, or 206 with the window returned when instances were cut at the per-attribute cap (NGSI-LD 1.4+
    temporal pagination: the client asks for the rest with timerel from the Content-Range's last time)."""
    if tq.partial is None:
        return respond(request, content, ld_ctx, headers=headers)
    headers = {**(headers or {}), "Content-Range": tq.partial.content_range()}
    return respond(request, content, ld_ctx, status=206, headers=headers)


@route("POST", "/temporal/entities", status_code=201)
def temporal_create(request: Request, ctx: Ctx, raw: bytes = Body) -> Response:
    """Create an entity with its history, or add instances to an existing one (201 / 204)."""
    body, _ = read_body(request, raw)
    if not isinstance(body, dict):
        raise BadRequestData.field("body", "a temporal entity is a JSON object")
    if temporal_write.upsert_temporal_entity(ctx, body=body):
        eid = body.get("id", body.get("@id"))
        return Response(status_code=201, headers={"Location": f"{PREFIX}/temporal/entities/{quote(eid, safe=':')}"})
    return no_content()


@route("POST", "/temporal/entities/{entity_id}/attrs")
def temporal_add_attrs(entity_id: str, request: Request, ctx: Ctx, raw: bytes = Body) -> Response:
    body, _ = read_body(request, raw)
    temporal_write.add_temporal_attrs(ctx, entity_id=entity_id, body=body)
    return no_content()


@route("DELETE", "/temporal/entities/{entity_id}")
def temporal_delete(entity_id: str, ctx: Ctx) -> Response:
    temporal.delete_history(ctx, entity_id=entity_id)
    return no_content()


# --- errors as ETSI ProblemDetails -------------------------------------------------------------

def _problem(exc: Exception) -> Response:
    body = problem_body(exc)
    return Response(dumps(body), status_code=body["status"], media_type="application/json")


def install(app: FastAPI) -> None:
    """Errors under /ngsi-ld become ETSI ProblemDetails; other paths keep the app's handlers."""
    previous = app.exception_handlers.get(CityhubError)
    previous_validation = app.exception_handlers.get(RequestValidationError)

    async def cityhub_error(request: Request, exc: CityhubError) -> Response:
        if request.url.path.startswith("/ngsi-ld/"):
            return _problem(exc)
        return await previous(request, exc)

    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        if request.url.path.startswith("/ngsi-ld/"):
            detail = "; ".join(f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg')}" for e in exc.errors())
            return _problem(BadRequestData(detail))
        return await previous_validation(request, exc)

    previous_http = app.exception_handlers.get(StarletteHTTPException, http_exception_handler)

    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # Routing's own errors (no such path, a method the path lacks) are ProblemDetails here too: clients
        # map every error by its type URI.
        if not request.url.path.startswith("/ngsi-ld/") or exc.status_code < 400:
            return await previous_http(request, exc)
        kind = {404: "ResourceNotFound", 405: "OperationNotSupported"}.get(
            exc.status_code, "InternalError" if exc.status_code >= 500 else "BadRequestData")
        detail = f"{request.method} {request.url.path}: {exc.detail}"
        body = {"type": ETSI_ERRORS + kind, "title": kind, "status": exc.status_code, "detail": detail}
        return Response(dumps(body), status_code=exc.status_code, media_type="application/json",
                        headers=getattr(exc, "headers", None))

    app.add_exception_handler(CityhubError, cityhub_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    from cityhub.context import runtime

    runtime.install(app)
