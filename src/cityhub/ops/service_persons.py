"""Vulnerable-person support: registered wearables' SOS → the person, their guardians, 112 and cameras.

The registry (name, birth year, description, guardians' contacts) is restricted personal data: only
the protection service registers and reads it, every read is audited, and what leaves cityhub goes
only to the guardians and the agencies of the incident (112, protection), never on the bus.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import func, select

from cityhub.auth import policy
from cityhub.ctx import RequestContext
from cityhub.errors import Conflict, NotFound
from cityhub.governance.audit import note
from cityhub.ops import cameras, deliveries
from cityhub.ops.models import ProtectedPerson
from cityhub.ops.schemas import IncidentCreate, Location
from cityhub.ops.service_agencies import actor_agency, ref
from cityhub.ops.service_incidents import _create


class Guardian(BaseModel):
    name: str
    relation: str | None = None
    phone: str | None = None
    notify_url: str | None = Field(default=None, description="where the guardian's app receives alerts")


class PersonCreate(BaseModel):
    device_id: str = Field(min_length=3, max_length=100)
    kind: str
    name: str = Field(min_length=1, max_length=100)
    birth_year: int | None = None
    description: str | None = Field(default=None, max_length=2000)
    guardians: list[Guardian] = Field(default_factory=list)

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        if v not in ("child", "elderly", "dementia"):
            raise ValueError("child, elderly or dementia")
        return v


class PersonUpdate(BaseModel):
    """A new wearable (device swap), description or the full list of guardians; omitted fields stay."""

    device_id: str | None = Field(default=None, min_length=3, max_length=100)
    description: str | None = Field(default=None, max_length=2000)
    guardians: list[Guardian] | None = None


class SosSignal(BaseModel):
    device_id: str
    location: Location
    battery: float | None = Field(default=None, ge=0, le=1, description="0…1")


def _protection(ctx: RequestContext) -> None:
    agency = actor_agency(ctx)
    policy.require(ctx, "person.register", ref(agency) if agency else None)


def register_person(ctx: RequestContext, *, data: PersonCreate) -> dict[str, Any]:
    """Register a person and their wearable (protection service)."""
    _protection(ctx)
    if ctx.db.scalar(select(ProtectedPerson.id).where(ProtectedPerson.device_id == data.device_id)):
        raise Conflict(f"device {data.device_id} is already registered", details={"device_id": ["already registered"]})
    person = ProtectedPerson(device_id=data.device_id, kind=data.kind, name=data.name, birth_year=data.birth_year,
                             description=data.description, guardians=[g.model_dump() for g in data.guardians])
    ctx.db.add(person)
    ctx.db.flush()
    return {"id": person.id, "device_id": person.device_id, "kind": person.kind}


def _load(ctx: RequestContext, person_id: str) -> ProtectedPerson:
    person = ctx.db.get(ProtectedPerson, person_id)
    if person is None:
        raise NotFound(f"person {person_id} not found")
    return person


def _full(person: ProtectedPerson) -> dict[str, Any]:
    return {"id": person.id, "device_id": person.device_id, "kind": person.kind, "name": person.name,
            "birth_year": person.birth_year, "description": person.description, "guardians": person.guardians,
            "created_at": person.created_at}


def get_person(ctx: RequestContext, *, person_id: str) -> dict[str, Any]:
    """One registered person (protection service; the read is audited)."""
    _protection(ctx)
    person = _load(ctx, person_id)
    note(ctx, "person.read", resource_kind="protected_person", resource_id=person.id)
    return _full(person)


def list_persons(ctx: RequestContext, *, limit: int = 100, offset: int = 0) -> dict[str, Any]:
    """The registry without names or contacts (protection service; audited): id, wearable, kind, guardians count."""
    _protection(ctx)
    rows = ctx.db.scalars(select(ProtectedPerson).order_by(ProtectedPerson.created_at, ProtectedPerson.id)
                          .limit(min(limit, 500)).offset(offset)).all()
    note(ctx, "person.list", resource_kind="protected_person", detail={"count": len(rows)})
    return {"items": [{"id": p.id, "device_id": p.device_id, "kind": p.kind, "guardians": len(p.guardians or [])}
                      for p in rows],
            "total": ctx.db.scalar(select(func.count()).select_from(ProtectedPerson)) or 0}


def update_person(ctx: RequestContext, *, person_id: str, data: PersonUpdate) -> dict[str, Any]:
    """Swap the wearable, change the description or replace the guardians (protection service; audited)."""
    _protection(ctx)
    person = _load(ctx, person_id)
    changed = data.model_dump(exclude_unset=True)
    if data.device_id and data.device_id != person.device_id:
        if ctx.db.scalar(select(ProtectedPerson.id).where(ProtectedPerson.device_id == data.device_id)):
            raise Conflict(f"device {data.device_id} is already registered",
                           details={"device_id": ["already registered to someone else"]})
        person.device_id = data.device_id
    if "description" in changed:
        person.description = data.description
    if data.guardians is not None:
        person.guardians = [g.model_dump() for g in data.guardians]
    ctx.db.flush()
    # The audit names what changed, never the values (they are the personal data).
    note(ctx, "person.update", resource_kind="protected_person", resource_id=person.id,
         detail={"fields": sorted(changed)})
    return _full(person)


def delete_person(ctx: RequestContext, *, person_id: str) -> None:
    """Remove a person from the registry (consent withdrawn); their wearable's SOS is no longer recognised."""
    _protection(ctx)
    person = _load(ctx, person_id)
    ctx.db.delete(person)
    ctx.db.flush()
    note(ctx, "person.delete", resource_kind="protected_person", resource_id=person_id)


def sos(ctx: RequestContext, *, signal: SosSignal) -> dict[str, Any]:
    """A wearable's SOS: a vulnerable-person incident (112 and the protection service are linked to it and
    get the nearest cameras), and every guardian is notified through the outbox."""
    _protection(ctx)
    person = ctx.db.scalar(select(ProtectedPerson).where(ProtectedPerson.device_id == signal.device_id))
    if person is None:
        raise NotFound(f"device {signal.device_id} is not registered")
    note(ctx, "person.sos", resource_kind="protected_person", resource_id=person.id,
         detail={"device": signal.device_id, "battery": signal.battery})
    labels = {"child": "아동", "elderly": "어르신", "dementia": "치매 어르신"}
    battery = f" (battery {round(signal.battery * 100)}%)" if signal.battery is not None else ""
    # The incident itself carries no name: who the person is travels only to guardians and linked agencies.
    inc, _new = _create(ctx, IncidentCreate(type="vulnerable_person", subtype=person.kind, severity="high",
                                            location=signal.location, source_ref=signal.device_id,
                                            description=f"{labels[person.kind]} SOS 착용기기 신호{battery}"),
                        actor_agency(ctx), "agency")
    near = cameras.nearest(ctx, lon=signal.location.lon, lat=signal.location.lat,
                           radius_m=ctx.settings.ops_camera_radius_m, limit=5)
    who = {"name": person.name, "kind": person.kind, "birth_year": person.birth_year,
           "description": person.description}
    notified = 0
    for i, guardian in enumerate(person.guardians or []):
        notified += deliveries.enqueue_direct(
            ctx, target=f"guardian:{person.id}:{i}", endpoint=guardian.get("notify_url"), event="person.sos",
            key=f"{inc.id}:sos:{signal.device_id}:{i}:{inc.reports}", incident_id=inc.id,
            payload={"person": who, "location": signal.location.model_dump(), "battery": signal.battery,
                     "incident_id": inc.id, "message": f"{person.name}님의 SOS 신호가 수신되었습니다."})
    return {"incident": inc.model_dump(mode="json"), "person": who, "guardians_notified": notified,
            "cameras": [c.public().model_dump(mode="json") for c in near]}
