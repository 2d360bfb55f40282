"""create_app(settings) → the FastAPI application. No work happens at import."""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging
import re
import time
import uuid
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from cityhub import dispatch, metrics, stopping
from cityhub.auth import token_cache
from cityhub.bus import make_bus
from cityhub.db import make_engine, make_session_factory
from cityhub.errors import CityhubError, Invalid
from cityhub.governance.audit import install_write_hook
from cityhub.logs import configure_logging, request_id_var
from cityhub.recovery import sweep_orphan_uploads
from cityhub.settings import Settings, get_settings

log = logging.getLogger("cityhub.http")

# Each domain's HTTP doors. A module listed here exposes `router`; pages come last (catch-alls).
ROUTER_MODULES = (
    # The CKAN door first: routes are matched in order, and package_show is the hottest path (matching
    # ~30 routes ahead of it cost a quarter of its CPU); its paths overlap no other door's.
    "cityhub.catalog.ckan",
    # Then the other machine-to-machine doors with the most traffic (sensor batches, agency calls): each
    # route listed ahead of a request's own costs it a match attempt (~10 µs apiece in FastAPI 0.165).
    # Since cityhub.dispatch only the routes sharing the request's literal path prefix are tried, so this
    # order now matters only among doors under one prefix (e.g. the several under /api/v1/governance).
    "cityhub.context.ngsild",
    "cityhub.ops.api",
    "cityhub.auth.api",
    "cityhub.catalog.api",
    "cityhub.catalog.exports",
    "cityhub.datastore.api",
    "cityhub.datastore.sql_api",
    "cityhub.governance.api",
    "cityhub.governance.api_standards",
    "cityhub.governance.api_data",
    "cityhub.governance.api_quality",
    "cityhub.governance.api_versions",
    "cityhub.governance.api_lineage",
    "cityhub.governance.api_access",
    "cityhub.governance.pages_market",
    "cityhub.governance.pages",
    "cityhub.collect.api",
    "cityhub.context.api",
    "cityhub.stats.api_indicators",
    "cityhub.stats.api_queries",
    "cityhub.stats.api_charts",
    "cityhub.stats.api_dashboards",
    "cityhub.projects.api",
    "cityhub.board.api",
    "cityhub.web.routes",
)


def problem(status: int, title: str, detail: str, errors: dict | None = None, code: str = "error") -> JSONResponse:
    body = {"type": f"about:blank#{code}", "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CityhubError)
    async def _cityhub_error(request: Request, exc: CityhubError) -> Response:
        if getattr(request.state, "wants_html", False):
            from cityhub.web.errors import error_page

            return error_page(request, exc)
        return problem(exc.status_code, type(exc).__name__, exc.message, exc.details or None, exc.code)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors: dict[str, list[str]] = {}
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
            errors.setdefault(loc or "body", []).append(err.get("msg", "invalid"))
        detail = "; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items())
        if getattr(request.state, "wants_html", False):
            from cityhub.web.errors import error_page

            return error_page(request, Invalid(detail, details=errors))
        return problem(422, "Invalid", detail, errors, "invalid")


REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
access_log = logging.getLogger("cityhub.access")


def _request_id(scope: dict) -> str:
    """The caller's X-Request-Id when it is a sane token (it lands in every log line), else a new one."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            given = value.decode("latin-1")
            return given if REQUEST_ID_RE.match(given) else uuid.uuid4().hex[:16]
    return uuid.uuid4().hex[:16]


def _log_access(settings: Settings, scope: dict, status: int, elapsed: float) -> None:
    """One line per request: info when the access log is on (debug otherwise), warning when slow or failed."""
    if status >= 500 or elapsed > 1:
        level = logging.WARNING
    else:
        level = logging.INFO if settings.access_log else logging.DEBUG
    if access_log.isEnabledFor(level):  # cheap when the line would be dropped anyway
        client = scope.get("client")
        access_log.log(level, "request", extra={
            "method": scope["method"], "path": scope["path"], "status": status, "ms": round(elapsed * 1000, 1),
            "client": client[0] if client else None})


class RequestEnvelope:
    """Request id, in-flight count, latency metric and access log around every HTTP request.

    A plain ASGI middleware: Starlette's BaseHTTPMiddleware (``@app.middleware``) costs about half a
    millisecond a request, more than a cached package_show takes itself.
    """

    def __init__(self, asgi: Any, owner: FastAPI) -> None:
        self.asgi = asgi
        self.owner = owner

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.asgi(scope, receive, send)
            return
        owner = self.owner
        rid = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = rid  # what request.state.request_id reads
        header = (b"x-request-id", rid.encode())
        token = request_id_var.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        owner.state.in_flight += 1
        metrics.IN_FLIGHT.inc()
        try:
            await self.asgi(scope, receive, send_with_id)
        except asyncio.CancelledError:
            status = 499  # cancelled: shutdown past its grace period (its transaction rolls back)
            raise
        finally:
            owner.state.in_flight -= 1
            metrics.IN_FLIGHT.dec()
            elapsed = time.perf_counter() - started
            path = getattr(scope.get("route"), "path", "unmatched")
            metrics.REQUEST_LATENCY.labels(scope["method"], path, str(status)).observe(elapsed)
            _log_access(owner.state.settings, scope, status, elapsed)
            request_id_var.reset(token)


def _install_middleware(app: FastAPI) -> None:
    app.add_middleware(RequestEnvelope, owner=app)


async def _drain(app: FastAPI, grace_seconds: float) -> None:
    """Wait (bounded) for requests still running, so an import in flight commits or rolls back
    before the engine goes away. uvicorn stops accepting connections before this runs."""
    deadline = time.monotonic() + grace_seconds
    if app.state.in_flight:
        log.info("draining", extra={"in_flight": app.state.in_flight, "grace_seconds": grace_seconds})
    while app.state.in_flight > 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    if app.state.in_flight > 0:
        log.warning("shutdown with requests still running; their transactions roll back",
                    extra={"in_flight": app.state.in_flight})


def _check_database(app: FastAPI) -> str | None:
    """None when the database answers, else what went wrong (for /healthz)."""
    try:
        with app.state.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy, and says why
        log.warning("health check: database unavailable", extra={"error": str(exc)[:300]})
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"


def _install_probes(app: FastAPI) -> None:
    """/healthz for load balancers and /metrics for Prometheus."""
    settings = app.state.settings

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> Response:
        problem_text = _check_database(app)
        if problem_text:
            return JSONResponse({"status": "unavailable", "checks": {"database": problem_text}}, status_code=503)
        return JSONResponse({"status": "ok", "checks": {"database": "ok"}})

    @app.get("/metrics", include_in_schema=False)
    def prometheus(request: Request) -> Response:
        # Totals include non-public data, so only the scraper sees them: a loopback client, or
        # whoever presents the configured metrics token.
        token = settings.metrics_token
        presented = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        client = request.client.host if request.client else ""
        allowed = (presented == token) if token else client in ("127.0.0.1", "::1", "localhost", "testclient")
        if not allowed:
            return problem(403, "Forbidden", "metrics are for the city's monitoring only", code="forbidden")
        metrics.refresh_from_database(app.state.session_factory)
        body, content_type = metrics.render()
        return PlainTextResponse(body, media_type=content_type)


def _tune_gc() -> None:
    """Fewer young-generation collections. A batch upsert of 1,000 NGSI-LD entities builds some hundred
    thousand dicts and lists that live until its answer; with CPython's default (a pass every 700 net
    allocations) the collector scanned them again and again: ~8 ms of a ~80 ms request, its largest single
    cost (request threads 83 → 67 ms CPU per 10,000 attribute updates with this). Gen-0 passes stay cheap
    (10,000 young objects at most); older generations keep their default cadence relative to it."""
    gc.set_threshold(10_000, 10, 10)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        settings.ensure_dirs()
        settings.resolved_secret()
        if settings.run_migrations_on_start:
            from cityhub.migrations.runner import upgrade

            upgrade(settings)
        app.state.engine = make_engine(settings)
        app.state.session_factory = make_session_factory(app.state.engine)
        sweep_orphan_uploads(settings, app.state.session_factory)  # what a crash or cut-short shutdown left
        for hook in app.state.startup_hooks:
            hook(app)
        _tune_gc()
        stopping.install(app)  # open event streams end when the server starts stopping
        try:
            yield
        finally:
            stopping.begin(app)  # (a server that sent no signal: streams still open end now)
            stopping.uninstall(app)
            await _drain(app, settings.shutdown_grace_seconds)
            for hook in reversed(app.state.shutdown_hooks):
                hook(app)
            app.state.engine.dispose()
            log.info("stopped", extra={"in_flight": app.state.in_flight})

    app = FastAPI(
        title="cityhub",
        version="0.1.0",
        description="Smart-city data platform API (native v1). The CKAN Action API lives at /api/3/action.",
        lifespan=lifespan,
    )
    install_write_hook()
    token_cache.install_hook()
    app.state.settings = settings
    app.state.bus = make_bus(settings.bus_url)
    app.state.startup_hooks = []
    app.state.shutdown_hooks = []
    app.state.in_flight = 0  # requests running in this process (the shutdown drain waits for them)
    _install_error_handlers(app)
    _install_middleware(app)

    _install_probes(app)

    for module_name in ROUTER_MODULES:
        module = importlib.import_module(module_name)
        if hasattr(module, "install"):
            module.install(app)  # for doors that also need start-up hooks or exception handlers
        app.include_router(module.router)
    dispatch.install(app)  # a request tries only the routes under its own path prefix
    return app
