"""package_show on its hot path: one indexed lookup, then pre-serialised bytes.

Harvesters and portals call package_show far more than anything else. A public, active dataset's
CKAN dict does not depend on who asks, so its orjson bytes are kept per worker, keyed by the
dataset's modified time: each request still reads the dataset row (one indexed query) and asks the
policy, and any change (metadata, keywords, resources, datastore loads all bump `modified_at`)
makes the next request rebuild. A short lifetime bounds how long an organization's renamed title
can linger. Nothing here is needed for correctness, so several workers (or a restart) are fine.
Datasets that are not public take the full service path, which records non-public reads.
"""

from __future__ import annotations

from time import monotonic

from cityhub.auth import policy
from cityhub.catalog import service
from cityhub.catalog.ckan_actions import NeedsThread
from cityhub.catalog.ckan_envelope import RawJSON
from cityhub.catalog.ckan_shapes import dataset_dict
from cityhub.catalog.refs import DatasetRef
from cityhub.ctx import RequestContext
from cityhub.http import dumps

LIFETIME_SECONDS = 30.0
MAX_ENTRIES = 5_000

# dataset id → (modified stamp, stored at, result bytes)
_cache: dict[str, tuple[str, float, bytes]] = {}

# Plain driver SQL: this lookup runs on every call, and SQLAlchemy's statement building costs more
# than the query itself. `datasets` is the catalog's own table (catalog/models.py).
_LOOKUP = ("SELECT id, name, title, access_level, owner_org_id, state, modified_at FROM datasets "
           "WHERE id = {p} OR name = {p} LIMIT 1")
_LOOKUP_BY_STYLE = {"qmark": _LOOKUP.format(p="?"), "format": _LOOKUP.format(p="%s"),
                    "pyformat": _LOOKUP.format(p="%s")}


def _lookup(ctx: RequestContext, ident: str) -> tuple | None:
    """The dataset's row on a pooled driver connection of its own: the request's session stays unused
    (nothing to commit) when the answer comes from the cache."""
    engine = ctx.db.get_bind()
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(_LOOKUP_BY_STYLE[engine.dialect.paramstyle], (ident, ident))
        row = cursor.fetchone()
        cursor.close()
        return tuple(row) if row is not None else None
    finally:
        raw.close()


def _full(ctx: RequestContext, ident: str) -> RawJSON:
    return RawJSON(dumps(dataset_dict(service.get_dataset(ctx, id_or_name=ident))))


def package_show_json(ctx: RequestContext, ident: str, *, cached_only: bool = False) -> RawJSON:
    """The CKAN dict of one dataset (id or name) as JSON bytes, access-checked on every call.

    With `cached_only` (on the event loop) anything beyond one indexed read raises NeedsThread:
    the full path may write (the audit of non-public reads) and must not stall the loop."""
    row = _lookup(ctx, ident)
    if row is None or row[5] != "active" or row[3] != "public":
        if cached_only:
            raise NeedsThread
        return _full(ctx, ident)  # the service decides: not found, denied (and recorded), or shown
    ds_id, name, title, access_level, owner_org_id, _, modified_at = row
    policy.require(ctx, "dataset.read", DatasetRef(id=ds_id, name=name, title=title, access_level=access_level,
                                                   owner_org_id=owner_org_id))
    stamp = str(modified_at)
    now = monotonic()
    hit = _cache.get(ds_id)
    if hit is not None and hit[0] == stamp and now - hit[1] < LIFETIME_SECONDS:
        return RawJSON(hit[2])
    if cached_only:
        raise NeedsThread
    body = _full(ctx, ds_id)
    if len(_cache) >= MAX_ENTRIES:
        _cache.clear()
    _cache[ds_id] = (stamp, now, bytes(body))
    return body
