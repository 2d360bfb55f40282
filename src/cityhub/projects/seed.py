"""The demo city's 26 major projects, modelled on Busan's flagship works (synthetic figures).

Each gets milestones spread over its schedule with progress set so that the computed status comes out
as planned (most on track, some at risk or delayed, two completed), a news link and its department.
Idempotent: projects that exist are left alone. Also adds the mayor's office and a mayor account.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from cityhub.ctx import RequestContext
from cityhub.projects.models import Project
from cityhub.projects.schemas import LinkCreate, MilestoneCreate, ProjectCreate
from cityhub.projects.service import add_link, create_project, today

# slug, 한국어, English, category, department, district, budget (억 원), start, end, pace
# pace: "on" (as planned), "risk" (a milestone just overran), "late" (one overran by two months), "done"
PROJECTS: tuple[tuple, ...] = (
    ("north-port-phase2", "북항 재개발 2단계", "North Port redevelopment phase 2", "port", "busan-metropolitan-corp",
     "Dong-gu", 42000, "2022-01-01", "2030-12-31", "on"),
    ("eco-delta-city", "에코델타시티 조성", "Eco Delta City", "urban", "busan-metropolitan-corp", "Gangseo-gu",
     66000, "2018-01-01", "2028-12-31", "on"),
    ("gadeok-airport-access", "가덕도신공항 연결도로", "Gadeokdo airport access road", "transport", "transport-bureau",
     "Gangseo-gu", 18000, "2024-01-01", "2029-12-31", "late"),
    ("sasang-hadan-line", "도시철도 사상~하단선", "Metro Sasang–Hadan line", "transport", "busan-transportation-corp",
     "Saha-gu", 6500, "2017-06-01", "2026-12-31", "late"),
    ("mandeok-centum-tunnel", "만덕~센텀 도시고속화도로", "Mandeok–Centum underground expressway", "transport",
     "transport-bureau", "Dongnae-gu", 8200, "2020-09-01", "2026-06-30", "on"),
    ("opera-house", "부산오페라하우스 건립", "Busan Opera House", "culture", "culture-tourism-bureau", "Jung-gu",
     3100, "2018-05-01", "2026-12-31", "risk"),
    ("busan-concert-hall", "부산국제아트센터", "Busan Concert Hall", "culture", "culture-tourism-bureau",
     "Busanjin-gu", 1100, "2020-06-01", "2025-06-30", "done"),
    ("citizens-park-phase2", "부산시민공원 주변 재정비", "Citizens Park surroundings renewal", "environment",
     "environment-bureau", "Busanjin-gu", 2400, "2021-03-01", "2027-12-31", "on"),
    ("nakdong-estuary-eco", "낙동강 하구 생태 복원", "Nakdong estuary ecological restoration", "environment",
     "environment-bureau", "Saha-gu", 1300, "2022-04-01", "2027-03-31", "on"),
    ("smart-city-testbed", "스마트시티 국가시범도시", "National smart city pilot", "smart_city", "smart-city-division",
     "Gangseo-gu", 3800, "2019-01-01", "2027-12-31", "on"),
    ("city-data-platform", "도시데이터 통합 플랫폼", "City data integration platform", "smart_city",
     "smart-city-division", None, 180, "2024-03-01", "2026-12-31", "on"),
    ("public-wifi-expansion", "공공 와이파이 확대", "Public Wi-Fi expansion", "smart_city", "smart-city-division",
     None, 240, "2023-01-01", "2025-12-31", "done"),
    ("haeundae-beach-safety", "해운대 해수욕장 안전 인프라", "Haeundae beach safety infrastructure", "safety",
     "safety-office", "Haeundae-gu", 420, "2024-01-01", "2026-08-31", "on"),
    ("cctv-control-upgrade", "CCTV 통합관제센터 고도화", "CCTV control centre upgrade", "safety", "safety-office",
     None, 350, "2024-06-01", "2026-12-31", "risk"),
    ("flood-defence-oncheon", "온천천 홍수 방어시설", "Oncheon stream flood defences", "safety", "safety-office",
     "Dongnae-gu", 900, "2023-03-01", "2027-06-30", "late"),
    ("fire-station-gijang", "기장 119 안전센터 신축", "Gijang 119 safety centre", "safety", "fire-disaster-hq",
     "Gijang-gun", 160, "2024-02-01", "2026-05-31", "on"),
    ("water-pipe-renewal", "노후 상수관로 교체", "Ageing water main renewal", "environment", "waterworks-hq", None,
     2600, "2021-01-01", "2028-12-31", "risk"),
    ("advanced-water-treatment", "화명정수장 고도정수처리", "Hwamyeong advanced water treatment", "environment",
     "waterworks-hq", "Buk-gu", 1500, "2022-07-01", "2026-12-31", "on"),
    ("seomyeon-road-diet", "서면 보행 중심 도로 재편", "Seomyeon pedestrian-first streets", "transport",
     "transport-bureau", "Busanjin-gu", 310, "2024-04-01", "2026-10-31", "on"),
    ("brt-expansion", "BRT 중앙버스전용차로 확충", "BRT median bus lanes expansion", "transport", "transport-bureau",
     None, 1200, "2022-01-01", "2026-12-31", "risk"),
    ("youth-housing", "청년 공공임대주택 1만호", "10,000 public rental homes for young people", "welfare",
     "welfare-bureau", "Yeonje-gu", 9000, "2023-01-01", "2028-12-31", "on"),
    ("elderly-care-centres", "구립 어르신 돌봄센터", "District elderly care centres", "welfare", "welfare-bureau",
     "Yeongdo-gu", 540, "2024-01-01", "2026-12-31", "on"),
    ("startup-park", "부산 창업타운 조성", "Busan startup town", "economy", "economic-policy", "Haeundae-gu",
     1400, "2023-05-01", "2027-12-31", "on"),
    ("traditional-markets", "전통시장 현대화", "Traditional market modernisation", "economy", "economic-policy",
     "Jung-gu", 380, "2024-01-01", "2026-06-30", "risk"),
    ("tourism-night-routes", "야간관광 특화 코스", "Night tourism routes", "culture", "busan-tourism-org", "Suyeong-gu",
     120, "2024-03-01", "2025-12-31", "on"),
    ("air-monitoring-network", "초미세먼지 측정망 확충", "PM2.5 monitoring network expansion", "environment",
     "busan-health-institute", "Sasang-gu", 95, "2024-01-01", "2026-03-31", "on"),
)

PHASES = (("기본계획", "Master plan"), ("설계", "Design"), ("인허가", "Permits"), ("착공", "Construction start"),
          ("본공사", "Main works"), ("준공", "Completion"))


def _milestones(start: date, end: date, pace: str, day: date) -> list[MilestoneCreate]:
    span = (end - start).days
    bounds = [(start + timedelta(days=span * i // len(PHASES)),
               start + timedelta(days=span * (i + 1) // len(PHASES) - 1)) for i in range(len(PHASES))]
    progress = []
    for s, e in bounds:
        share = 0.0 if day <= s else 1.0 if day >= e else (day - s).days / max((e - s).days, 1)
        progress.append(100 if pace == "done" else round(share * 100))
    current = next((i for i, (_s, e) in enumerate(bounds) if e >= day), len(bounds))
    if pace in ("risk", "late") and current > 0:
        # the milestone before the current one overran: still open, its planned end some days ago
        k = current - 1
        s, _e = bounds[k]
        bounds[k] = (s, max(s + timedelta(days=1), day - timedelta(days=12 if pace == "risk" else 60)))
        progress[k] = 90 if pace == "risk" else 70
    return [MilestoneCreate(title=ko, title_en=en, planned_start=s, planned_end=e, progress=pr,
                            completed_on=e if pr >= 100 else None)
            for (ko, en), (s, e), pr in zip(PHASES, bounds, progress, strict=True)]


def seed_projects(ctx: RequestContext) -> int:
    """Create the demo city's major projects that do not exist yet; returns how many were created."""
    _ensure_mayor(ctx)
    existing = set(ctx.db.scalars(select(Project.slug)))
    day = today()
    created = 0
    for slug, ko, en, category, dept, district, budget, start, end, pace in PROJECTS:
        if slug in existing:
            continue
        s, e = date.fromisoformat(start), date.fromisoformat(end)
        create_project(ctx, data=ProjectCreate(
            slug=slug, title=ko, title_en=en, category=category, department=dept, district=district,
            budget_krw=budget * 100_000_000, start_date=s, end_date=e, officer_name=f"{ko} 담당관",
            officer_contact="051-888-0000", summary=f"{ko} 사업 (합성 데이터).",
            summary_en=f"{en} (synthetic demo data).", milestones=_milestones(s, e, pace, day)))
        add_link(ctx, id_or_slug=slug, data=LinkCreate(
            title=f"{ko} 추진 현황 보도자료", url=f"https://www.busan.go.kr/news/{slug}", source="부산시 보도자료",
            published_on=min(day, e)))
        created += 1
    ctx.db.flush()
    return created


def _ensure_mayor(ctx: RequestContext) -> None:
    """The mayor's office (a department whose head sees the board) and the mayor's demo account."""
    from cityhub.auth.models import Organization, User
    from cityhub.auth.schemas import OrganizationCreate, UserCreate
    from cityhub.auth.service import create_organization, create_user

    if ctx.db.scalar(select(Organization.id).where(Organization.name == "mayors-office")) is None:
        create_organization(ctx, data=OrganizationCreate(
            name="mayors-office", title="시장실", title_en="Mayor's Office", kind="department",
            description="시정 전반을 총괄합니다. · Oversees the city's administration."))
    email = "mayor@demo.cityhub.kr"
    if ctx.db.scalar(select(User.id).where(User.email == email)) is None:
        from cityhub.demo.organizations import DEMO_PASSWORD

        create_user(ctx, data=UserCreate(email=email, name="시장 Mayor", role="analyst", org="mayors-office",
                                         capacity="admin", password=DEMO_PASSWORD))
