"""The demo city's publishers and people: districts, city departments, public bodies, demo users.

District names and codes are Busan's real ones; the departments and public bodies are modelled on
the city's organisation chart. Every user is a demo account sharing one password.
"""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from sqlalchemy import select

from cityhub.auth.models import Organization, User
from cityhub.auth.schemas import OrganizationCreate, UserCreate
from cityhub.auth.service import create_organization, create_user, get_user_by_email
from cityhub.ctx import RequestContext
from cityhub.demo.districts import District, districts

DEMO_PASSWORD = "cityhub-demo"
EMAIL_DOMAIN = "demo.cityhub.kr"


@dataclass(frozen=True)
class Publisher:
    name: str
    title: str
    title_en: str
    kind: str  # department | public_body | district
    description: str


CITY_PUBLISHERS: tuple[Publisher, ...] = (
    Publisher("transport-bureau", "교통국", "Transportation Bureau", "department",
              "대중교통, 도로, 주차 정책을 담당합니다. · Public transport, roads and parking."),
    Publisher("environment-bureau", "환경국", "Environment Bureau", "department",
              "대기질, 수질, 폐기물, 공원녹지를 담당합니다. · Air and water quality, waste, parks."),
    Publisher("welfare-bureau", "복지국", "Social Welfare Bureau", "department",
              "사회복지시설과 복지급여를 담당합니다. · Welfare facilities and benefits."),
    Publisher("safety-office", "안전총괄실", "Safety Management Office", "department",
              "재난안전, 방범 CCTV, 대피시설을 담당합니다. · Disaster safety, CCTV, shelters."),
    Publisher("economic-policy", "경제정책과", "Economic Policy Division", "department",
              "지역경제, 창업, 전통시장, 지역화폐를 담당합니다. · Local economy, markets, local currency."),
    Publisher("culture-tourism-bureau", "문화관광국", "Culture and Tourism Bureau", "department",
              "문화시설, 축제, 관광지를 담당합니다. · Culture venues, festivals, attractions."),
    Publisher("planning-office", "기획조정실", "Planning and Coordination Office", "department",
              "예산, 인구 통계, 시정 성과를 담당합니다. · Budget, population statistics, performance."),
    Publisher("smart-city-division", "스마트시티추진과", "Smart City Division", "department",
              "도시데이터 플랫폼과 공공 와이파이를 담당합니다. · City data platform and public Wi-Fi."),
    Publisher("fire-disaster-hq", "소방재난본부", "Fire and Disaster Headquarters", "department",
              "화재·구조·구급 출동을 담당합니다. · Fire, rescue and ambulance dispatch."),
    Publisher("waterworks-hq", "상수도사업본부", "Waterworks Headquarters", "department",
              "상수도 공급과 수질 검사를 담당합니다. · Water supply and quality testing."),
    Publisher("busan-transportation-corp", "부산교통공사", "Busan Transportation Corporation", "public_body",
              "부산 도시철도를 운영합니다. · Operates the Busan Metro."),
    Publisher("busan-metropolitan-corp", "부산도시공사", "Busan Metropolitan Corporation", "public_body",
              "공공주택과 도시개발을 맡습니다. · Public housing and urban development."),
    Publisher("busan-facilities-corp", "부산시설공단", "Busan Facilities Corporation", "public_body",
              "도시고속도로, 공영주차장, 공원 시설을 관리합니다. · Urban expressways, public parking, parks."),
    Publisher("busan-tourism-org", "부산관광공사", "Busan Tourism Organization", "public_body",
              "관광 마케팅과 관광시설을 운영합니다. · Tourism marketing and venues."),
    Publisher("busan-health-institute", "보건환경연구원", "Institute of Health and Environment", "public_body",
              "대기·수질 측정과 감염병 검사를 합니다. · Air and water monitoring, disease testing."),
)


def district_publisher(d: District) -> Publisher:
    return Publisher(
        d.slug, d.name_ko, d.name_en, "district",
        f"부산광역시 {d.name_ko} (시군구 코드 {d.code}) · {d.name_en}, Busan (sigungu code {d.code})",
    )


def all_publishers() -> tuple[Publisher, ...]:
    return tuple(district_publisher(d) for d in districts()) + CITY_PUBLISHERS


@dataclass(frozen=True)
class DemoUser:
    email: str
    name: str
    role: str
    org: str | None
    capacity: str = "member"


def demo_users() -> tuple[DemoUser, ...]:
    """An admin, one steward per department or public body, an analyst, an operator and a citizen."""
    users = [DemoUser(f"admin@{EMAIL_DOMAIN}", "관리자 Admin", "admin", None)]
    users += [
        DemoUser(f"steward.{p.name}@{EMAIL_DOMAIN}", f"{p.title} 데이터 담당 (steward)", "steward", p.name, "editor")
        for p in CITY_PUBLISHERS
    ]
    users += [
        DemoUser(f"analyst@{EMAIL_DOMAIN}", "분석가 Analyst", "analyst", "planning-office"),
        DemoUser(f"operator@{EMAIL_DOMAIN}", "상황실 운영자 Operator", "operator", "safety-office"),
        DemoUser(f"citizen@{EMAIL_DOMAIN}", "시민 Citizen", "citizen", None),
    ]
    return tuple(users)


def seed_organizations(ctx: RequestContext) -> int:
    """Create every demo publisher that does not exist yet; returns how many were created."""
    existing = set(ctx.db.scalars(select(Organization.name)))
    created = 0
    for p in all_publishers():
        if p.name in existing:
            continue
        create_organization(ctx, data=OrganizationCreate(
            name=p.name, title=p.title, title_en=p.title_en, kind=p.kind, description=p.description))
        created += 1
    return created


def seed_users(ctx: RequestContext) -> int:
    """Create the demo accounts that do not exist yet; returns how many were created."""
    existing = set(ctx.db.scalars(select(User.email)))
    missing = [u for u in demo_users() if u.email not in existing]
    if not missing:
        return 0
    # argon2 is deliberately slow (~0.1–0.5 s a hash); the accounts share one public demo password,
    # so one hash serves them all.
    shared_hash = PasswordHasher().hash(DEMO_PASSWORD)
    for u in missing:
        created = create_user(ctx, data=UserCreate(email=u.email, name=u.name, role=u.role, org=u.org,
                                                   capacity=u.capacity))
        get_user_by_email(ctx.db, created.email).password_hash = shared_hash
    ctx.db.flush()
    return len(missing)
