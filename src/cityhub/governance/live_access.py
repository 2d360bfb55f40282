"""Who may read which live entity types: an entity type is governed by its `live-<type>` catalog dataset.

Live sensor state is open by default (no dataset, or a public one). When a type's dataset is internal
or restricted, the NGSI-LD door, the temporal API and the live event feeds show that type's entities
only to those who may read the dataset (policy.can_read_dataset), exactly as the catalog does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from cityhub.auth import policy
from cityhub.ctx import RequestContext
from cityhub.db import Base
from cityhub.governance.audit import note
from cityhub.governance.entity_rules import dataset_name

__all__ = ["PublicFeedFilter", "alert_id_patterns", "closed_names", "dataset_name", "governing_type", "hidden_names",
           "hides", "note_reads"]
CLOSED_KEY = "governance.live_closed"  # ctx.extra: this request's non-public live datasets


@dataclass(frozen=True)
class _LiveDataset:
    id: str
    access_level: str
    owner_org_id: str | None


def _closed_live(ctx: RequestContext) -> list[tuple[str, _LiveDataset]]:
    """(name, dataset) of every non-public live dataset, read once per request (fresh each request: an
    access change applies to the next one). One indexed prefix query."""
    cached = ctx.extra.get(CLOSED_KEY)
    if cached is None:
        datasets = Base.metadata.tables["datasets"]
        rows = ctx.db.execute(select(datasets.c.name, datasets.c.id, datasets.c.access_level,
                                     datasets.c.owner_org_id)
                              .where(datasets.c.name.like("live-%"), datasets.c.access_level != "public")).all()
        cached = ctx.extra[CLOSED_KEY] = [(name, _LiveDataset(ds_id, level, org)) for name, ds_id, level, org in rows]
    return cached


def hidden_names(ctx: RequestContext) -> frozenset[str]:
    """Names of the non-public live datasets this actor may not read; empty when every live type is public."""
    return frozenset(name for name, ds in _closed_live(ctx) if not policy.can_read_dataset(ctx, ds))


def note_reads(ctx: RequestContext, entity_types: Iterable[str | None], door: str = "ngsi-ld") -> None:
    """Audit a read of entities whose live dataset is internal or restricted, one entry per dataset, as
    the catalog audits every read of such data (nothing to write when the types read are public)."""
    closed = _closed_live(ctx)
    if not closed:
        return
    read = {dataset_name(t) for t in entity_types if t}
    for name, ds in closed:
        if name in read:
            note(ctx, "dataset.read", resource_kind="dataset", resource_id=ds.id, detail={"door": door})


def hides(names: frozenset[str], entity_type: str | None) -> bool:
    return bool(names) and entity_type is not None and dataset_name(entity_type) in names


def governing_type(entity_id: str, entity_type: str | None) -> str | None:
    """The type whose live dataset governs an entity: its own, except for an Alert raised about another
    entity, which is read under its source's access (urn:ngsi-ld:Alert:<rule>:<SourceType>:<name>), so an
    alert never tells the public what a restricted sensor measured."""
    if entity_type == "Alert":
        parts = str(entity_id).split(":")
        if len(parts) > 5 and parts[:3] == ["urn", "ngsi-ld", "Alert"]:
            return parts[4]
    return entity_type


def alert_id_patterns(hidden_types: Iterable[str]) -> list[str]:
    """LIKE patterns of the Alert ids raised about entities of these types (see `governing_type`)."""
    return [f"urn:ngsi-ld:Alert:%:{t}:%" for t in hidden_types]


def closed_names(db: Any) -> frozenset[str]:
    """Names of every non-public live dataset (what an anonymous listener may not see)."""
    datasets = Base.metadata.tables["datasets"]
    return frozenset(db.scalars(select(datasets.c.name).where(datasets.c.name.like("live-%"),
                                                              datasets.c.access_level != "public")))


def _type_of_id(entity_id: Any) -> str | None:
    # urn:ngsi-ld:<Type>:<name> — the city's id convention (the payload carries ids without types)
    parts = str(entity_id).split(":")
    return parts[2] if len(parts) > 3 and parts[0] == "urn" else None


class PublicFeedFilter:
    """Trims live events for feeds open to anyone: nothing of a type whose live dataset is not public.

    The set of closed types is re-read at most every few seconds (events arrive many times a second)."""

    REFRESH_SECONDS = 3.0

    def __init__(self, session_factory: Callable[[], Any]) -> None:
        self.session_factory = session_factory
        self.names: frozenset[str] = frozenset()
        self.loaded_at = -1e9
        self.lock = threading.Lock()

    def _closed(self) -> frozenset[str]:
        now = time.monotonic()
        if now - self.loaded_at > self.REFRESH_SECONDS:
            with self.lock, self.session_factory() as db:
                self.names, self.loaded_at = closed_names(db), now
        return self.names

    def __call__(self, topic: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """The payload a public listener may get, or None when it may get nothing of it."""
        names = self._closed()
        if not names:
            return payload
        if topic == "observation.batch":
            types = {t: n for t, n in (payload.get("types") or {}).items() if not hides(names, t)}
            if not types:
                return None
            ids = [i for i in payload.get("ids") or [] if not hides(names, _type_of_id(i))]
            return {**payload, "types": types, "ids": ids, "entities": sum(types.values())}
        source_type = payload.get("sourceType") or _type_of_id(payload.get("source"))
        if hides(names, source_type) or source_type is None and payload.get("source"):
            return None
        return payload
