"""Governance pages (Korean and English): the dashboard ranking organizations by quality, the
standard-term dictionary, and each dataset's governance view (quality, schema and terms, and for its
stewards personal data and the quarantine)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from cityhub.auth import policy
from cityhub.catalog import service as catalog
from cityhub.catalog.schemas import DatasetSearch
from cityhub.governance import dataset_schema, pages_standards, quality_reports, quarantine, standards
from cityhub.http import Ctx
from cityhub.web.templating import add_nav, mark_page, page_lang, render

router = APIRouter(dependencies=[Depends(mark_page)], include_in_schema=False)
router.include_router(pages_standards.router)  # steward forms for terms, code lists and schemas
add_nav("nav.governance", "/governance", order=60)

TEXT = {
    "ko": {"title": "데이터 거버넌스", "ranking": "기관별 품질 순위", "rank": "순위", "org": "기관",
           "datasets": "데이터셋", "average": "평균 점수", "top": "품질 상위 데이터셋", "terms": "표준용어 사전",
           "term_ko": "한글명",
           "term_en": "영문명", "abbr": "영문약어", "domain": "도메인", "type": "데이터 타입", "length": "길이",
           "format": "형식", "search": "검색", "quality": "품질", "dimension": "지표", "score": "점수",
           "history": "점수 이력", "report": "품질 보고서 내려받기 (CSV)", "schema": "스키마와 표준용어",
           "field": "필드", "term": "표준용어", "warning": "경고", "personal": "개인정보",
           "column": "컬럼", "kinds": "유형", "example": "예 (마스킹)", "treatment": "조치", "untreated": "미조치",
           "quarantine": "격리된 행", "line": "행", "errors": "위반 규칙", "none": "없음", "when": "시각",
           "trigger": "계기", "may_public": "공개 가능", "not_public": "미조치 개인정보가 있어 공개할 수 없습니다",
           "completeness": "완전성", "validity": "유효성", "uniqueness": "유일성", "consistency": "일관성",
           "timeliness": "적시성", "metadata": "메타데이터 충실도", "missing": "빠진 메타데이터 (DCAT-AP)",
           "new_term": "표준용어 추가", "edit": "수정",
           "edit_schema": "스키마 편집", "code_lists": "코드 목록"},
    "en": {"title": "Data governance", "ranking": "Organizations by quality", "rank": "Rank", "org": "Organization",
           "datasets": "Datasets", "average": "Average score", "top": "Highest-quality datasets",
           "terms": "Standard terms", "term_ko": "Korean name", "term_en": "English name", "abbr": "Abbreviation",
           "domain": "Domain", "type": "Data type", "length": "Length", "format": "Format", "search": "Search",
           "quality": "Quality", "dimension": "Dimension", "score": "Score", "history": "Score history",
           "report": "Download the quality report (CSV)", "schema": "Schema and standard terms", "field": "Field",
           "term": "Standard term", "warning": "Warning", "personal": "Personal data", "column": "Column",
           "kinds": "Kinds", "example": "Example (masked)", "treatment": "Treatment", "untreated": "untreated",
           "quarantine": "Quarantined rows", "line": "Line", "errors": "Rules broken", "none": "none",
           "when": "When", "trigger": "Trigger", "may_public": "May be public",
           "not_public": "Holds untreated personal data: cannot be made public",
           "completeness": "Completeness", "validity": "Validity", "uniqueness": "Uniqueness",
           "consistency": "Consistency", "timeliness": "Timeliness", "metadata": "Metadata completeness",
           "missing": "Missing metadata (DCAT-AP)", "new_term": "Add a standard term", "edit": "Edit",
           "edit_schema": "Edit the schema", "code_lists": "Code lists"},
}


def _page(request: Request, name: str, **context: Any) -> Response:
    return render(request, f"governance/{name}", c=TEXT.get(page_lang(request), TEXT["en"]), **context)


@router.get("/governance")
def dashboard(request: Request, ctx: Ctx) -> Response:
    """Organizations ranked by quality and the best datasets (within what the visitor may see)."""
    top = catalog.search_datasets(ctx, query=DatasetSearch(sort="quality", limit=20, facets=False, full=False))
    scores = quality_reports.scores_for(ctx, [d.id for d in top.items])
    return _page(request, "dashboard.html", ranking=quality_reports.ranking(ctx), top=top.items, scores=scores)


@router.get("/governance/terms")
def terms(request: Request, ctx: Ctx, q: str | None = None) -> Response:
    """The standard-term dictionary."""
    items, total = standards.list_terms(ctx, q=q, limit=1000)
    return _page(request, "terms.html", terms=items, total=total, q=q or "",
                 steward=policy.can(ctx, "standards.manage"))


@router.get("/governance/dataset/{name}")
def dataset_view(request: Request, ctx: Ctx, name: str) -> Response:
    """A dataset's quality, schema with term mapping, and (stewards) personal data and quarantine."""
    ds = catalog.get_dataset(ctx, id_or_name=name)
    ref = catalog.get_dataset_ref(ctx, id_or_name=name)
    steward = policy.can(ctx, "dataset.govern", ref)
    return _page(request, "dataset.html", ds=ds, score=quality_reports.current(ctx, dataset=name),
                 history=quality_reports.history(ctx, dataset=name, limit=20),
                 schema=dataset_schema.get_schema(ctx, dataset=name), steward=steward,
                 personal=dataset_schema.personal_report(ctx, dataset=name) if steward else None,
                 quarantined=quarantine.list_quarantine(ctx, dataset=name, limit=50) if steward else None,
                 dimensions=("completeness", "validity", "uniqueness", "consistency", "timeliness", "metadata"))
