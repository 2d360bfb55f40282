"""Tables of integrated operations: incidents and their timelines, agencies and deliveries,
camera index, video grants, vulnerable-person registry and directives.

Incidents keep a point (lon/lat) and the district; agencies are API clients linked to an
organization of kind "agency" (whose members, including the agency's service user, act for it).
What must reach an agency is first written to `ops_deliveries` (the outbox) in the incident's
transaction; `cityhub.outbox` delivers it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cityhub.db import Base, UTCDateTime, utcnow
from cityhub.outbox import OutboxColumns


def new_id() -> str:
    return str(uuid.uuid4())


class Agency(Base):
    __audited__ = True
    __tablename__ = "ops_agencies"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(50), unique=True)  # police-112, fire-119, disaster-room, protection
    kind: Mapped[str] = mapped_column(String(20))  # police | fire | disaster | protection
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    service_user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    webhook_url: Mapped[str | None] = mapped_column(Text)
    webhook_secret: Mapped[str] = mapped_column(String(100))
    scopes: Mapped[str] = mapped_column(Text, default="")
    incident_types: Mapped[list] = mapped_column(JSON, default=list)  # which incidents it is linked to
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Incident(Base):
    __tablename__ = "ops_incidents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    type: Mapped[str] = mapped_column(String(30))
    subtype: Mapped[str | None] = mapped_column(String(30))
    lifecycle: Mapped[str] = mapped_column(String(20))  # fire | generic
    state: Mapped[str] = mapped_column(String(30))
    severity: Mapped[str] = mapped_column(String(10), default="medium")
    source: Mapped[str] = mapped_column(String(20))  # agency | sensor | citizen | operator
    source_ref: Mapped[str | None] = mapped_column(String(200))  # the caller's id (119 call no., alert id)
    reporting_agency_id: Mapped[str | None] = mapped_column(ForeignKey("ops_agencies.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(300))
    district: Mapped[str | None] = mapped_column(String(64))
    duplicate_of: Mapped[str | None] = mapped_column(ForeignKey("ops_incidents.id", ondelete="SET NULL"))
    reports: Mapped[int] = mapped_column(Integer, default=1)  # this report plus linked duplicates
    created_by: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_ops_incidents_type_created", "type", "created_at"),
        # The duplicate check's range on latitude: without it every open incident of the type in the window
        # was read (a linear cost per report at sustained load).
        Index("ix_ops_incidents_type_lat", "type", "lat"),
        Index("ix_ops_incidents_state", "state"),
        Index("ix_ops_incidents_created", "created_at"),
    )


class IncidentEvent(Base):
    """One line of an incident's timeline: who did what, when."""

    __tablename__ = "ops_incident_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("ops_incidents.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(20))  # created | state | note | duplicate | grant | instruction
    from_state: Mapped[str | None] = mapped_column(String(30))
    to_state: Mapped[str | None] = mapped_column(String(30))
    actor_id: Mapped[str | None] = mapped_column(String(36))
    actor_label: Mapped[str | None] = mapped_column(String(320))  # an email or an agency code
    note: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict | None] = mapped_column(JSON, nullable=True)


class IncidentAgency(Base):
    """Which agencies take part in an incident (the reporter and those it is linked to)."""

    __tablename__ = "ops_incident_agencies"

    incident_id: Mapped[str] = mapped_column(ForeignKey("ops_incidents.id", ondelete="CASCADE"), primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("ops_agencies.id", ondelete="CASCADE"), primary_key=True,
                                           index=True)
    role: Mapped[str] = mapped_column(String(20), default="linked")  # reporter | linked


class Delivery(OutboxColumns, Base):
    """A message promised to an agency (or a guardian): the outbox row, then the delivery log."""

    __tablename__ = "ops_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    target: Mapped[str] = mapped_column(String(100), index=True)  # agency code or guardian:<person>
    agency_id: Mapped[str | None] = mapped_column(ForeignKey("ops_agencies.id", ondelete="CASCADE"))
    incident_id: Mapped[str | None] = mapped_column(String(36), index=True)
    event: Mapped[str] = mapped_column(String(40))
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    endpoint: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict] = mapped_column(JSON)
    # delivery state from OutboxColumns; status: pending | done | dead | no_endpoint

    __table_args__ = (Index("ix_ops_deliveries_status_next", "status", "next_attempt_at"),)


class InboundRequest(Base):
    """An agency request seen before (Idempotency-Key): a replay gets the first answer."""

    __tablename__ = "ops_inbound_requests"

    actor_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[Any] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CameraCell(Base):
    """The camera registry's spatial index: Camera entities of the context domain, by grid cell."""

    __tablename__ = "ops_camera_cells"

    camera_id: Mapped[str] = mapped_column(String(512), primary_key=True)
    cell: Mapped[int] = mapped_column(Integer, index=True)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    usage: Mapped[str | None] = mapped_column(String(30))
    name: Mapped[str | None] = mapped_column(String(200))
    district: Mapped[str | None] = mapped_column(String(64))
    stream_url: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CameraIndexState(Base):
    """One row: a new token each time the camera index changes, so every process's in-memory snapshot of
    the index (`cameras.Snapshot`) knows when to reload."""

    __tablename__ = "ops_camera_index_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(36))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class VideoGrant(Base):
    __audited__ = True
    __tablename__ = "ops_video_grants"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    incident_id: Mapped[str] = mapped_column(ForeignKey("ops_incidents.id", ondelete="CASCADE"), index=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("ops_agencies.id", ondelete="CASCADE"), index=True)
    camera_ids: Mapped[list] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text)
    granted_by: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(36))


class ProtectedPerson(Base):
    """A registered vulnerable person (child, elderly, dementia) and the wearable that can raise SOS.
    Restricted personal data: read only through the SOS flow and by the protection service."""

    __audited__ = True
    __tablename__ = "ops_protected_persons"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    device_id: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # child | elderly | dementia
    name: Mapped[str] = mapped_column(String(100))
    birth_year: Mapped[int | None] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)  # clothing, medical notes
    guardians: Mapped[list] = mapped_column(JSON, default=list)  # [{name, phone, relation, notify_url}]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Directive(Base):
    __audited__ = True
    __tablename__ = "ops_directives"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str | None] = mapped_column(Text)
    incident_id: Mapped[str | None] = mapped_column(ForeignKey("ops_incidents.id", ondelete="SET NULL"))
    project_ref: Mapped[str | None] = mapped_column(String(200))
    department_org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    state: Mapped[str] = mapped_column(String(20), default="issued")  # issued|acknowledged|in_progress|completed
    progress: Mapped[int] = mapped_column(Integer, default=0)
    issued_by: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DirectiveNote(Base):
    __tablename__ = "ops_directive_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    directive_id: Mapped[str] = mapped_column(ForeignKey("ops_directives.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    author_id: Mapped[str | None] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(20))  # acknowledged | progress | completed
    text: Mapped[str | None] = mapped_column(Text)
    progress: Mapped[int | None] = mapped_column(Integer)

