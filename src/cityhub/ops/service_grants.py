"""Video grants: signed, expiring, single-agency links to cameras' streams for one incident.

cityhub does not stream video. A grant records who shared which cameras with which agency, for which
incident, why and until when; each camera gets a link `/api/v1/ops/video/<token>` whose token is
HMAC-signed with the settings secret and names the grant, the camera and the expiry. Opening it
checks the signature, the expiry, the grant (not revoked, not past its incident plus the margin) and
the viewer (an agency's user may only open its own agency's links), then audits the view and
answers with the video system's stream URL and a still snapshot.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import select, update

from cityhub.auth import policy
from cityhub.ctx import RequestContext
from cityhub.db import utcnow
from cityhub.errors import Conflict, Forbidden, Invalid, NotFound
from cityhub.governance.audit import note
from cityhub.ops import cameras
from cityhub.ops.models import Agency, Incident, IncidentAgency, IncidentEvent, VideoGrant
from cityhub.ops.schemas import GrantCreate, GrantLink, GrantPublic
from cityhub.ops.service_agencies import actor_agency, get_agency


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: str, grant_id: str, camera_id: str, expires: datetime) -> str:
    body = _b64(orjson.dumps({"g": grant_id, "c": camera_id, "e": int(expires.timestamp())}))
    mac = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def verify(secret: str, token: str) -> dict[str, Any]:
    """The token's claims; Forbidden when tampered with or expired."""
    body, _, mac = token.partition(".")
    try:
        expected = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
        ok = hmac.compare_digest(expected, _unb64(mac))
        claims = orjson.loads(_unb64(body)) if ok else None
    except (ValueError, orjson.JSONDecodeError):
        ok, claims = False, None
    if not ok or not isinstance(claims, dict):
        raise Forbidden("video link is invalid (signature does not match)")
    if claims.get("e", 0) < utcnow().timestamp():
        raise Forbidden("video link has expired")
    return claims


def latest_end(ctx: RequestContext, inc: Incident) -> datetime | None:
    """A grant may not outlive its incident's closing plus the margin (None: the incident is open)."""
    if inc.closed_at is None:
        return None
    return inc.closed_at + timedelta(minutes=ctx.settings.ops_grant_margin_minutes)


def _links(ctx: RequestContext, grant: VideoGrant, near: dict[str, float | None]) -> list[GrantLink]:
    secret = ctx.settings.resolved_secret()
    names = {cid: r.name for cid, r in cameras.by_ids(ctx, list(grant.camera_ids)).items()}
    base = ctx.settings.site_url.rstrip("/")
    return [GrantLink(camera_id=cid, camera_name=names.get(cid), distance_m=near.get(cid),
                      url=f"{base}/api/v1/ops/video/{sign(secret, grant.id, cid, grant.expires_at)}")
            for cid in grant.camera_ids]


def _public(ctx: RequestContext, grant: VideoGrant, code: str, near: dict[str, float | None] | None = None,
            links: bool = True) -> GrantPublic:
    return GrantPublic(id=grant.id, incident_id=grant.incident_id, agency=code, camera_ids=list(grant.camera_ids),
                       reason=grant.reason, granted_by=grant.granted_by, created_at=grant.created_at,
                       expires_at=grant.expires_at, revoked_at=grant.revoked_at,
                       links=_links(ctx, grant, near or {}) if links and grant.revoked_at is None else [])


def create_grant(ctx: RequestContext, *, incident_id: str, data: GrantCreate) -> GrantPublic:
    """Share cameras (the given ones, or the nearest to the incident) with one agency for a limited time."""
    from cityhub.ops.service_incidents import _ref

    inc = ctx.db.get(Incident, incident_id)
    if inc is None:
        raise NotFound(f"incident {incident_id} not found")
    target = get_agency(ctx, data.agency)
    policy.require(ctx, "video.grant", _ref(ctx, inc))
    own = actor_agency(ctx)
    if own is not None and own.id != target.id:
        note(ctx, "video.grant", outcome="denied", resource_kind="incident", resource_id=inc.id,
             detail={"asked_for": target.code, "by": own.code})
        raise Forbidden("an agency may only ask for video for itself")
    return grant_cameras(ctx, inc=inc, agency=target, data=data)


def grant_cameras(ctx: RequestContext, *, inc: Incident, agency: Agency, data: GrantCreate) -> GrantPublic:
    """Issue the grant (callers have checked policy): cameras, expiry within the incident's bounds, timeline, audit."""
    now = utcnow()
    minutes = min(data.minutes or ctx.settings.ops_grant_default_minutes, ctx.settings.ops_grant_max_minutes)
    expires = now + timedelta(minutes=minutes)
    end = latest_end(ctx, inc)
    if end is not None:
        if end <= now:
            raise Conflict(f"incident {inc.id} is closed; video can no longer be shared")
        expires = min(expires, end)
    near: dict[str, float | None] = {}
    if data.camera_ids:
        known = cameras.by_ids(ctx, data.camera_ids)
        missing = [c for c in data.camera_ids if c not in known]
        if missing:
            raise Invalid.field("camera_ids", f"unknown cameras: {', '.join(missing[:5])}")
        ids = list(dict.fromkeys(data.camera_ids))
    else:
        found = cameras.nearest(ctx, lon=inc.lon, lat=inc.lat, radius_m=data.radius_m, usage=data.usage,
                                limit=data.limit)
        ids = [c.id for c in found]
        near = {c.id: round(c.distance_m, 1) for c in found}
    grant = VideoGrant(incident_id=inc.id, agency_id=agency.id, camera_ids=ids, reason=data.reason,
                       granted_by=ctx.actor.user_id, created_at=now, expires_at=expires)
    ctx.db.add(grant)
    if ctx.db.get(IncidentAgency, (inc.id, agency.id)) is None:
        ctx.db.add(IncidentAgency(incident_id=inc.id, agency_id=agency.id, role="linked"))
    ctx.db.add(IncidentEvent(incident_id=inc.id, at=now, kind="grant", actor_id=ctx.actor.user_id,
                             actor_label=ctx.actor.email or ctx.actor.user_id, note=data.reason,
                             detail={"agency": agency.code, "cameras": len(ids), "until": expires.isoformat()}))
    ctx.db.flush()
    note(ctx, "video.grant", resource_kind="incident", resource_id=inc.id,
         detail={"grant": grant.id, "agency": agency.code, "cameras": ids, "reason": data.reason,
                 "until": expires.isoformat()})
    return _public(ctx, grant, agency.code, near)


def get_grant(ctx: RequestContext, *, grant_id: str) -> GrantPublic:
    """One grant with fresh links (operators; the agency it was issued to)."""
    grant, agency = _load(ctx, grant_id)
    policy.require(ctx, "video.grant.read", agency.org_id)
    return _public(ctx, grant, agency.code)


def list_grants(ctx: RequestContext, *, incident_id: str) -> list[GrantPublic]:
    """Every grant of an incident (without links)."""
    from cityhub.ops.service_incidents import _ref

    inc = ctx.db.get(Incident, incident_id)
    if inc is None:
        raise NotFound(f"incident {incident_id} not found")
    policy.require(ctx, "incident.read", _ref(ctx, inc))
    own = actor_agency(ctx)
    rows = ctx.db.execute(select(VideoGrant, Agency.code).join(Agency, Agency.id == VideoGrant.agency_id)
                          .where(VideoGrant.incident_id == incident_id).order_by(VideoGrant.created_at)).all()
    return [_public(ctx, g, code, links=False) for g, code in rows if own is None or g.agency_id == own.id]


def _load(ctx: RequestContext, grant_id: str) -> tuple[VideoGrant, Agency]:
    grant = ctx.db.get(VideoGrant, grant_id)
    if grant is None:
        raise NotFound(f"grant {grant_id} not found")
    return grant, ctx.db.get(Agency, grant.agency_id)


def revoke_grant(ctx: RequestContext, *, grant_id: str) -> GrantPublic:
    """End a grant now: its links stop working."""
    grant, agency = _load(ctx, grant_id)
    policy.require(ctx, "video.revoke", agency.org_id)
    if grant.revoked_at is None:
        grant.revoked_at, grant.revoked_by = utcnow(), ctx.actor.user_id
        ctx.db.flush()
        note(ctx, "video.revoke", resource_kind="video_grant", resource_id=grant.id, detail={"agency": agency.code})
    return _public(ctx, grant, agency.code, links=False)


def clip_grants_to_incident(ctx: RequestContext, inc: Incident) -> None:
    """On closing: no grant of this incident lasts past closing plus the margin."""
    end = latest_end(ctx, inc)
    if end is not None:
        ctx.db.execute(update(VideoGrant).where(VideoGrant.incident_id == inc.id, VideoGrant.expires_at > end)
                       .values(expires_at=end))


def open_link(ctx: RequestContext, *, token: str, what: str = "stream") -> dict[str, Any]:
    """Check a video link and audit the view; Forbidden (audited) when tampered, expired, revoked or not yours."""
    try:
        claims = verify(ctx.settings.resolved_secret(), token)
        grant = ctx.db.get(VideoGrant, str(claims.get("g")))
        camera_id = str(claims.get("c"))
        if grant is None or camera_id not in grant.camera_ids:
            raise Forbidden("video link does not match a grant")
        if grant.revoked_at is not None:
            raise Forbidden("video grant was revoked")
        now = utcnow()
        inc = ctx.db.get(Incident, grant.incident_id)
        end = latest_end(ctx, inc) if inc is not None else now
        if grant.expires_at <= now or (end is not None and end <= now):
            raise Forbidden("video grant has expired")
        own = actor_agency(ctx) if ctx.actor.is_authenticated else None
        if own is not None and own.id != grant.agency_id:
            raise Forbidden("this video link was issued to another agency")
    except Forbidden as exc:
        note(ctx, "video.view", outcome="denied", resource_kind="video_link", resource_id=token[:40],
             detail={"reason": exc.message})
        raise
    row = cameras.by_ids(ctx, [camera_id]).get(camera_id)
    note(ctx, "video.view", resource_kind="camera", resource_id=camera_id,
         detail={"grant": grant.id, "incident": grant.incident_id, "what": what})
    base = ctx.settings.site_url.rstrip("/")
    return {"camera_id": camera_id, "camera_name": row.name if row else None, "incident_id": grant.incident_id,
            "grant_id": grant.id, "expires_at": grant.expires_at.isoformat(),
            "stream_url": (row.stream_url if row else None) or f"rtsp://vms.city.local/live/{camera_id}",
            "snapshot_url": f"{base}/api/v1/ops/video/{token}/snapshot.svg"}
