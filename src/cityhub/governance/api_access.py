"""HTTP door for the data market: terms, access requests, decisions, scoped tokens, usage; and its page."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response

from cityhub.governance import access_requests as market
from cityhub.governance import metering
from cityhub.http import Ctx
from cityhub.web.templating import mark_page, page_lang, render

router = APIRouter(tags=["governance"])
API = "/api/v1/governance"


@router.get(f"{API}/datasets/{{dataset}}/access-terms", response_model=market.AccessTerms)
def access_terms(dataset: str, ctx: Ctx) -> market.AccessTerms:
    """The licence and terms of use to accept before requesting access."""
    return market.terms_of(ctx, dataset=dataset)


@router.post(f"{API}/datasets/{{dataset}}/access-requests", response_model=market.AccessRequestPublic,
             status_code=201)
def request_access(dataset: str, body: market.AccessRequestCreate, ctx: Ctx) -> market.AccessRequestPublic:
    """Request access to an internal or restricted dataset (purpose, period, accepted terms)."""
    return market.request_access(ctx, dataset=dataset, data=body)


@router.get(f"{API}/access-requests/mine", response_model=list[market.AccessRequestPublic])
def my_requests(ctx: Ctx) -> list[market.AccessRequestPublic]:
    """Your requests and their decisions."""
    return market.my_requests(ctx)


@router.get(f"{API}/access-requests/inbox", response_model=list[market.AccessRequestPublic])
def inbox(ctx: Ctx, status: str | None = None) -> list[market.AccessRequestPublic]:
    """Requests for your organizations' datasets (stewards)."""
    return market.inbox(ctx, status=status)


@router.post(f"{API}/access-requests/{{request_id}}/decision", response_model=market.AccessRequestPublic)
def decide(request_id: str, body: market.AccessDecision, ctx: Ctx) -> market.AccessRequestPublic:
    """Approve (grants access until the period ends) or refuse with a reason (the publisher's steward)."""
    return market.decide(ctx, request_id=request_id, data=body)


@router.post(f"{API}/access-requests/{{request_id}}/token", response_model=market.ClaimedToken, status_code=201)
def claim_token(request_id: str, ctx: Ctx) -> market.ClaimedToken:
    """The requester's API token for an approved request (scoped to the dataset, expiring with the period)."""
    return market.claim_token(ctx, request_id=request_id)


@router.get(f"{API}/usage/mine", response_model=list[metering.UsageRow])
def my_usage(ctx: Ctx) -> list[metering.UsageRow]:
    """Requests, rows and bytes you drew, per dataset."""
    return metering.my_usage(ctx)


@router.get(f"{API}/datasets/{{dataset}}/usage", response_model=list[metering.UsageRow])
def dataset_usage(dataset: str, ctx: Ctx) -> list[metering.UsageRow]:
    """Requests, rows and bytes each consumer drew from the dataset (its publisher's stewards)."""
    return metering.dataset_usage(ctx, dataset=dataset)


TEXT = {
    "ko": {"title": "데이터 이용 신청", "mine": "내 신청", "inbox": "받은 신청 (제공 기관)", "dataset": "데이터셋",
           "purpose": "목적", "period": "기간", "status": "상태", "reason": "사유", "usage": "내 이용량",
           "requests": "요청", "rows": "행", "bytes": "바이트", "none": "없음", "requester": "신청자",
           "statuses": {"pending": "검토 중", "approved": "승인", "refused": "거절"}, "approve": "승인",
           "refuse": "거절"},
    "en": {"title": "Data access requests", "mine": "My requests", "inbox": "Requests received (publisher)",
           "dataset": "Dataset", "purpose": "Purpose", "period": "Period", "status": "Status", "reason": "Reason",
           "usage": "My usage", "requests": "Requests", "rows": "Rows", "bytes": "Bytes", "none": "none",
           "requester": "Requester", "statuses": {"pending": "pending", "approved": "approved", "refused": "refused"},
           "approve": "Approve", "refuse": "Refuse"},
}


@router.get("/governance/access", include_in_schema=False, dependencies=[Depends(mark_page)])
def access_page(request: Request, ctx: Ctx) -> Response:
    """Both sides of the market: your requests and usage; the requests your organizations received."""
    signed_in = ctx.actor.is_authenticated
    return render(request, "governance/access.html", c=TEXT.get(page_lang(request), TEXT["en"]),
                  signed_in=signed_in, mine=market.my_requests(ctx) if signed_in else [],
                  usage=metering.my_usage(ctx) if signed_in else [],
                  inbox=market.inbox(ctx) if signed_in else [])


def install(app: FastAPI) -> None:
    """Meter datastore, download and CKAN datastore reads (one ASGI hook, no change to those paths)."""
    app.add_middleware(metering.UsageMeterMiddleware, owner=app)
