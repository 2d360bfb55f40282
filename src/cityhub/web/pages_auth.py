"""Signing in and out of the portal with the `cityhub_session` cookie."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from cityhub.auth import service as auth_service
from cityhub.errors import Unauthenticated
from cityhub.http import SESSION_COOKIE, Ctx
from cityhub.web.templating import mark_page, render, safe_next

router = APIRouter(dependencies=[Depends(mark_page)])


@router.get("/user/login")
def login_form(request: Request, next: str | None = None) -> Response:
    """The sign-in form."""
    return render(request, "login.html", next=safe_next(next, ""), email="", failed=False)


@router.post("/user/login")
def login(request: Request, ctx: Ctx, email: str = Form(""), password: str = Form(""),
          next: str = Form("")) -> Response:
    """Check the password, open a session and go back where the visitor was going."""
    try:
        user = auth_service.verify_password(ctx.db, email, password)
    except Unauthenticated:
        return render(request, "login.html", status_code=401, next=safe_next(next, ""), email=email, failed=True)
    raw, expires = auth_service.start_session(ctx.db, user)
    response = RedirectResponse(safe_next(next), status_code=303)
    secure = request.url.scheme == "https"
    response.set_cookie(SESSION_COOKIE, raw, expires=expires, httponly=True, samesite="lax", secure=secure)
    return response


@router.api_route("/user/logout", methods=["GET", "POST"])
@router.api_route("/user/_logout", methods=["GET", "POST"])  # CKAN's address
def logout(request: Request, ctx: Ctx) -> Response:
    """End the session and forget the cookie."""
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        auth_service.end_session(ctx.db, raw)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
