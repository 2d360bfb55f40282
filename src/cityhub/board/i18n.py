"""The board's and the projects tracker's words in Korean and English (merged into the portal's catalogs)."""

from __future__ import annotations

from cityhub.web import i18n

MESSAGES: dict[str, dict[str, str]] = {
    "nav.projects": {"ko": "주요 사업", "en": "Major projects"},
    "nav.board": {"ko": "도시 상황판", "en": "City board"},
    "board.title_ops": {"ko": "부산 디지털 시장실", "en": "Busan digital mayor's office"},
    "board.title_city": {"ko": "부산 시민 도시 상황판", "en": "Busan city board for citizens"},
    "board.all_city": {"ko": "부산 전체", "en": "Whole city"},
    "board.district": {"ko": "자치구", "en": "District"},
    "board.live": {"ko": "실시간", "en": "Live"},
    "board.reconnecting": {"ko": "재연결 중", "en": "Reconnecting"},
    "board.stale": {"ko": "자료 지연", "en": "Data stale"},
    "board.updated": {"ko": "갱신", "en": "Updated"},
    "board.safety": {"ko": "재난·안전", "en": "Disaster & safety"},
    "board.traffic": {"ko": "교통", "en": "Traffic"},
    "board.air": {"ko": "대기질", "en": "Air quality"},
    "board.water": {"ko": "수질·하천 수위", "en": "Water & river levels"},
    "board.projects": {"ko": "주요 사업", "en": "Major projects"},
    "board.economy": {"ko": "경제·창업", "en": "Economy & startups"},
    "board.directives": {"ko": "업무 지시", "en": "Directives"},
    "board.map": {"ko": "도시 지도", "en": "City map"},
    "board.close": {"ko": "닫기", "en": "Close"},
    "board.metric": {"ko": "지도 색상 기준", "en": "Map colours by"},
    "board.public_note": {"ko": "공개 자료만 표시합니다 (사건·CCTV 제외).",
                          "en": "Public data only (no incidents or CCTV)."},
    "board.issue_directive": {"ko": "업무 지시", "en": "Issue directive"},
    "board.request_video": {"ko": "영상 요청", "en": "Request video"},
    "projects.title": {"ko": "주요 사업 추진 현황", "en": "Major projects tracker"},
    "projects.intro": {"ko": "부산시 주요 사업의 일정, 공정률, 문서와 관련 기사를 봅니다. "
                             "상태는 마일스톤으로 계산합니다.",
                       "en": "Schedules, progress, documents and news of the city's major projects. "
                             "Status is computed from milestones."},
    "projects.status.on_track": {"ko": "정상", "en": "On track"},
    "projects.status.at_risk": {"ko": "주의", "en": "At risk"},
    "projects.status.delayed": {"ko": "지연", "en": "Delayed"},
    "projects.status.completed": {"ko": "완료", "en": "Completed"},
    "projects.progress": {"ko": "공정률", "en": "Progress"},
    "projects.expected": {"ko": "계획 대비", "en": "Planned"},
    "projects.department": {"ko": "담당 부서", "en": "Department"},
    "projects.officer": {"ko": "담당자", "en": "Officer"},
    "projects.budget": {"ko": "사업비", "en": "Budget"},
    "projects.schedule": {"ko": "사업 기간", "en": "Schedule"},
    "projects.milestones": {"ko": "추진 일정", "en": "Milestones"},
    "projects.documents": {"ko": "문서", "en": "Documents"},
    "projects.news": {"ko": "관련 기사", "en": "Related news"},
    "projects.directives": {"ko": "업무 지시", "en": "Directives"},
    "projects.none": {"ko": "없음", "en": "None"},
    "projects.district": {"ko": "위치", "en": "Location"},
    "projects.upload": {"ko": "문서 올리기", "en": "Upload a document"},
    "projects.update_milestone": {"ko": "진척 입력", "en": "Report progress"},
    "projects.save": {"ko": "저장", "en": "Save"},
    "projects.overdue_days": {"ko": "일 지연", "en": "days overdue"},
    "projects.all": {"ko": "전체", "en": "All"},
    "projects.count": {"ko": "개 사업", "en": "projects"},
}


def register() -> None:
    """Add these words to the portal's message catalogs (once; the catalogs are cached dicts)."""
    for lang in i18n.LANGUAGES:
        catalog = i18n.catalog(lang)
        for key, words in MESSAGES.items():
            catalog.setdefault(key, words[lang])


def words(lang: str) -> dict[str, str]:
    """Every board word in one language, for the page's script."""
    return {key: w.get(lang) or w["ko"] for key, w in MESSAGES.items()}
