"""Prefix-indexed route dispatch: a request tries only the doors whose paths can match its own.

FastAPI (0.165) matches a request against every route listed ahead of its own, each included router in
turn, at ~10 µs a route; a request for a door late in the list paid ~1 ms CPU before its endpoint ran.
Here the application's top-level routes (each domain's included router, the probes, the docs, mounts) are
indexed once by the literal segments their paths start with (`/api/v1/ops/incidents/{id}` → api, v1, ops,
incidents); a request walks that tree by its own first segments and hands the request to a copy of the
application's router holding only the routes found on the way, in their original order.

What FastAPI itself decides stays its own: the copy runs FastAPI's router code, so matching, 405s, slash
redirects, 404s, exception handlers, dependencies and `url_for` (the full router stays `scope["router"]`)
behave as before, and OpenAPI reads the untouched application router. A route left out of a request's
candidates is one whose literal path prefix differs from the request's path, so it could never match it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from starlette.routing import BaseRoute, Host, get_route_path


def literal_segments(path: str | None) -> tuple[str, ...]:
    """The path's leading segments that hold no parameter (trailing empty ones dropped: slash redirects)."""
    if not path:
        return ()
    out: list[str] = []
    for segment in path.split("/")[1:]:
        if "{" in segment:
            break
        out.append(segment)
    while out and out[-1] == "":
        out.pop()
    return tuple(out)


def _paths(route: BaseRoute, prefix: str = "") -> Iterator[str | None]:
    """The full paths of a route, or of every route of an included router (None: may match any path).

    Read from the routers as written, not through FastAPI's per-route contexts: building those for every
    route at once cost ~1.5 s at the first request.
    """
    original = getattr(route, "original_router", None)
    if original is not None:  # an included router: its prefix, then each of its routes (nested ones too)
        if getattr(original, "_low_priority_routes", None):
            yield None  # frontend (low-priority) routes are consulted after everything else: keep them everywhere
        inner = prefix + getattr(getattr(route, "include_context", None), "prefix", "")
        for child in original.routes:
            yield from _paths(child, inner)
    elif isinstance(route, Host) or not isinstance(getattr(route, "path", None), str):
        yield None
    else:
        yield prefix + route.path


def _prefixes(route: BaseRoute) -> list[tuple[str, ...]]:
    """Every literal prefix a top-level route's paths start with; () matches any path."""
    found = {() if path is None else literal_segments(path) for path in _paths(route)}
    return sorted(found) or [()]


@dataclass
class _Node:
    children: dict[str, _Node] = field(default_factory=dict)
    here: set[int] = field(default_factory=set)  # indexes of routes whose literal prefix ends here
    router: Any = None  # the router copy with this node's and its ancestors' routes


class PrefixDispatch:
    """The application router's entry point: picks the candidate routes by path prefix (see module doc)."""

    def __init__(self, router: Any) -> None:
        self.router = router
        self._built_for = -1
        self._root = _Node()

    def _build(self) -> None:
        routes = list(self.router.routes)
        root = _Node()
        for index, route in enumerate(routes):
            for prefix in _prefixes(route):
                node = root
                for segment in prefix:
                    node = node.children.setdefault(segment, _Node())
                node.here.add(index)
        self._attach(root, routes, set())
        self._root = root
        self._built_for = len(routes)

    def _attach(self, node: _Node, routes: list[BaseRoute], inherited: set[int]) -> None:
        chosen = inherited | node.here
        node.router = copy.copy(self.router)
        node.router.routes = [routes[i] for i in sorted(chosen)]
        for child in node.children.values():
            self._attach(child, routes, chosen)

    def router_for(self, path: str) -> Any:
        """The router copy holding the routes that can match `path`."""
        if len(self.router.routes) != self._built_for:  # first request, or routes added since (rare)
            self._build()
        node = self._root
        for segment in path.split("/")[1:]:
            child = node.children.get(segment)
            if child is None:
                break
            node = child
        return node.router

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self.router.app(scope, receive, send)
            return
        scope.setdefault("router", self.router)  # url_for and friends search every route
        await self.router_for(get_route_path(scope)).app(scope, receive, send)


def install(app: Any) -> None:
    """Route the application's requests through the prefix index (after every door is included)."""
    router = app.router
    if router.middleware_stack != router.app:  # a router-level wrapper we do not know: leave routing alone
        return
    router.middleware_stack = PrefixDispatch(router)
