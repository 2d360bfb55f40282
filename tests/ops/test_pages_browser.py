"""An operator acts on an incident from its page in a real browser (Playwright, Debian's Chromium, headless):
signs in, advances the fire one step, shares two nearby cameras with 112, and sees both on the page."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest

from tests.ops.conftest import HAEUNDAE, NGSI, camera, make_world
from tests.web.test_browser import CHROMIUM, LAUNCH_ARGS

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("backend", ["sqlite"])]
API = "/api/v1/ops"


@pytest.fixture
def browser():  # noqa: ANN201
    if not CHROMIUM.exists():  # the incident page needs no vendored script, only the browser
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


def test_operator_advances_and_shares_video_from_the_incident_page(live_server, browser):  # noqa: ANN001
    world = make_world(SimpleNamespace(app=live_server.app), {})
    with httpx.Client(base_url=live_server.url, timeout=30) as c:
        bodies = [camera(i, HAEUNDAE["lon"] + i * 0.0005, HAEUNDAE["lat"]) for i in range(2)]
        assert c.post(f"{NGSI}/entityOperations/upsert", json=bodies,
                      headers=world.operator.headers).status_code in (201, 204)
        inc = c.post(f"{API}/incidents", json={"type": "fire", "location": HAEUNDAE, "description": "상가 화재"},
                     headers=world.headers("fire-119")).json()
    ctx = browser.new_context(locale="ko-KR", viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    page.goto(f"{live_server.url}/ops/incidents/{inc['id']}")
    assert page.url.startswith(f"{live_server.url}/user/login")
    page.fill("#login-email", world.operator.email)
    page.fill("#login-password", "password123")
    page.click("form.form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/ops/incidents/{inc['id']}")
    page.fill("#tr-note", "선착대 현장 도착")
    page.click("button[name=to][value=arrived]")
    page.wait_for_selector("text=선착대 현장 도착")
    assert page.locator("button[name=to][value=operating]").count() == 1  # the next step is offered now
    page.select_option("#grant-agency", "police-112")
    page.fill("#grant-reason", "주변 교통 통제 확인")
    page.fill("#grant-minutes", "20")
    page.click("#grant-form button[type=submit]")
    page.wait_for_selector("text=주변 교통 통제 확인")
    assert page.locator("form[action^='/ops/grants/'] button").count() >= 1
    with httpx.Client(base_url=live_server.url, timeout=30) as c:
        detail = c.get(f"{API}/incidents/{inc['id']}", headers=world.operator.headers).json()
        grants = c.get(f"{API}/incidents/{inc['id']}/video-grants", headers=world.operator.headers).json()["items"]
    assert detail["state"] == "arrived"
    assert any(g["reason"] == "주변 교통 통제 확인" and g["agency"] == "police-112" and len(g["camera_ids"]) == 2
               for g in grants)
    ctx.close()
