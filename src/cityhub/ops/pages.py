"""Operations pages (ko/en): the board of incidents, one incident with its timeline, cameras and grants,
the delivery log with dead letters, and directives with the overdue ones first.

Pages call the same services as the API, so the policy door decides: operators see everything, an
agency its own incidents, citizens get the friendly 403 page.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from cityhub.errors import Invalid
from cityhub.http import Ctx
from cityhub.ops import cameras, i18n
from cityhub.ops import service_agencies as agencies
from cityhub.ops import service_directives as directives
from cityhub.ops import service_grants as grants
from cityhub.ops import service_incidents as incidents
from cityhub.ops.schemas import GrantCreate, NoteCreate, Transition
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
    staff = ctx.actor.role in incidents.OPERATOR_ROLES
    return render(request, "ops/incident.html", inc=inc, cameras=near,
                  grants=grants.list_grants(ctx, incident_id=incident_id),
                  agencies=agencies.active_agencies(ctx) if staff else [], can_grant=staff,
                  can_act=staff or agencies.actor_agency(ctx) is not None)


def _back(incident_id: str, anchor: str) -> RedirectResponse:
    return RedirectResponse(f"/ops/incidents/{incident_id}#{anchor}", status_code=303)


@router.post("/ops/incidents/{incident_id}/transition")
def transition_form(ctx: Ctx, incident_id: str, to: Annotated[str, Form(max_length=30)],
                    note: Annotated[str | None, Form(max_length=2000)] = None) -> Response:
    """An operator or agency moves the incident one step from the page (a skip is refused, naming the allowed)."""
    incidents.transition(ctx, incident_id=incident_id, data=Transition(to=to, note=note or None))
    return _back(incident_id, "timeline")


@router.post("/ops/incidents/{incident_id}/notes")
def note_form(ctx: Ctx, incident_id: str, note: Annotated[str, Form(max_length=5000)] = "") -> Response:
    """A note on the timeline from the page."""
    if not note.strip():
        raise Invalid.field("note", "write something")
    incidents.add_note(ctx, incident_id=incident_id, data=NoteCreate(note=note.strip()))
    return _back(incident_id, "timeline")


@router.post("/ops/incidents/{incident_id}/grants")
def grant_form(ctx: Ctx, incident_id: str, agency: Annotated[str, Form(max_length=50)],
               reason: Annotated[str, Form(max_length=1000)] = "", minutes: Annotated[int | None, Form(ge=1)] = None,
               camera_ids: Annotated[list[str] | None, Form()] = None) -> Response:
    """Share the chosen nearby cameras (default: the nearest) with one agency for a limited time."""
    if len(reason.strip()) < 3:
        raise Invalid.field("reason", "at least 3 characters: why the video is shared")
    grants.create_grant(ctx, incident_id=incident_id, data=GrantCreate(
        agency=agency, reason=reason.strip(), minutes=minutes or None, camera_ids=camera_ids or None))
    return _back(incident_id, "grants")


@router.post("/ops/grants/{grant_id}/revoke")
def revoke_form(ctx: Ctx, grant_id: str) -> Response:
    """Revoke a grant from the page: its links stop working at once."""
    grant = grants.revoke_grant(ctx, grant_id=grant_id)
    return _back(grant.incident_id, "grants")


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
