"""HTTP door for the CCTV registry and video grants: /api/v1/ops/cameras, /grants, /video/<signed token>."""

from __future__ import annotations

import html
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from cityhub.auth import policy
from cityhub.http import Ctx, ORJSONResponse
from cityhub.ops import cameras
from cityhub.ops import service_grants as svc
from cityhub.ops.schemas import GrantCreate, Location

router = APIRouter(prefix="/api/v1/ops", tags=["ops: cameras and video"])


@router.get("/cameras/nearest", response_class=ORJSONResponse)
def nearest(ctx: Ctx, lon: float, lat: float, radius: float = 500, usage: str | None = None,
            limit: int = 20) -> Any:
    """Cameras within `radius` metres of a point, nearest first, optionally of one usage
    (crime_prevention, traffic, disaster, parking)."""
    return {"items": cameras.find_nearest(ctx, location=Location(lon=lon, lat=lat), radius_m=radius, usage=usage,
                                          limit=min(limit, 200))}


@router.post("/cameras/sync", response_class=ORJSONResponse)
def sync(ctx: Ctx) -> Any:
    """Re-read every Camera entity from the context domain into the registry index (operators)."""
    policy.require(ctx, "camera.sync")
    return {"cameras": cameras.sync(ctx)}


@router.post("/incidents/{incident_id}/video-grants", response_class=ORJSONResponse, status_code=201)
def create_grant(ctx: Ctx, incident_id: str, data: GrantCreate) -> Any:
    """Share the incident's nearest cameras (or chosen ones) with one agency, for a limited time."""
    return ORJSONResponse(svc.create_grant(ctx, incident_id=incident_id, data=data).model_dump(mode="json"),
                          status_code=201)


@router.get("/incidents/{incident_id}/video-grants", response_class=ORJSONResponse)
def list_grants(ctx: Ctx, incident_id: str) -> Any:
    """The incident's grants (who, which cameras, why, until when)."""
    return {"items": svc.list_grants(ctx, incident_id=incident_id)}


@router.get("/grants/{grant_id}", response_class=ORJSONResponse)
def get_grant(ctx: Ctx, grant_id: str) -> Any:
    """One grant with its links."""
    return svc.get_grant(ctx, grant_id=grant_id)


@router.delete("/grants/{grant_id}", response_class=ORJSONResponse)
def revoke_grant(ctx: Ctx, grant_id: str) -> Any:
    """Revoke a grant: its links stop working at once."""
    return svc.revoke_grant(ctx, grant_id=grant_id)


@router.get("/video/{token}", response_class=ORJSONResponse)
def open_video(ctx: Ctx, token: str) -> Any:
    """Open a signed video link: the stream URL of the city's video system (audited)."""
    return svc.open_link(ctx, token=token)


@router.get("/video/{token}/snapshot.svg")
def snapshot(ctx: Ctx, token: str) -> Response:
    """A still-snapshot placeholder for the demo (the real one comes from the video system); audited."""
    info = svc.open_link(ctx, token=token, what="snapshot")
    name = html.escape(info["camera_name"] or info["camera_id"])
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="640" height="360" role="img" aria-label="{name}">'
           f'<rect width="640" height="360" fill="#1d2733"/><text x="24" y="48" fill="#e8eef5" font-size="24" '
           f'font-family="sans-serif">{name}</text><text x="24" y="84" fill="#9fb3c8" font-size="16" '
           f'font-family="sans-serif">CCTV 스냅샷 (데모) / snapshot placeholder</text></svg>')
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})
