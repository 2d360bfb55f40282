"""The operations pages' words in Korean and English (merged into the portal's catalogs)."""

from __future__ import annotations

from cityhub.ops.lifecycle import LIFECYCLES, TYPE_LABELS
from cityhub.web import i18n

MESSAGES: dict[str, dict[str, str]] = {
    "nav.ops": {"ko": "통합관제", "en": "Operations"},
    "ops.board": {"ko": "통합관제 상황판", "en": "Operations board"},
    "ops.open_incidents": {"ko": "진행 중인 사건", "en": "Open incidents"},
    "ops.all_incidents": {"ko": "전체 사건", "en": "All incidents"},
    "ops.type": {"ko": "유형", "en": "Type"},
    "ops.state": {"ko": "상태", "en": "State"},
    "ops.severity": {"ko": "심각도", "en": "Severity"},
    "ops.district": {"ko": "자치구", "en": "District"},
    "ops.agencies": {"ko": "연계 기관", "en": "Agencies"},
    "ops.reports": {"ko": "신고 수", "en": "Reports"},
    "ops.received": {"ko": "접수 시각", "en": "Received"},
    "ops.timeline": {"ko": "처리 경과", "en": "Timeline"},
    "ops.who": {"ko": "처리자", "en": "By"},
    "ops.when": {"ko": "시각", "en": "When"},
    "ops.what": {"ko": "내용", "en": "What"},
    "ops.cameras": {"ko": "주변 CCTV (500 m)", "en": "Nearby CCTV (500 m)"},
    "ops.distance": {"ko": "거리", "en": "Distance"},
    "ops.grants": {"ko": "영상 제공 내역", "en": "Video grants"},
    "ops.until": {"ko": "만료", "en": "Until"},
    "ops.reason": {"ko": "사유", "en": "Reason"},
    "ops.next_step": {"ko": "다음 단계", "en": "Next step"},
    "ops.deliveries": {"ko": "기관 전송 기록", "en": "Delivery log"},
    "ops.dead_letters": {"ko": "전송 실패 목록", "en": "Dead letters"},
    "ops.status": {"ko": "전송 상태", "en": "Status"},
    "ops.attempts": {"ko": "시도", "en": "Attempts"},
    "ops.error": {"ko": "마지막 오류", "en": "Last error"},
    "ops.directives": {"ko": "업무 지시", "en": "Directives"},
    "ops.department": {"ko": "담당 부서", "en": "Department"},
    "ops.due": {"ko": "기한", "en": "Due"},
    "ops.overdue": {"ko": "기한 초과", "en": "Overdue"},
    "ops.progress": {"ko": "진행률", "en": "Progress"},
    "ops.event.note": {"ko": "메모", "en": "Note"},
    "ops.event.duplicate": {"ko": "추가 신고", "en": "Another report"},
    "ops.event.grant": {"ko": "영상 제공", "en": "Video shared"},
    "ops.event.instruction": {"ko": "지시 전파", "en": "Instruction"},
    "ops.none": {"ko": "해당 항목이 없습니다.", "en": "Nothing here."},
    "ops.act": {"ko": "상태 변경", "en": "Advance the incident"},
    "ops.move_to": {"ko": "다음 단계로", "en": "Move to"},
    "ops.transition_note": {"ko": "변경 메모 (선택)", "en": "Note with the change (optional)"},
    "ops.add_note": {"ko": "처리 경과 메모", "en": "Add a note to the timeline"},
    "ops.save": {"ko": "저장", "en": "Save"},
    "ops.share": {"ko": "제공", "en": "Share"},
    "ops.grant_video": {"ko": "영상 제공", "en": "Share video"},
    "ops.agency": {"ko": "제공 기관", "en": "Agency"},
    "ops.minutes": {"ko": "제공 시간(분)", "en": "Minutes"},
    "ops.links": {"ko": "영상 링크", "en": "Links"},
    "ops.revoke": {"ko": "제공 철회", "en": "Revoke"},
    "ops.revoked": {"ko": "철회됨", "en": "revoked"},
    "ops.linked": {"ko": "5대 연계 서비스", "en": "The five linked services"},
    "ops.linked.112_video": {"ko": "112 긴급영상 지원", "en": "112 emergency video"},
    "ops.linked.112_dispatch": {"ko": "112 긴급출동 지원", "en": "112 emergency dispatch"},
    "ops.linked.119_dispatch": {"ko": "119 긴급출동 지원", "en": "119 emergency dispatch"},
    "ops.linked.disaster": {"ko": "재난상황 긴급대응 지원", "en": "Disaster emergency response"},
    "ops.linked.vulnerable": {"ko": "사회적 약자 지원", "en": "Vulnerable-person support"},
}
for _type, (_ko, _en) in TYPE_LABELS.items():
    MESSAGES[f"ops.type.{_type}"] = {"ko": _ko, "en": _en}
for _cycle in LIFECYCLES.values():
    for _state in _cycle.states:
        _ko, _en = _cycle.label(_state)
        MESSAGES[f"ops.state.{_cycle.name}.{_state}"] = {"ko": _ko, "en": _en}
for _sev, _ko in (("low", "낮음"), ("medium", "보통"), ("high", "높음"), ("critical", "긴급")):
    MESSAGES[f"ops.severity.{_sev}"] = {"ko": _ko, "en": _sev.capitalize()}


def register() -> None:
    """Add these words to the portal's message catalogs (once; the catalogs are cached dicts)."""
    for lang in i18n.LANGUAGES:
        catalog = i18n.catalog(lang)
        for key, words in MESSAGES.items():
            catalog.setdefault(key, words[lang])
