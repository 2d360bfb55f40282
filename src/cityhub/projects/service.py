"""The major-projects tracker: projects with milestones, documents, news links; status from milestones.

Everyone may read public projects; internal ones are for city staff. The responsible department's
stewards and editors (and admins) edit. Every change publishes `project.changed` for the city board.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select

from cityhub.auth import policy
from cityhub.auth.service import get_org
from cityhub.context.districts import district_by_name, district_for
from cityhub.ctx import RequestContext
from cityhub.db import utcnow
from cityhub.errors import Conflict, Invalid, NotFound
from cityhub.projects import status as standing_of
from cityhub.projects.models import Milestone, Project, ProjectDocument, ProjectLink
from cityhub.projects.schemas import (
    STATUSES,
    DocumentPublic,
    LinkPublic,
    MilestoneCreate,
    MilestonePublic,
    MilestoneUpdate,
    ProjectCreate,
    ProjectList,
    ProjectPublic,
    ProjectSummary,
    ProjectUpdate,
)

policy.declare("project.read", "project.create", "project.update")


@dataclass(frozen=True)
class ProjectRef:
    """What the policy needs to decide about a project."""

    id: str
    access_level: str
    owner_org_id: str
    department_org_id: str


def ref(p: Project) -> ProjectRef:
    return ProjectRef(p.id, p.access_level, p.department_org_id, p.department_org_id)


def today() -> date:
    return (utcnow() + timedelta(hours=9)).date()  # the city keeps Korean time


# --- reading -------------------------------------------------------------------------------------


def _visible(ctx: RequestContext) -> Any:
    return policy.visible_dataset_clause(ctx, id_col=Project.id, access_col=Project.access_level,
                                         org_col=Project.department_org_id)


def _load(ctx: RequestContext, id_or_slug: str) -> Project:
    p = ctx.db.get(Project, id_or_slug) or ctx.db.scalar(select(Project).where(Project.slug == id_or_slug))
    if p is None or not policy.can(ctx, "project.read", ref(p)):
        raise NotFound(f"project {id_or_slug!r} not found")  # an internal project's existence never leaks
    return p


def _milestones(ctx: RequestContext, ids: list[str]) -> dict[str, list[Milestone]]:
    out: dict[str, list[Milestone]] = {i: [] for i in ids}
    if ids:
        stmt = select(Milestone).where(Milestone.project_id.in_(ids)).order_by(Milestone.position, Milestone.id)
        for m in ctx.db.scalars(stmt):
            out[m.project_id].append(m)
    return out


def _orgs(ctx: RequestContext, ids: set[str]) -> dict[str, Any]:
    from cityhub.auth.models import Organization  # the core table every domain references

    if not ids:
        return {}
    return {o.id: o for o in ctx.db.scalars(select(Organization).where(Organization.id.in_(ids)))}


def _milestone_public(m: Milestone, day: date) -> MilestonePublic:
    return MilestonePublic(id=m.id, position=m.position, title=m.title, title_en=m.title_en,
                           planned_start=m.planned_start, planned_end=m.planned_end, progress=m.progress,
                           completed_on=m.completed_on, overdue_days=standing_of.overdue_days(m, day),
                           state=standing_of.milestone_state(m, day))


def _public(ctx: RequestContext, p: Project, milestones: list[Milestone], org: Any, *, full: bool = False
            ) -> ProjectPublic:
    day = today()
    st = standing_of.standing(milestones, day)
    out = ProjectPublic(
        id=p.id, slug=p.slug, title=p.title, title_en=p.title_en, summary=p.summary, summary_en=p.summary_en,
        details=p.details if full else None, category=p.category, department=org.name if org else p.department_org_id,
        department_title=org.title if org else None, department_title_en=org.title_en if org else None,
        officer_name=p.officer_name, officer_contact=p.officer_contact, budget_krw=p.budget_krw,
        start_date=p.start_date, end_date=p.end_date, district=p.district, lon=p.lon, lat=p.lat,
        access_level=p.access_level, progress=st.progress, expected_progress=st.expected, status=st.status,
        created_at=p.created_at, updated_at=p.updated_at, can_edit=policy.can(ctx, "project.update", ref(p)))
    if full:
        out.milestones = [_milestone_public(m, day) for m in milestones]
    return out


def get_project(ctx: RequestContext, *, id_or_slug: str) -> ProjectPublic:
    """One project with its milestones, documents and news links."""
    p = _load(ctx, id_or_slug)
    policy.require(ctx, "project.read", ref(p))
    out = _public(ctx, p, _milestones(ctx, [p.id])[p.id], _orgs(ctx, {p.department_org_id}).get(p.department_org_id),
                  full=True)
    docs = ctx.db.scalars(select(ProjectDocument).where(ProjectDocument.project_id == p.id)
                          .order_by(ProjectDocument.uploaded_at))
    out.documents = [_document_public(p, d) for d in docs]
    links = ctx.db.scalars(select(ProjectLink).where(ProjectLink.project_id == p.id)
                           .order_by(ProjectLink.published_on.desc(), ProjectLink.created_at))
    out.links = [LinkPublic(id=k.id, title=k.title, url=k.url, source=k.source, published_on=k.published_on)
                 for k in links]
    return out


def list_projects(ctx: RequestContext, *, status: str | None = None, department: str | None = None,
                  district: str | None = None, q: str | None = None, limit: int = 100,
                  offset: int = 0) -> ProjectList:
    """Projects the actor may see, by status (computed today), department, district or words in the title."""
    if status is not None and status not in STATUSES:
        raise Invalid.field("status", f"one of {', '.join(STATUSES)}")
    conds = [_visible(ctx)]
    if department:
        conds.append(Project.department_org_id == get_org(ctx.db, department).id)
    if district:
        d = district_by_name(district)
        if d is None:
            raise Invalid.field("district", f"no district {district!r}")
        conds.append(Project.district == d.name_en)
    if q:
        like = f"%{q.strip()}%"
        conds.append(Project.title.ilike(like) | Project.title_en.ilike(like) | Project.slug.ilike(like))
    rows = list(ctx.db.scalars(select(Project).where(*conds).order_by(Project.start_date, Project.slug)))
    ms = _milestones(ctx, [p.id for p in rows])
    orgs = _orgs(ctx, {p.department_org_id for p in rows})
    items = [_public(ctx, p, ms[p.id], orgs.get(p.department_org_id)) for p in rows]
    if status:
        items = [i for i in items if i.status == status]
    return ProjectList(items=items[offset:offset + limit], total=len(items))


def summarize_projects(ctx: RequestContext, *, district: str | None = None, top: int = 6) -> ProjectSummary:
    """Counts by status and the largest projects (by budget) with their progress: the board's panel."""
    everything = list_projects(ctx, district=district, limit=10_000)
    by_status = {s: 0 for s in STATUSES}
    for p in everything.items:
        by_status[p.status] += 1
    biggest = sorted(everything.items, key=lambda p: (-(p.budget_krw or 0), p.slug))[:top]
    return ProjectSummary(total=everything.total, by_status=by_status, top=biggest)


# --- writing -------------------------------------------------------------------------------------


def _district(name: str | None, lon: float | None, lat: float | None) -> str | None:
    if name:
        d = district_by_name(name)
        if d is None:
            raise Invalid.field("district", f"no district {name!r}")
        return d.name_en
    if lon is not None and lat is not None:
        return district_for(lon, lat)
    return None


def _refresh(ctx: RequestContext, p: Project, change: str) -> None:
    """Keep the stored progress/status in step (for SQL readers) and tell the board."""
    ctx.db.flush()
    st = standing_of.standing(_milestones(ctx, [p.id])[p.id], today())
    p.progress, p.status, p.updated_at = st.progress, st.status, utcnow()
    ctx.db.flush()
    ctx.publish("project.changed", {"id": p.id, "slug": p.slug, "change": change, "status": st.status,
                                    "progress": st.progress, "district": p.district,
                                    "access_level": p.access_level})


def create_project(ctx: RequestContext, *, data: ProjectCreate) -> ProjectPublic:
    """Register a major project for a department (its stewards and editors, or an admin)."""
    org = get_org(ctx.db, data.department)
    policy.require(ctx, "project.create", org.id)
    if ctx.db.scalar(select(Project.id).where(Project.slug == data.slug)):
        raise Conflict(f"project {data.slug!r} exists", details={"slug": ["already in use"]})
    fields = data.model_dump(exclude={"milestones", "department"})
    fields["district"] = _district(data.district, data.lon, data.lat)
    p = Project(**fields, department_org_id=org.id)
    ctx.db.add(p)
    ctx.db.flush()
    for i, m in enumerate(data.milestones):
        ctx.db.add(Milestone(project_id=p.id, position=i, **m.model_dump()))
    _refresh(ctx, p, "created")
    return get_project(ctx, id_or_slug=p.id)


def _editable(ctx: RequestContext, id_or_slug: str) -> Project:
    p = _load(ctx, id_or_slug)
    policy.require(ctx, "project.update", ref(p))
    return p


def update_project(ctx: RequestContext, *, id_or_slug: str, data: ProjectUpdate) -> ProjectPublic:
    """Change a project's description, schedule, budget or place (the responsible department)."""
    p = _editable(ctx, id_or_slug)
    fields = data.model_dump(exclude_unset=True)
    if "district" in fields or "lon" in fields or "lat" in fields:
        fields["district"] = _district(fields.get("district"), fields.get("lon", p.lon), fields.get("lat", p.lat))
    for key, value in fields.items():
        setattr(p, key, value)
    if p.end_date < p.start_date:
        raise Invalid.field("end_date", "must not be before start_date")
    _refresh(ctx, p, "updated")
    return get_project(ctx, id_or_slug=p.id)


def add_milestone(ctx: RequestContext, *, id_or_slug: str, data: MilestoneCreate) -> ProjectPublic:
    """Add a milestone at the end of the schedule."""
    p = _editable(ctx, id_or_slug)
    position = ctx.db.scalar(select(func.coalesce(func.max(Milestone.position), -1))
                             .where(Milestone.project_id == p.id)) + 1
    ctx.db.add(Milestone(project_id=p.id, position=position, **data.model_dump()))
    _refresh(ctx, p, "milestone")
    return get_project(ctx, id_or_slug=p.id)


def _milestone(ctx: RequestContext, p: Project, milestone_id: str) -> Milestone:
    m = ctx.db.get(Milestone, milestone_id)
    if m is None or m.project_id != p.id:
        raise NotFound(f"milestone {milestone_id} not found in project {p.slug}")
    return m


def update_milestone(ctx: RequestContext, *, id_or_slug: str, milestone_id: str,
                     data: MilestoneUpdate) -> ProjectPublic:
    """Report progress on a milestone (100 % marks it done today unless a completion date is given)."""
    p = _editable(ctx, id_or_slug)
    m = _milestone(ctx, p, milestone_id)
    for key, value in data.model_dump(exclude_unset=True).items():
        setattr(m, key, value)
    if m.planned_end < m.planned_start:
        raise Invalid.field("planned_end", "must not be before planned_start")
    if m.progress >= 100 and m.completed_on is None:
        m.completed_on = today()
    if m.progress < 100 and "completed_on" not in data.model_fields_set:
        m.completed_on = None
    _refresh(ctx, p, "milestone")
    return get_project(ctx, id_or_slug=p.id)


def delete_milestone(ctx: RequestContext, *, id_or_slug: str, milestone_id: str) -> ProjectPublic:
    """Remove a milestone from the schedule."""
    p = _editable(ctx, id_or_slug)
    ctx.db.delete(_milestone(ctx, p, milestone_id))
    _refresh(ctx, p, "milestone")
    return get_project(ctx, id_or_slug=p.id)


def add_link(ctx: RequestContext, *, id_or_slug: str, data: Any) -> LinkPublic:
    """A related news article or press release."""
    p = _editable(ctx, id_or_slug)
    link = ProjectLink(project_id=p.id, title=data.title, url=str(data.url), source=data.source,
                       published_on=data.published_on)
    ctx.db.add(link)
    _refresh(ctx, p, "link")
    return LinkPublic(id=link.id, title=link.title, url=link.url, source=link.source, published_on=link.published_on)


def delete_link(ctx: RequestContext, *, id_or_slug: str, link_id: str) -> None:
    """Remove a news link."""
    p = _editable(ctx, id_or_slug)
    link = ctx.db.get(ProjectLink, link_id)
    if link is None or link.project_id != p.id:
        raise NotFound(f"link {link_id} not found in project {p.slug}")
    ctx.db.delete(link)
    _refresh(ctx, p, "link")


def _document_public(p: Project, d: ProjectDocument) -> DocumentPublic:
    return DocumentPublic(id=d.id, name=d.name, filename=d.filename, mimetype=d.mimetype, size=d.size,
                          sha256=d.sha256, uploaded_at=d.uploaded_at,
                          url=f"/api/v1/projects/{p.slug}/documents/{d.id}/file")
