"""HTTP door for lineage (API) and the dataset's lineage and versions page (ko/en)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from cityhub.auth import policy
from cityhub.catalog import service as catalog
from cityhub.governance import lineage, versions
from cityhub.http import Ctx
from cityhub.web.templating import mark_page, page_lang, render

router = APIRouter(tags=["governance"])

TEXT = {
    "ko": {"title": "계보와 버전", "lineage": "데이터 계보", "kind": "종류", "name": "이름", "from": "출발",
           "relation": "관계", "to": "도착", "versions": "버전", "number": "번호", "trigger": "계기",
           "when": "시각", "added": "추가 행", "changed": "변경 행", "removed": "삭제 행", "meta": "바뀐 메타데이터",
           "rows": "행 내려받기", "rollback": "이 버전으로 되돌리기", "none": "없음", "back": "거버넌스 보기",
           "pruned": "보존 규칙에 따라 행 사본이 삭제되어 되돌릴 수 없음",
           "kinds": {"dataset": "데이터셋", "resource": "리소스", "source": "수집원", "run": "수집 실행",
                     "raw": "원본 페이로드", "version": "버전", "query": "저장 쿼리", "chart": "차트",
                     "dashboard": "대시보드", "derived": "파생 데이터셋"}},
    "en": {"title": "Lineage and versions", "lineage": "Lineage", "kind": "Kind", "name": "Name", "from": "From",
           "relation": "Relation", "to": "To", "versions": "Versions", "number": "No.", "trigger": "Trigger",
           "when": "When", "added": "Rows added", "changed": "Rows changed", "removed": "Rows removed",
           "meta": "Metadata changed", "rows": "Download rows", "rollback": "Roll back to this version",
           "none": "none", "back": "Governance view",
           "pruned": "Rows removed by the retention rule: no longer restorable",
           "kinds": {"dataset": "Dataset", "resource": "Resource", "source": "Source", "run": "Collection run",
                     "raw": "Raw payload", "version": "Version", "query": "Saved query", "chart": "Chart",
                     "dashboard": "Dashboard", "derived": "Derived dataset"}},
}


@router.get("/api/v1/governance/datasets/{dataset}/lineage", response_model=lineage.Lineage)
def dataset_lineage(dataset: str, ctx: Ctx) -> lineage.Lineage:
    """Source → raw payload → run → dataset version → dataset → queries, charts, dashboards, derived datasets."""
    return lineage.dataset_lineage(ctx, dataset=dataset)


@router.get("/governance/dataset/{name}/lineage", include_in_schema=False, dependencies=[Depends(mark_page)])
def lineage_page(request: Request, ctx: Ctx, name: str) -> Response:
    """The dataset's lineage graph as tables, and its versions (stewards may roll back)."""
    ds = catalog.get_dataset(ctx, id_or_name=name)
    ref = catalog.get_dataset_ref(ctx, id_or_name=name)
    graph = lineage.dataset_lineage(ctx, dataset=name)
    items, _ = versions.list_versions(ctx, dataset=name, limit=50)
    labels: dict[str, Any] = {n.id: n for n in graph.nodes}
    return render(request, "governance/lineage.html", c=TEXT.get(page_lang(request), TEXT["en"]), ds=ds,
                  graph=graph, labels=labels, versions=items, steward=policy.can(ctx, "dataset.govern", ref),
                  may_download=policy.can(ctx, "dataset.download", ref))
