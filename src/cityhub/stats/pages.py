"""Statistics pages (Korean and English): indicator catalog and indicator pages, the SQL workbench,
dashboards (full-screen, auto-refresh, PNG/CSV export) and their embeddable view.

Pages are thin: they call the same services as /api/v1/stats and leave the figures to the browser,
which reads them from that API (so what a page shows is exactly what a notebook gets)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from cityhub.auth import policy
from cityhub.http import Ctx
from cityhub.stats import service_dashboards as dashboards
from cityhub.stats import service_indicators as indicators
from cityhub.web.templating import add_nav, mark_page, page_lang, render

router = APIRouter(dependencies=[Depends(mark_page)], include_in_schema=False)
add_nav("nav.statistics", "/stats", order=40)

TOPICS = {"population": ("인구", "Population"), "ageing": ("고령화", "Ageing"), "vital": ("출생·사망·혼인", "Vital"),
          "economy": ("고용·경제", "Jobs and economy"), "prices": ("물가", "Prices"), "tourism": ("관광", "Tourism"),
          "transport": ("교통", "Transport")}
TEXT = {
    "ko": {"title": "통계", "lead": "국가통계포털(KOSIS)에서 자동 수집한 통계와 시의 데이터로 계산한 지표입니다.",
           "indicators": "지표", "period": "주기", "last": "최근 시점", "updated": "갱신", "source": "출처",
           "unit": "단위", "workbench": "SQL 분석", "dashboards": "대시보드", "P.Y": "연간", "P.Q": "분기",
           "P.M": "월간", "series": "시계열", "compare": "구·군 비교", "districts": "비교할 구·군 (최대 3곳)",
           "district": "구·군", "value": "값", "previous": "1년 전", "change": "증감", "change_pct": "증감률",
           "download": "내려받기", "city": "부산 전체", "definition": "정의", "status.failing":
           "출처 시스템이 응답하지 않아 마지막으로 받은 값을 보여 줍니다.", "last_success": "마지막 수집 성공",
           "run": "실행", "save": "저장", "saved": "저장한 쿼리", "history": "실행 기록",
           "tables": "사용 가능한 테이블",
           "prev": "이전", "next": "다음", "rows": "행", "params": "매개변수", "share": "공유 범위",
           "vis.private": "나만", "vis.shared": "로그인 사용자", "vis.public": "모두", "query_title": "제목",
           "sql_help": "데이터셋 표는 리소스 ID로 부릅니다: SELECT * FROM \"<id>\". :이름 으로 매개변수를 씁니다.",
           "filters": "필터", "from": "시작일", "to": "종료일", "all": "전체", "apply": "적용",
           "refresh": "자동 새로 고침",
           "off": "끔", "fullscreen": "전체 화면", "png": "PNG", "csv": "CSV",
           "no_access": "이 카드의 데이터를 볼 권한이 없습니다.",
           "no_dashboards": "아직 대시보드가 없습니다.", "embed": "다른 사이트에 넣기", "updated_at": "갱신 시각",
           "loading": "불러오는 중…", "capped": "일부만 표시", "builder": "차트 만들기",
           "add_to_board": "대시보드에 넣기", "chart_type": "차트 종류",
           "bucket": "시간 단위", "colour": "색 구분", "agg": "집계", "size": "크기", "time_column": "기간 필터 열",
           "district_column": "구·군 필터 열", "preview": "미리 보기", "type.bar": "막대", "type.line": "선",
           "type.area": "영역", "type.stacked_bar": "누적 막대", "type.pie": "원", "type.scatter": "산점도",
           "type.heatmap": "히트맵", "type.kpi": "핵심 수치", "type.table": "표", "type.choropleth": "구·군 지도",
           "type.points": "지점 지도", "new_board": "새 대시보드", "edit_layout": "배치 편집",
           "editor": "대시보드 편집", "slug": "주소 이름 (영문)", "title_ko": "제목", "title_en": "영문 제목",
           "description": "설명", "description_en": "영문 설명", "cards": "카드", "add_chart": "차트 추가",
           "add_indicator": "지표 추가", "add_text": "글 상자 추가", "width": "너비 (1–12칸)", "height": "높이",
           "up": "위로", "down": "아래로", "remove": "빼기", "text": "글",
           "no_cards": "카드가 없습니다. 아래에서 추가하세요.",
           "vis.link": "링크가 있는 사람", "card.chart": "차트", "card.indicator": "지표", "card.text": "글",
           "saved_ok": "저장했습니다.", "open_board": "대시보드 열기"},
    "en": {"title": "Statistics", "lead": "Statistics collected automatically from KOSIS (Statistics Korea) and "
           "indicators computed from the city's own data.", "indicators": "Indicators", "period": "Period",
           "last": "Latest", "updated": "Updated", "source": "Source", "unit": "Unit", "workbench": "SQL workbench",
           "dashboards": "Dashboards", "P.Y": "Yearly", "P.Q": "Quarterly", "P.M": "Monthly", "series": "Time series",
           "compare": "Districts compared", "districts": "Districts to compare (up to 3)", "district": "District",
           "value": "Value", "previous": "A year before", "change": "Change", "change_pct": "Change %",
           "download": "Download", "city": "Busan (whole city)", "definition": "Definition",
           "status.failing": "The source is not answering; these are the last figures received.",
           "last_success": "Last successful collection", "run": "Run", "save": "Save", "saved": "Saved queries",
           "history": "History", "tables": "Tables you may use", "prev": "Previous", "next": "Next", "rows": "rows",
           "params": "Parameters", "share": "Shared with", "vis.private": "only me", "vis.shared": "signed-in users",
           "vis.public": "everyone", "query_title": "Title",
           "sql_help": "Dataset tables are named by resource id: SELECT * FROM \"<id>\". Use :name for parameters.",
           "filters": "Filters", "from": "From", "to": "To", "all": "All", "apply": "Apply",
           "refresh": "Auto-refresh", "off": "off", "fullscreen": "Full screen", "png": "PNG", "csv": "CSV",
           "no_access": "You have no access to this card's data.", "no_dashboards": "No dashboards yet.",
           "embed": "Embed", "updated_at": "Updated at", "loading": "Loading…", "capped": "partial",
           "builder": "Chart builder",
           "add_to_board": "Add to dashboard", "chart_type": "Chart type", "bucket": "Time bucket",
           "colour": "Colour by",
           "agg": "Aggregation", "size": "Size", "time_column": "Date filter column",
           "district_column": "District filter column", "preview": "Preview", "type.bar": "Bar", "type.line": "Line",
           "type.area": "Area", "type.stacked_bar": "Stacked bar", "type.pie": "Pie", "type.scatter": "Scatter",
           "type.heatmap": "Heatmap", "type.kpi": "KPI figure", "type.table": "Table",
           "type.choropleth": "District map", "type.points": "Point map", "new_board": "New dashboard",
           "edit_layout": "Edit layout", "editor": "Edit dashboard", "slug": "Address name (latin)",
           "title_ko": "Title (Korean)", "title_en": "Title (English)", "description": "Description (Korean)",
           "description_en": "Description (English)", "cards": "Cards", "add_chart": "Add chart",
           "add_indicator": "Add indicator", "add_text": "Add text box", "width": "Width (1–12 columns)",
           "height": "Height", "up": "Up", "down": "Down", "remove": "Remove", "text": "Text",
           "no_cards": "No cards yet. Add some below.", "vis.link": "anyone with the link", "card.chart": "Chart",
           "card.indicator": "Indicator", "card.text": "Text", "saved_ok": "Saved.", "open_board": "Open dashboard"},
}


def _page(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    lang = page_lang(request)
    texts = TEXT.get(lang, TEXT["en"])
    return render(request, f"stats/{name}", status_code=status_code, s=texts, topics=TOPICS,
                  s_json={k: v for k, v in texts.items()}, **context)


@router.get("/stats")
def catalog_page(request: Request, ctx: Ctx, topic: str | None = None) -> Response:
    """The indicator catalog by topic."""
    items = indicators.list_indicators(ctx, topic=topic, limit=1000).items
    grouped: dict[str, list] = {}
    for ind in items:
        grouped.setdefault(ind.topic, []).append(ind)
    boards = dashboards.list_dashboards(ctx, limit=50).items
    return _page(request, "indicators.html", grouped=grouped, dashboards=boards, topic=topic)


@router.get("/stats/indicators/{slug}")
def indicator_page(slug: str, request: Request, ctx: Ctx) -> Response:
    """One indicator: series, district comparison with year-on-year change, downloads."""
    ind = indicators.get_indicator(ctx, slug=slug)
    return _page(request, "indicator.html", ind=ind)


@router.get("/stats/workbench")
def workbench_page(request: Request, ctx: Ctx) -> Response:
    """The SQL workbench (completion, paging, history, saved and shared queries)."""
    return _page(request, "workbench.html")


@router.get("/stats/charts/new")
def chart_builder_page(request: Request, ctx: Ctx) -> Response:
    """The chart builder: a table or saved query, a chart type, columns to axes, colour and size."""
    return _page(request, "chart_builder.html")


@router.get("/stats/dashboards")
def dashboards_page(request: Request, ctx: Ctx) -> Response:
    """Dashboards you may open."""
    return _page(request, "dashboards.html", dashboards=dashboards.list_dashboards(ctx, limit=200).items,
                 can_create=policy.can(ctx, "stats.create"))


@router.get("/stats/dashboards/new")
def new_dashboard_page(request: Request, ctx: Ctx) -> Response:
    """The layout editor for a new dashboard (anyone who may make statistics objects)."""
    policy.require(ctx, "stats.create")
    return _page(request, "dashboard_edit.html", board=None, cards=[])


@router.get("/stats/dashboards/{slug}/edit")
def edit_dashboard_page(slug: str, request: Request, ctx: Ctx) -> Response:
    """The layout editor: cards added, moved, resized and removed; title, sharing and refresh."""
    board = dashboards.to_public(ctx, dashboards.find(ctx, slug, "dashboard.manage"))
    return _page(request, "dashboard_edit.html", board=board, cards=[c.model_dump() for c in board.cards])


@router.get("/stats/dashboards/{slug}")
def dashboard_page(slug: str, request: Request, ctx: Ctx) -> Response:
    """A dashboard: filters across cards, auto-refresh, full screen, card export."""
    d = dashboards.find(ctx, slug)
    board = dashboards.to_public(ctx, d)
    return _page(request, "dashboard.html", board=board, embed=False, api=f"/api/v1/stats/dashboards/{slug}/data",
                 editable=policy.can(ctx, "dashboard.manage", d))


@router.get("/embed/dashboards/{slug}")
def embed_page(slug: str, request: Request, ctx: Ctx) -> Response:
    """The embeddable view (public data only; refused with 403 otherwise)."""
    d = dashboards.embeddable(ctx, slug=slug)
    board = dashboards.to_public(ctx, d)
    response = _page(request, "dashboard.html", board=board, embed=True,
                     api=f"/api/v1/stats/dashboards/{slug}/embed")
    response.headers["Content-Security-Policy"] = "frame-ancestors *"
    return response
