"""The city board in a real browser (Playwright driving Debian's Chromium against the real server).

An operator watches /ops: the board renders without console errors; a fire reported through the API is
on the map and in the safety panel within 2 s; tapping it opens the drawer with its timeline; a district
filter changes every panel; the public /city board shows nothing restricted; after a server restart the
page reconnects and keeps drawing new incidents. Screenshots land in test-artifacts/board/.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from cityhub.app import create_app
from tests.board.conftest import fire, seed_city
from tests.conftest import LiveServer, People
from tests.web.test_browser import CHROMIUM, LAUNCH_ARGS, _require_browser, _watch_console

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "board"
pytestmark = [pytest.mark.browser, pytest.mark.parametrize("backend", ["sqlite"])]
WALL = {"width": 1920, "height": 1080}


@pytest.fixture
def browser():  # noqa: ANN201
    _require_browser()
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


def _operator(server: LiveServer) -> object:
    people = People(server.app)  # the demo organizations (safety-office among them) are already seeded
    return people.user("op@city.test", role="operator", org="safety-office")


def _room_119(server: LiveServer) -> dict[str, str]:
    """The 119 fire room's API credentials (its dispatch system reports through the operations API)."""
    from cityhub.cli import system_ctx
    from cityhub.ops.service_agencies import ensure_standard_agencies, issue_credentials

    with system_ctx(server.app.state.settings) as ctx:
        ensure_standard_agencies(ctx)
        token = issue_credentials(ctx, code="fire-119").token
        ctx.db.commit()
    return {"Authorization": f"Bearer {token}"}


def _login(context, base: str, email: str) -> None:  # noqa: ANN001
    r = context.request.post(f"{base}/user/login", form={"email": email, "password": "password123"}, max_redirects=0)
    assert r.status in (302, 303), r.text()


def _panel_texts(page) -> dict[str, str]:  # noqa: ANN001
    return page.eval_on_selector_all(".panel", "els => Object.fromEntries(els.map(e => [e.id, e.innerText]))")


def test_operator_board_live_incident_drawer_and_district_filter(live_server, browser) -> None:  # noqa: ANN001
    seed_city(live_server.app.state.settings, stats=True)
    op = _operator(live_server)
    problems: list[str] = []
    context = browser.new_context(locale="ko-KR", viewport=WALL)
    _login(context, live_server.url, op.email)
    page = context.new_page()
    _watch_console(page, problems)
    page.goto(f"{live_server.url}/ops")
    page.wait_for_selector("body[data-ready='1']", timeout=15000)
    page.wait_for_function("document.querySelector('#conn').textContent.includes('실시간')", timeout=10000)
    assert page.locator("#open-incidents").inner_text() == "0"
    page.screenshot(path=str(ARTIFACTS / "ops-1920.png"))

    # a fire reported by the 119 room's system through the API reaches the map and the safety panel live (no
    # reload). How fast is a number, measured by benchmarks/bench_board.py (event to pixel); waits here are only
    # generous bounds.
    r = httpx.post(f"{live_server.url}/api/v1/ops/incidents", json=fire(), headers=_room_119(live_server))
    assert r.status_code == 201, r.text
    incident = r.json()
    page.wait_for_selector(f".inc-marker[data-incident='{incident['id']}']", timeout=15000)
    page.wait_for_function("document.querySelector('#open-incidents').textContent === '1'", timeout=15000, polling=50)
    page.screenshot(path=str(ARTIFACTS / "ops-incident.png"))

    # tapping it opens the drawer with its timeline (the agency's next step arrives live)
    page.click(f".inc-marker[data-incident='{incident['id']}']")
    page.wait_for_selector("#drawer:not([hidden]) .timeline li", timeout=15000)
    assert "출동지령" in page.inner_text("#drawer")
    httpx.post(f"{live_server.url}/api/v1/ops/incidents/{incident['id']}/transitions", json={"to": "arrived"},
               headers=op.headers)
    page.wait_for_function("document.querySelectorAll('#drawer .timeline li').length >= 2", timeout=5000)
    page.screenshot(path=str(ARTIFACTS / "ops-drawer.png"))
    page.keyboard.press("Escape")
    assert page.locator("#drawer").is_hidden()

    # a district filter changes every panel
    before = _panel_texts(page)
    page.select_option("#district-select", label="부산진구")  # not the fire's district
    page.wait_for_function("document.body.dataset.district === '26230'")
    page.wait_for_timeout(300)
    after = _panel_texts(page)
    unchanged = [k for k in before if before[k] == after[k] and k != "panel-directives"]
    assert not unchanged, {k: after[k] for k in unchanged}
    page.screenshot(path=str(ARTIFACTS / "ops-district.png"))
    page.keyboard.press("0")
    page.wait_for_function("document.body.dataset.district === ''")

    # a 4K wall renders the same board, larger
    page.set_viewport_size({"width": 3840, "height": 2160})
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "ops-3840.png"))
    context.close()
    assert problems == []


def test_directive_issued_from_drawer_appears_in_panel(live_server, browser) -> None:  # noqa: ANN001
    from cityhub.board.sources import optional_module

    svc = optional_module("cityhub.ops.service_directives")
    if svc is None or not hasattr(svc, "list_directives"):
        pytest.skip("the ops directives service (cityhub.ops.service_directives) is not written yet")
    seed_city(live_server.app.state.settings, sensors={"air": 10, "traffic": 10, "water": 2, "cameras": 30})
    op = _operator(live_server)
    context = browser.new_context(locale="ko-KR", viewport=WALL)
    _login(context, live_server.url, op.email)
    page = context.new_page()
    page.goto(f"{live_server.url}/ops")
    page.wait_for_selector("body[data-ready='1']", timeout=15000)
    incident = httpx.post(f"{live_server.url}/api/v1/ops/incidents", json=fire(), headers=op.headers).json()
    page.wait_for_selector(f".inc-marker[data-incident='{incident['id']}']", timeout=15000)
    page.click(f".inc-marker[data-incident='{incident['id']}']")
    page.fill("#directive-form input[name=title]", "인근 대피소 개방 준비")
    page.click("#directive-form button[type=submit]")
    page.wait_for_selector("#panel-directives .dir:has-text('인근 대피소 개방 준비')", timeout=5000)
    page.screenshot(path=str(ARTIFACTS / "ops-directive.png"))
    context.close()


def test_public_city_board_shows_no_restricted_item(live_server, browser) -> None:  # noqa: ANN001
    seed_city(live_server.app.state.settings, sensors={"air": 30, "traffic": 40, "water": 6, "cameras": 80})
    op = _operator(live_server)
    incident = httpx.post(f"{live_server.url}/api/v1/ops/incidents", json=fire(), headers=op.headers).json()
    problems: list[str] = []
    context = browser.new_context(locale="en-GB", viewport=WALL)
    page = context.new_page()
    _watch_console(page, problems)
    requested: list[str] = []
    page.on("request", lambda req: requested.append(req.url))
    page.goto(f"{live_server.url}/city")
    page.wait_for_selector("body[data-ready='1']", timeout=15000)
    page.wait_for_timeout(500)
    html = page.content()
    assert page.locator(".inc-marker").count() == 0 and page.locator(".cam-marker, .marker-cluster").count() == 0
    assert page.locator("#panel-safety, #panel-directives").count() == 0
    assert incident["id"] not in html and "우동" not in html
    assert "CCTV" not in page.inner_text(".leaflet-control-layers")  # no camera layer to switch on
    outside = [u for u in requested if not u.startswith(live_server.url)]
    assert outside == []  # nothing needs the internet
    assert "view=ops" not in " ".join(requested)
    page.screenshot(path=str(ARTIFACTS / "city-public.png"))
    context.close()
    assert problems == []


def test_board_keeps_working_after_server_restart(app, browser) -> None:  # noqa: ANN001
    seed_city_settings = app.state.settings
    server = LiveServer(app)
    server.server.config.timeout_graceful_shutdown = 1
    with server:
        seed_city(seed_city_settings, sensors={"air": 10, "traffic": 10, "water": 2, "cameras": 20})
        op = _operator(server)
        context = browser.new_context(locale="ko-KR", viewport=WALL)
        _login(context, server.url, op.email)
        page = context.new_page()
        page.goto(f"{server.url}/ops")
        page.wait_for_selector("body[data-ready='1']", timeout=15000)
        page.wait_for_function("document.querySelector('#conn').textContent.includes('실시간')", timeout=10000)
    # the server is gone: the page says so
    page.wait_for_function("document.querySelector('#conn').classList.contains('down')", timeout=10000)
    again = LiveServer(create_app(seed_city_settings))
    again.port, again.url = server.port, server.url
    import uvicorn

    again.server = uvicorn.Server(uvicorn.Config(again.app, host="127.0.0.1", port=server.port, log_level="warning",
                                                 lifespan="on", timeout_graceful_shutdown=1))
    import threading

    again.thread = threading.Thread(target=again.server.run, daemon=True)
    with again:
        page.wait_for_function("!document.querySelector('#conn').classList.contains('down')", timeout=15000)
        r = httpx.post(f"{again.url}/api/v1/ops/incidents", json=fire(lon=129.06, lat=35.16), headers=op.headers)
        assert r.status_code == 201, r.text
        page.wait_for_selector(f".inc-marker[data-incident='{r.json()['id']}']", timeout=5000)
        page.screenshot(path=str(ARTIFACTS / "ops-after-restart.png"))
        context.close()
