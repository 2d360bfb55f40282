"""The small typed request context every service function receives as `ctx`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from cityhub.bus import InProcessBus, publish_after_commit
from cityhub.settings import Settings

ROLES = ("admin", "steward", "analyst", "operator", "citizen")
# Roles whose holders work for the city and so may read "internal" data.
CITY_STAFF_ROLES = frozenset({"admin", "steward", "analyst", "operator"})


@dataclass(frozen=True)
class Actor:
    """Who is asking. Anonymous visitors are an Actor too, with no user id."""

    user_id: str | None = None
    email: str | None = None
    role: str = "anonymous"
    org_ids: frozenset[str] = frozenset()
    # org_id -> capacity (member, editor, admin)
    capacities: dict[str, str] = field(default_factory=dict)
    city_member: bool = False
    token_id: str | None = None
    scopes: frozenset[str] = frozenset()
    agency: str | None = None

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


ANONYMOUS = Actor()
# The platform acting for itself (CLI commands, seeding, background refreshers): an administrator.
SYSTEM = Actor(user_id="system", email="system@cityhub.local", role="admin", city_member=True)


@dataclass
class RequestContext:
    actor: Actor
    db: Session
    settings: Settings
    bus: InProcessBus
    request_id: str = "-"
    client_ip: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        """Publish an event once the current transaction commits."""
        publish_after_commit(self.db, self.bus, topic, payload)

    def with_actor(self, actor: Actor) -> RequestContext:
        return RequestContext(actor, self.db, self.settings, self.bus, self.request_id, self.client_ip, self.extra)
