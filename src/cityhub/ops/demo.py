"""The demo city's operations: the four linked agencies with staff sign-ins and API credentials, a few
registered (synthetic) wearables, and the simulated 112/119 rooms playing against the served demo.

Everything is synthetic and idempotent: re-seeding adds only what is missing. The rooms talk to the
demo over HTTP with their agency tokens, exactly as the real rooms' systems would, so their incidents
reach the board, the delivery log and the units' live streams through the same doors.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from cityhub.ctx import RequestContext
from cityhub.ops.models import Incident, ProtectedPerson

log = logging.getLogger("cityhub.ops.demo")
DEMO_PASSWORD = "cityhub-demo"  # the demo's one public password (see cityhub.demo.organizations)
EMAIL_DOMAIN = "demo.cityhub.kr"
# Simulated rooms start this many minutes back (played at once), so the board opens with incidents in every state.
BACKFILL_MINUTES = 120

# Synthetic people only: the names are placeholders, never real persons.
DEMO_PERSONS: tuple[dict[str, Any], ...] = (
    {"device_id": "DEMO-WEAR-0001", "kind": "child", "name": "가상아동 1", "birth_year": 2017,
     "description": "노란 우비, 파란 가방 (synthetic)",
     "guardians": [{"name": "보호자 1", "relation": "부모", "phone": "010-0000-0001"}]},
    {"device_id": "DEMO-WEAR-0002", "kind": "dementia", "name": "가상어르신 2", "birth_year": 1941,
     "description": "회색 점퍼, 보행 보조기 (synthetic)",
     "guardians": [{"name": "보호자 2", "relation": "자녀", "phone": "010-0000-0002"}]},
    {"device_id": "DEMO-WEAR-0003", "kind": "elderly", "name": "가상어르신 3", "birth_year": 1938,
     "description": "synthetic", "guardians": [{"name": "보호자 3", "relation": "배우자", "phone": "010-0000-0003"}]},
)


@dataclass(frozen=True)
class DemoAgencies:
    tokens: dict[str, str]  # agency code -> a fresh API token (the simulated rooms use them)
    staff: dict[str, str]  # agency code -> staff sign-in email (password DEMO_PASSWORD)
    backfill: bool  # no incident lately: the rooms first play the last BACKFILL_MINUTES


def staff_email(code: str) -> str:
    return f"{code}@{EMAIL_DOMAIN}"


def seed_operations(ctx: RequestContext) -> DemoAgencies:
    """The four agencies, a staff sign-in for each, fresh API tokens and the demo wearables. Idempotent."""
    from argon2 import PasswordHasher

    from cityhub.auth.schemas import UserCreate
    from cityhub.auth.service import create_user, get_user_by_email
    from cityhub.errors import NotFound
    from cityhub.ops.service_agencies import ensure_standard_agencies, issue_credentials

    agencies = ensure_standard_agencies(ctx)
    shared_hash: str | None = None
    staff = {}
    for a in agencies:
        email = staff_email(a.code)
        try:
            get_user_by_email(ctx.db, email)
        except NotFound:
            created = create_user(ctx, data=UserCreate(email=email, name=f"{a.name} 상황요원", role="citizen",
                                                       org=a.code))
            shared_hash = shared_hash or PasswordHasher().hash(DEMO_PASSWORD)
            get_user_by_email(ctx.db, created.email).password_hash = shared_hash
        staff[a.code] = email
    tokens = {a.code: issue_credentials(ctx, code=a.code).token for a in agencies}
    known = set(ctx.db.scalars(select(ProtectedPerson.device_id)))
    for p in DEMO_PERSONS:
        if p["device_id"] not in known:
            ctx.db.add(ProtectedPerson(**p))
    ctx.db.flush()
    # The past weeks are seeded closed (demo_history); the rooms backfill today's last hours unless they did lately.
    since = datetime.now(UTC) - timedelta(minutes=BACKFILL_MINUTES)
    quiet = not ctx.db.scalar(select(func.count()).select_from(Incident).where(Incident.created_at >= since))
    return DemoAgencies(tokens=tokens, staff=staff, backfill=quiet)


def start_rooms(base_url: str, agencies: DemoAgencies, *, seed: int = 112, wait_seconds: float = 120.0,
                stop: threading.Event | None = None) -> threading.Thread:
    """Play the 112 and 119 rooms against the demo server once it answers: BACKFILL_MINUTES at once (when
    asked), then one simulated minute per wall-clock minute, for as long as the process lives."""
    from cityhub.ops.simulator import AgencySimulator, HttpRooms

    def play() -> None:
        import httpx

        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        try:
            rooms = HttpRooms(base_url, {"police": agencies.tokens["police-112"],
                                         "fire": agencies.tokens["fire-119"]})
            back = BACKFILL_MINUTES if agencies.backfill else 0
            sim = AgencySimulator(seed=seed, start=datetime.now(UTC) - timedelta(minutes=back))
            minute = 0
            halt = stop or threading.Event()
            while not halt.is_set():  # the backfill at once, then one simulated minute per wall-clock minute
                sim.step(rooms, sim.start + timedelta(minutes=minute))
                minute += 1
                if minute > back:
                    halt.wait(60)
        except Exception:  # the demo keeps serving without its simulated rooms
            log.exception("simulated 112/119 rooms stopped")

    thread = threading.Thread(target=play, name="demo-agency-rooms", daemon=True)
    thread.start()
    return thread
