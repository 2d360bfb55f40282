"""HTTP door for the five linked services under /api/v1/ops/linked and the vulnerable-person registry."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, Field

from cityhub.http import Ctx, ORJSONResponse
from cityhub.ops import service_linked as svc
from cityhub.ops import service_persons as persons
from cityhub.ops.schemas import Location

router = APIRouter(prefix="/api/v1/ops", tags=["ops: linked services"])


class VideoRequest(BaseModel):
    incident_id: str | None = None
    location: Location | None = None
    reason: str = Field(min_length=3, max_length=1000)
    radius_m: float = Field(default=500, gt=0, le=5000)
    usage: str | None = None


class AreaRequest(BaseModel):
    area: dict[str, Any] = Field(description="GeoJSON Polygon or MultiPolygon (lon/lat)")


class Broadcast(BaseModel):
    message: str = Field(min_length=1, max_length=2000)
    incident_id: str | None = None
    area: dict[str, Any] | None = None


@router.post("/linked/112/video", response_class=ORJSONResponse, status_code=201)
def emergency_video(ctx: Ctx, data: VideoRequest) -> Any:
    """112 emergency video: cameras near an incident (or a reported location) granted to 112 for a limited time."""
    return ORJSONResponse(svc.emergency_video(ctx, incident_id=data.incident_id, location=data.location,
                                              reason=data.reason, radius_m=data.radius_m, usage=data.usage),
                          status_code=201)


@router.get("/linked/dispatch/{incident_id}", response_class=ORJSONResponse)
def dispatch(ctx: Ctx, incident_id: str, after: int = 0) -> Any:
    """112/119 emergency dispatch: location, nearby cameras, updates after `after`; 119 also gets access roads
    and hazardous facilities."""
    return svc.dispatch_view(ctx, incident_id=incident_id, after=after)


@router.post("/linked/disaster/area", response_class=ORJSONResponse)
def disaster_area(ctx: Ctx, data: AreaRequest) -> Any:
    """Disaster emergency response: cameras, water-level and rainfall sensors and open incidents inside an area."""
    return svc.disaster_area(ctx, area=data.area)


@router.post("/linked/broadcast", response_class=ORJSONResponse, status_code=202)
def broadcast(ctx: Ctx, data: Broadcast) -> Any:
    """Broadcast an instruction to every agency (disaster room, operators); delivered through the outbox."""
    return ORJSONResponse(svc.broadcast(ctx, message=data.message, incident_id=data.incident_id, area=data.area),
                          status_code=202)


@router.post("/persons", response_class=ORJSONResponse, status_code=201)
def register_person(ctx: Ctx, data: persons.PersonCreate) -> Any:
    """Register a vulnerable person's wearable and guardians (protection service; restricted personal data)."""
    return ORJSONResponse(persons.register_person(ctx, data=data), status_code=201)


@router.get("/persons", response_class=ORJSONResponse)
def list_persons(ctx: Ctx, limit: int = 100, offset: int = 0) -> Any:
    """The registry without names or contacts (protection service; audited)."""
    return persons.list_persons(ctx, limit=limit, offset=offset)


@router.get("/persons/{person_id}", response_class=ORJSONResponse)
def get_person(ctx: Ctx, person_id: str) -> Any:
    """One registered person (protection service; audited)."""
    return persons.get_person(ctx, person_id=person_id)


@router.patch("/persons/{person_id}", response_class=ORJSONResponse)
def update_person(ctx: Ctx, person_id: str, data: persons.PersonUpdate) -> Any:
    """Swap the wearable, change the description or replace the guardians (protection service; audited)."""
    return persons.update_person(ctx, person_id=person_id, data=data)


@router.delete("/persons/{person_id}", status_code=204)
def delete_person(ctx: Ctx, person_id: str) -> Response:
    """Remove a person (consent withdrawn): the wearable's SOS is no longer recognised."""
    persons.delete_person(ctx, person_id=person_id)
    return Response(status_code=204)


@router.post("/linked/sos", response_class=ORJSONResponse, status_code=201)
def sos(ctx: Ctx, data: persons.SosSignal) -> Any:
    """A wearable's SOS: guardians and 112 are notified with the nearest cameras."""
    return ORJSONResponse(persons.sos(ctx, signal=data), status_code=201)
