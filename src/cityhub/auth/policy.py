"""The one door: every access decision in cityhub is made here.

Services call `require(ctx, "dataset.update", dataset)` before they read or write protected data;
list queries (search, counts, facets, SQL table lists) filter with `visible_dataset_clause` so a
restricted dataset never shows up in a number either. Unknown actions are denied, and a test walks
every declared action to make sure each has a rule.

A "dataset-like" resource is any object with `id`, `access_level` (public | internal | restricted)
and `owner_org_id` attributes; domains pass their own rows, this module never imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, false, or_, select, true

from cityhub.auth.models import AccessGrant, Organization
from cityhub.ctx import CITY_STAFF_ROLES, RequestContext
from cityhub.db import utcnow
from cityhub.errors import Forbidden, Unauthenticated
from cityhub.governance.audit import note

ACCESS_LEVELS = ("public", "internal", "restricted")

Rule = Callable[[RequestContext, Any], bool]
_RULES: dict[str, Rule] = {}
_DECLARED: set[str] = set()


class DatasetLike(Protocol):
    id: str
    access_level: str
    owner_org_id: str | None


def declare(*actions: str) -> None:
    """Domains declare the actions their services check, so the rule-coverage test sees them."""
    _DECLARED.update(actions)


def rule(*actions: str) -> Callable[[Rule], Rule]:
    def register(fn: Rule) -> Rule:
        for action in actions:
            _RULES[action] = fn
            _DECLARED.add(action)
        return fn

    return register


def declared_actions() -> set[str]:
    return set(_DECLARED)


def has_rule(action: str) -> bool:
    return action in _RULES


def can(ctx: RequestContext, action: str, resource: Any = None) -> bool:
    if not _within_dataset_scope(ctx, action, resource):
        return False
    if ctx.actor.is_admin:
        return True
    check = _RULES.get(action)
    return bool(check and check(ctx, resource))


def require(ctx: RequestContext, action: str, resource: Any = None) -> None:
    """Raise Unauthenticated/Forbidden unless the actor may do `action` on `resource`."""
    if can(ctx, action, resource):
        return
    note(ctx, action, outcome="denied", resource_kind=type(resource).__name__.lower() if resource is not None else None,
         resource_id=getattr(resource, "id", None) or (resource if isinstance(resource, str) else None))
    ctx.bus.publish(
        "access.denied",
        {
            "action": action,
            "actor": ctx.actor.user_id,
            "resource": getattr(resource, "id", None),
            "ip": ctx.client_ip,
            "request_id": ctx.request_id,
        },
    )
    if not ctx.actor.is_authenticated:
        raise Unauthenticated(f"sign in to {action.replace('.', ' ')}")
    raise Forbidden(f"not allowed to {action.replace('.', ' ')}")


# --- helpers -----------------------------------------------------------------------------------


def _member_of(ctx: RequestContext, org_id: str | None) -> bool:
    return org_id is not None and org_id in ctx.actor.org_ids


def _can_edit_for(ctx: RequestContext, org_id: str | None) -> bool:
    """Stewards edit for their organizations; org editors/admins too, whatever their role."""
    if not _member_of(ctx, org_id):
        return False
    return ctx.actor.role == "steward" or ctx.actor.capacities.get(org_id or "") in ("editor", "admin")


def _has_grant(ctx: RequestContext, kind: str, resource_id: str) -> bool:
    if not ctx.actor.is_authenticated:
        return False
    who = [AccessGrant.user_id == ctx.actor.user_id]
    if ctx.actor.org_ids:
        who.append(AccessGrant.org_id.in_(ctx.actor.org_ids))
    stmt = select(AccessGrant.id).where(
        AccessGrant.resource_kind == kind,
        AccessGrant.resource_id == resource_id,
        or_(*who),
        or_(AccessGrant.expires_at.is_(None), AccessGrant.expires_at > utcnow()),
    )
    return ctx.db.execute(stmt.limit(1)).first() is not None


def can_read_dataset(ctx: RequestContext, ds: DatasetLike) -> bool:
    if ctx.actor.is_admin or _member_of(ctx, ds.owner_org_id):
        return True
    level = ds.access_level
    if level == "public":
        return True
    if level == "internal" and ctx.actor.city_member:
        return True
    return _has_grant(ctx, "dataset", ds.id)


def visible_dataset_clause(
    ctx: RequestContext, *, id_col: Any, access_col: Any, org_col: Any
) -> ColumnElement[bool]:
    """A WHERE clause keeping only datasets the actor may read (search, counts, facets, lists)."""
    scoped = dataset_scopes(ctx)
    if scoped is not None:
        return and_(id_col.in_(sorted(scoped)), _visible(ctx, id_col=id_col, access_col=access_col, org_col=org_col))
    return _visible(ctx, id_col=id_col, access_col=access_col, org_col=org_col)


def _visible(ctx: RequestContext, *, id_col: Any, access_col: Any, org_col: Any) -> ColumnElement[bool]:
    actor = ctx.actor
    if actor.is_admin:
        return true()
    conds: list[ColumnElement[bool]] = [access_col == "public"]
    if actor.city_member:
        conds.append(access_col == "internal")
    if actor.org_ids:
        conds.append(org_col.in_(sorted(actor.org_ids)))
    if actor.is_authenticated:
        who = [AccessGrant.user_id == actor.user_id]
        if actor.org_ids:
            who.append(AccessGrant.org_id.in_(sorted(actor.org_ids)))
        granted = select(AccessGrant.resource_id).where(
            AccessGrant.resource_kind == "dataset",
            or_(*who),
            or_(AccessGrant.expires_at.is_(None), AccessGrant.expires_at > utcnow()),
        )
        conds.append(and_(access_col != "public", id_col.in_(granted)))
    return or_(*conds) if conds else false()


# --- rules -------------------------------------------------------------------------------------


@rule("dataset.read", "resource.read", "datastore.read", "dataset.download")
def _read_dataset(ctx: RequestContext, ds: DatasetLike) -> bool:
    return ds is not None and can_read_dataset(ctx, ds)


@rule("dataset.create")
def _create_dataset(ctx: RequestContext, org_id: str | None) -> bool:
    return _can_edit_for(ctx, org_id)


@rule("dataset.update", "dataset.delete", "resource.create", "resource.update", "resource.delete",
      "datastore.write", "dataset.grant")
def _edit_dataset(ctx: RequestContext, ds: DatasetLike) -> bool:
    return ds is not None and _can_edit_for(ctx, ds.owner_org_id)


@rule("sql.run")
def _run_sql(ctx: RequestContext, _resource: Any) -> bool:
    # Anyone may run SQL; which tables they reach is filtered by dataset.read per table.
    return True


@rule("organization.read", "user.read_self")
def _open_read(ctx: RequestContext, _resource: Any) -> bool:
    return True


@rule("organization.create", "user.create", "user.list")
def _admin_only(ctx: RequestContext, _resource: Any) -> bool:
    return False  # admins pass before rules are consulted


@rule("organization.update", "organization.member")
def _org_admin(ctx: RequestContext, org_id: str | None) -> bool:
    return _member_of(ctx, org_id) and ctx.actor.capacities.get(org_id or "") == "admin"


@rule("token.create")
def _own_token(ctx: RequestContext, user_id: str | None) -> bool:
    return ctx.actor.is_authenticated and user_id == ctx.actor.user_id


@rule("audit.read")
def _audit_read(ctx: RequestContext, _resource: Any) -> bool:
    return False  # admins only (they pass before rules are consulted)


@rule("staff.read")
def _staff(ctx: RequestContext, _resource: Any) -> bool:
    return ctx.actor.role in CITY_STAFF_ROLES


# --- collection (sources and runs) -------------------------------------------------------------


@rule("source.read")
def _read_sources(ctx: RequestContext, ds: DatasetLike | None) -> bool:
    # Source configs describe the city's systems: staff only, and only for datasets they may read.
    return ctx.actor.role in CITY_STAFF_ROLES and (ds is None or can_read_dataset(ctx, ds))


@rule("source.manage", "source.run")
def _manage_sources(ctx: RequestContext, ds: DatasetLike | None) -> bool:
    return ds is not None and _can_edit_for(ctx, ds.owner_org_id)


# --- real-time context (NGSI-LD) ---------------------------------------------------------------


@rule("context.read")
def _context_read(ctx: RequestContext, _resource: Any) -> bool:
    # Live sensor state is open city data; restricted types go through the catalog link's dataset rules.
    return True


@rule("context.write")
def _context_write(ctx: RequestContext, _resource: Any) -> bool:
    if ctx.settings.context_open_write:
        return True
    return ctx.actor.role in ("operator", "steward") or "context.write" in ctx.actor.scopes


@rule("context.rules")
def _context_rules(ctx: RequestContext, _resource: Any) -> bool:
    # threshold rules decide what becomes an Alert: the control room and data stewards tune them
    return ctx.actor.is_admin or ctx.actor.role in ("operator", "steward")


@rule("context.subscribe")
def _context_subscribe(ctx: RequestContext, _resource: Any) -> bool:
    return ctx.actor.is_authenticated or ctx.settings.context_open_write


# --- governance (standards, schemas, quarantine, personal data) -----------------------------------


@rule("standards.manage")
def _manage_standards(ctx: RequestContext, _resource: Any) -> bool:
    # The city's dictionary of terms and code lists is kept by its data stewards.
    return ctx.actor.role == "steward"


@rule("dataset.govern")
def _govern_dataset(ctx: RequestContext, ds: DatasetLike | None) -> bool:
    # Schema, quarantine, personal-data treatments, versions: the publisher's stewards and editors.
    return ds is not None and _can_edit_for(ctx, ds.owner_org_id)


# --- statistics (indicators, saved queries, charts, dashboards) ---------------------------------


@rule("indicator.read")
def _read_indicator(ctx: RequestContext, source: DatasetLike | None) -> bool:
    # An indicator is read like the dataset its figures come from (grants included).
    return source is not None and can_read_dataset(ctx, source)


@rule("indicator.manage")
def _manage_indicators(ctx: RequestContext, _resource: Any) -> bool:
    return ctx.actor.role == "steward"


@rule("stats.create")
def _create_analysis(ctx: RequestContext, _resource: Any) -> bool:
    # Anyone signed in may keep queries, charts and dashboards; what they show is checked per table.
    return ctx.actor.is_authenticated


@rule("query.read", "chart.read", "dashboard.read")
def _read_analysis(ctx: RequestContext, obj: Any) -> bool:
    # private: the owner; shared: every signed-in user; link/public: anyone holding the link.
    if obj is None:
        return False
    if obj.visibility in ("public", "link"):
        return True
    if obj.visibility == "shared" and ctx.actor.is_authenticated:
        return True
    return ctx.actor.is_authenticated and obj.owner_user_id == ctx.actor.user_id


@rule("query.manage", "chart.manage", "dashboard.manage")
def _manage_analysis(ctx: RequestContext, obj: Any) -> bool:
    return obj is not None and ctx.actor.is_authenticated and obj.owner_user_id == ctx.actor.user_id


# --- integrated operations (incidents, agencies, video, linked services, directives) ----------------
# Operators of the control centre see and do everything; an agency (a member of an organization of
# kind "agency", usually through its service user's token) only for incidents it takes part in, and
# only within its token's scopes. Citizens may report; they see nothing of incidents.


def _ops_operator(ctx: RequestContext) -> bool:
    return ctx.actor.role == "operator"


def _scoped(ctx: RequestContext, scope: str) -> bool:
    """A token with scopes must carry this one; a session (no scopes) keeps the user's rights."""
    return not ctx.actor.scopes or scope in ctx.actor.scopes


def _in_incident(ctx: RequestContext, incident: Any) -> bool:
    orgs = getattr(incident, "agency_org_ids", None) or frozenset()
    return bool(orgs & ctx.actor.org_ids)


@rule("incident.report")
def _incident_report(ctx: RequestContext, agency: Any) -> bool:
    if _ops_operator(ctx):
        return True
    return agency is not None and agency.org_id in ctx.actor.org_ids and _scoped(ctx, "ops.incident.write")


@rule("incident.citizen_report")
def _incident_citizen_report(ctx: RequestContext, _resource: Any) -> bool:
    return ctx.actor.is_authenticated


@rule("incident.read")
def _incident_read(ctx: RequestContext, incident: Any) -> bool:
    return _ops_operator(ctx) or _in_incident(ctx, incident)


@rule("incident.update")
def _incident_update(ctx: RequestContext, incident: Any) -> bool:
    return _ops_operator(ctx) or (_in_incident(ctx, incident) and _scoped(ctx, "ops.incident.write"))


@rule("incident.list", "delivery.read", "agency.read", "directive.list")
def _incident_list(ctx: RequestContext, _resource: Any) -> bool:
    # Lists are filtered to the agency's own rows by the service; citizens get nothing.
    return _ops_operator(ctx) or bool(ctx.actor.org_ids)


@rule("agency.manage")
def _agency_manage(ctx: RequestContext, _resource: Any) -> bool:
    return False  # admins only


@rule("delivery.retry", "camera.sync", "linked.broadcast")
def _ops_operator_only(ctx: RequestContext, _resource: Any) -> bool:
    return _ops_operator(ctx)


MAYORS_OFFICE = "mayors-office"  # the organization (by name) whose members direct the departments


@rule("directive.issue")
def _directive_issue(ctx: RequestContext, _resource: Any) -> bool:
    # The control centre and the mayor's office assign work to departments.
    if _ops_operator(ctx):
        return True
    if not ctx.actor.org_ids:
        return False
    return ctx.db.scalar(select(Organization.id).where(Organization.name == MAYORS_OFFICE,
                                                       Organization.id.in_(ctx.actor.org_ids)).limit(1)) is not None


@rule("camera.read")
def _camera_read(ctx: RequestContext, agency: Any) -> bool:
    # Where the city's cameras are is for the control centre and the linked agencies only.
    return _ops_operator(ctx) or (agency is not None and agency.org_id in ctx.actor.org_ids
                                  and _scoped(ctx, "ops.video"))


@rule("video.grant")
def _video_grant(ctx: RequestContext, incident: Any) -> bool:
    return _ops_operator(ctx) or (_in_incident(ctx, incident) and _scoped(ctx, "ops.video"))


@rule("video.grant.read", "video.revoke")
def _video_grant_own(ctx: RequestContext, agency_org_id: Any) -> bool:
    return _ops_operator(ctx) or (agency_org_id in ctx.actor.org_ids and _scoped(ctx, "ops.video"))


@rule("video.view")
def _video_view(ctx: RequestContext, _resource: Any) -> bool:
    # The signed link is the credential; the service checks signature, expiry, grant and agency, and audits.
    return True


@rule("linked.use")
def _linked_use(ctx: RequestContext, agency: Any) -> bool:
    return _ops_operator(ctx) or (agency is not None and agency.org_id in ctx.actor.org_ids
                                  and _scoped(ctx, "ops.linked"))


@rule("person.register", "person.read")
def _protected_persons(ctx: RequestContext, agency: Any) -> bool:
    # Restricted personal data: the protection service (and admins) only.
    return agency is not None and agency.kind == "protection" and agency.org_id in ctx.actor.org_ids


@rule("directive.read", "directive.update")
def _directive(ctx: RequestContext, department_org_id: Any) -> bool:
    return _ops_operator(ctx) or (department_org_id is not None and department_org_id in ctx.actor.org_ids)


# --- major projects and the city board ------------------------------------------------------------
# Projects: public ones for everyone, internal ones for city staff and the department; the
# responsible department's stewards and editors (org editors/admins) edit. The live board (/ops) is
# for the control-room operators, the mayor's office and department heads (organization admins).


@rule("project.read")
def _project_read(ctx: RequestContext, project: Any) -> bool:
    return project is not None and can_read_dataset(ctx, project)


@rule("project.create")
def _project_create(ctx: RequestContext, department_org_id: str | None) -> bool:
    return _can_edit_for(ctx, department_org_id)


@rule("project.update")
def _project_update(ctx: RequestContext, project: Any) -> bool:
    return project is not None and _can_edit_for(ctx, project.department_org_id)


@rule("board.view")
def _board_view(ctx: RequestContext, _resource: Any) -> bool:
    if ctx.actor.role == "operator":
        return True
    return ctx.actor.city_member and "admin" in ctx.actor.capacities.values()


@rule("board.public")
def _board_public(ctx: RequestContext, _resource: Any) -> bool:
    return True  # the citizens' board shows public data only


# --- dataset-scoped tokens (the data market) --------------------------------------------------------
# A token issued for an approved access request carries `dataset:<id>` scopes: it reads those datasets
# and nothing else — no other dataset (public ones included), no write, whatever its user may do otherwise.

DATASET_SCOPE = "dataset:"
SCOPED_READS = frozenset({"dataset.read", "resource.read", "datastore.read", "dataset.download", "sql.run",
                          "organization.read", "user.read_self", "access.consume"})


def dataset_scopes(ctx: RequestContext) -> frozenset[str] | None:
    """The dataset ids a dataset-scoped token is limited to, or None for an unscoped actor."""
    ids = frozenset(s[len(DATASET_SCOPE):] for s in ctx.actor.scopes if s.startswith(DATASET_SCOPE))
    return ids or None


def _within_dataset_scope(ctx: RequestContext, action: str, resource: Any) -> bool:
    scoped = dataset_scopes(ctx)
    if scoped is None:
        return True
    if action not in SCOPED_READS:
        return False
    if action in ("dataset.read", "resource.read", "datastore.read", "dataset.download"):
        return getattr(resource, "id", None) in scoped
    return True


# --- access requests and usage (the data market) -----------------------------------------------------


@rule("access.request")
def _access_request(ctx: RequestContext, _resource: Any) -> bool:
    # Anyone signed in (a company's or researcher's account) may ask; the publisher decides.
    return ctx.actor.is_authenticated


@rule("access.decide")
def _access_decide(ctx: RequestContext, ds: DatasetLike | None) -> bool:
    return ds is not None and _can_edit_for(ctx, ds.owner_org_id)


@rule("access.consume")
def _access_consume(ctx: RequestContext, request: Any) -> bool:
    # The requester claims the token of an approved request and reads their own usage.
    return request is not None and ctx.actor.is_authenticated and request.requester_user_id == ctx.actor.user_id
