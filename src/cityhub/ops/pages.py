"""Operations pages (ko/en): the board of incidents, one incident with its timeline, cameras and grants,
the delivery log with dead letters, and directives with the overdue ones first.

Pages call the same services as the API, so the policy door decides: operators see everything, an
agency its own incidents, citizens get the friendly 403 page.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from cityhub.http import Ctx
from cityhub.ops import cameras, i18n
from cityhub.ops import service_agencies as agencies
from cityhub.ops import service_directives as directives
from cityhub.ops import service_grants as grants
from cityhub.ops import service_incidents as incidents
from cityhub.web.templating import add_nav, mark_page, render

i18n.register()
add_nav("nav.ops", "/ops/incidents", order=65)  # /ops itself is the digital mayor's office board
router = APIRouter(dependencies=[Depends(mark_page)])


@router.get("/ops/incidents")
def board(request: Request, ctx: Ctx, all: bool = False, type: str | None = None) -> Response:  # noqa: A002
    """Open incidents, newest first (all incidents with ?all=1)."""
    page = incidents.list_incidents(ctx, open_only=not all, type=type or None, limit=200)
    return render(request, "ops/board.html", page=page, show_all=all, type=type or "")


@router.get("/ops/incidents/{incident_id}")
def incident_page(request: Request, ctx: Ctx, incident_id: str) -> Response:
    """One incident: state, timeline, nearby cameras and the video grants issued for it."""
    inc = incidents.get_incident(ctx, incident_id=incident_id)
    near = cameras.nearest(ctx, lon=inc.location.lon, lat=inc.location.lat,
                           radius_m=ctx.settings.ops_camera_radius_m, limit=20)
    return render(request, "ops/incident.html", inc=inc, cameras=near,
                  grants=grants.list_grants(ctx, incident_id=incident_id))


@router.get("/ops/deliveries")
def delivery_log(request: Request, ctx: Ctx, status: str | None = None) -> Response:
    """What was sent to which agency, with attempts and errors; ?status=dead for the dead letters."""
    page = agencies.list_deliveries(ctx, status=status or None, limit=200)
    dead = agencies.list_deliveries(ctx, status="dead", limit=0).total
    return render(request, "ops/deliveries.html", page=page, status=status or "", dead=dead)


@router.get("/ops/directives")
def directive_list(request: Request, ctx: Ctx) -> Response:
    """Directives by due time, overdue ones marked."""
    page = directives.list_directives(ctx, limit=200)
    return render(request, "ops/directives.html", page=page)
