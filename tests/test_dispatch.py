"""Prefix-indexed dispatch: every route stays reachable, and FastAPI's own answers (docs, 404, 405, slash
redirects, problem details) are unchanged."""

from __future__ import annotations

import re

from fastapi.routing import iter_route_contexts

from cityhub.dispatch import PrefixDispatch, literal_segments


def test_literal_segments() -> None:
    assert literal_segments("/api/v1/ops/incidents/{incident_id}") == ("api", "v1", "ops", "incidents")
    assert literal_segments("/api/v1/stats/dashboards/{slug}/cards/{card_id}.csv") == (
        "api", "v1", "stats", "dashboards")
    assert literal_segments("/") == ()
    assert literal_segments("/docs/") == ("docs",)
    assert literal_segments("/report-{id}") == ()


def test_every_route_is_among_its_path_candidates(sqlite_client) -> None:  # noqa: ANN001
    app = sqlite_client.app
    index = app.router.middleware_stack
    assert isinstance(index, PrefixDispatch)
    checked = 0
    for top in app.router.routes:
        for context in iter_route_contexts([top]):
            path = getattr(context, "path", None)
            if not path:
                continue
            concrete = re.sub(r"\{[^}]*\}", "x", path)
            assert top in index.router_for(concrete).routes, (path, concrete)
            checked += 1
    assert checked > 200


def test_fastapi_answers_unchanged(sqlite_client) -> None:  # noqa: ANN001
    c = sqlite_client
    spec = c.get("/openapi.json")
    assert spec.status_code == 200
    assert "/api/v1/ops/incidents" in spec.json()["paths"]
    assert "/ngsi-ld/v1/entities" in spec.json()["paths"]
    assert c.get("/docs").status_code == 200
    missing = c.get("/api/v1/no/such/door")
    assert missing.status_code == 404
    assert c.delete("/healthz").status_code == 405
    redirected = c.get("/api/v1/projects/", follow_redirects=False)
    assert redirected.status_code in (307, 308)
    assert redirected.headers["location"].endswith("/api/v1/projects")
    # A domain's own error family still reaches the application's handlers (problem details).
    gone = c.get("/api/v1/organizations/no-such-org")
    assert gone.status_code == 404
    assert gone.headers["content-type"].startswith("application/problem+json")
    assert gone.headers["x-request-id"]


def test_routes_added_after_start_are_indexed(sqlite_client) -> None:  # noqa: ANN001
    app = sqlite_client.app

    @app.get("/late-door/{name}")
    def late_door(name: str) -> dict:
        return {"name": name}

    assert sqlite_client.get("/late-door/x").json() == {"name": "x"}
