"""Pages of the data market and versions that change things (ko/en): the public listing of offered
datasets, the request form with the licence and terms of use, a steward's approve/refuse buttons, and
roll-back from the lineage page. Each calls the same service as the API and returns to the page it came from."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from cityhub.governance import access_requests as market
from cityhub.governance import versions
from cityhub.http import Ctx
from cityhub.web.templating import mark_page, page_lang, render

router = APIRouter(dependencies=[Depends(mark_page)], include_in_schema=False)

TEXT = {
    "ko": {"title": "데이터 이용 신청", "license": "이용허락", "terms": "이용 약관", "purpose": "이용 목적",
           "organization": "기업·기관", "start": "시작일", "end": "종료일",
           "accept": "이용허락과 약관을 읽었고 동의합니다",
           "submit": "신청하기", "level": "공개 수준", "publisher": "제공 기관"},
    "en": {"title": "Request access to data", "license": "Licence", "terms": "Terms of use", "purpose": "Purpose",
           "organization": "Company or institute", "start": "From", "end": "Until",
           "accept": "I have read and accept the licence and terms of use", "submit": "Send the request",
           "level": "Access level", "publisher": "Publisher"},
}


MARKET = {
    "ko": {"title": "데이터 마켓", "intro": "신청하면 이용할 수 있는 내부·제한 데이터입니다. 이용허락과 약관을 "
                                        "읽은 뒤 목적과 기간을 적어 신청하면 제공 기관이 검토합니다.",
           "dataset": "데이터셋", "publisher": "제공 기관", "level": "공개 수준", "license": "이용허락",
           "terms": "이용 약관", "request": "이용 신청", "none": "신청할 수 있는 데이터가 없습니다.",
           "mine": "내 신청과 이용량", "levels": {"internal": "내부", "restricted": "제한"}},
    "en": {"title": "Data market", "intro": "Internal and restricted data you may use on request. Read the licence "
                                            "and terms of use, then state your purpose and period; the publisher "
                                            "reviews the request.",
           "dataset": "Dataset", "publisher": "Publisher", "level": "Access level", "license": "Licence",
           "terms": "Terms of use", "request": "Request access", "none": "No dataset is offered yet.",
           "mine": "My requests and usage", "levels": {"internal": "internal", "restricted": "restricted"}},
}


@router.get("/governance/market")
def market_listing(request: Request, ctx: Ctx) -> Response:
    """The public listing of datasets offered on request, each with its licence and terms of use."""
    lang = page_lang(request)
    offers = [(ds, terms, terms.terms.get(lang, terms.terms["en"])) for ds, terms in market.offered_datasets(ctx)]
    return render(request, "governance/market.html", c=MARKET.get(lang, MARKET["en"]), offers=offers,
                  signed_in=ctx.actor.is_authenticated)


@router.get("/governance/access/request/{dataset}")
def request_form(request: Request, ctx: Ctx, dataset: str) -> Response:
    """The licence and terms of use, then the request form (purpose and period)."""
    terms = market.terms_of(ctx, dataset=dataset)
    lang = page_lang(request)
    return render(request, "governance/access_request.html", c=TEXT.get(lang, TEXT["en"]), terms=terms,
                  terms_text=terms.terms.get(lang, terms.terms["en"]), today=date.today().isoformat())


@router.post("/governance/access/request/{dataset}")
def request_submit(ctx: Ctx, dataset: str, purpose: str = Form(...), organization: str = Form(""),
                   period_start: date = Form(...), period_end: date = Form(...), accept_terms: bool = Form(False),
                   terms_version: str = Form(...)) -> Response:
    """Send the request; back to the market page."""
    market.request_access(ctx, dataset=dataset, data=market.AccessRequestCreate(
        purpose=purpose, organization=organization or None, period_start=period_start, period_end=period_end,
        accept_terms=accept_terms, terms_version=terms_version))
    return RedirectResponse("/governance/access", status_code=303)


@router.post("/governance/access/{request_id}/decide")
def decide(ctx: Ctx, request_id: str, approve: bool = Form(...), reason: str = Form("")) -> Response:
    """A steward approves or refuses from the market page."""
    market.decide(ctx, request_id=request_id, data=market.AccessDecision(approve=approve, reason=reason or None))
    return RedirectResponse("/governance/access", status_code=303)


@router.post("/governance/dataset/{name}/versions/{number}/rollback")
def rollback(ctx: Ctx, name: str, number: int) -> Response:
    """A steward rolls back from the lineage page."""
    versions.rollback(ctx, dataset=name, number=number)
    return RedirectResponse(f"/governance/dataset/{name}/lineage", status_code=303)
