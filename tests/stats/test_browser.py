"""Statistics pages in a real browser (Playwright driving Debian's Chromium against the real server):
an indicator page (series, district picks, comparison, downloads, a failing source) and a shared
dashboard (a card the visitor may not see says so, the others render; PNG and CSV export)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import People
from tests.stats.conftest import Office
from tests.stats.test_charts import _readings
from tests.web.test_browser import ARTIFACTS, LAUNCH_ARGS, _require_browser, _watch_console

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("backend", ["sqlite"])]


@pytest.fixture
def browser():  # noqa: ANN201
    _require_browser()
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def live_office(live_server) -> Iterator[Office]:  # noqa: ANN001
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        yield Office(http, People(live_server.app))


def _signed_in(browser, url: str, email: str, next_path: str, problems: list[str]):  # noqa: ANN001, ANN202
    """A Korean browser context signed in through the login form, on its way to `next_path`."""
    context = browser.new_context(locale="ko-KR", viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    _watch_console(page, problems)
    page.goto(f"{url}/user/login?next={next_path}")
    page.fill("#login-email", email)
    page.fill("#login-password", "password123")
    page.click("form.form button[type=submit]")
    return context, page


def test_indicator_page_in_a_browser(live_server, live_office, kosis, browser) -> None:  # noqa: ANN001
    server, behaviour = kosis
    office = live_office
    office.dataset("kosis-pop-ds")
    office.kosis_source("kosis-pop", server, "kosis-pop-ds")
    office.run("kosis-pop")
    r = office.client.post("/api/v1/stats/indicators", headers=office.steward.headers, json={
        "slug": "pop-total", "title": "총인구", "title_en": "Population", "unit": "명", "period": "M",
        "kosis": {"source": "kosis-pop", "item": "T20"}})
    assert r.status_code == 201, r.text
    problems: list[str] = []
    context = browser.new_context(locale="ko-KR", viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    _watch_console(page, problems)
    page.goto(f"{live_server.url}/stats")
    page.click("text=총인구")
    page.wait_for_url("**/stats/indicators/pop-total")
    page.wait_for_selector("#indicator[data-ready] #series-chart canvas")
    assert page.locator("#compare-table tbody tr").count() == 17
    assert page.locator("#compare-period").inner_text() == "(2026-06)"
    page.locator("#district-picks input").nth(0).check()
    page.locator("#district-picks input").nth(2).check()
    page.wait_for_function("document.getElementById('dl-csv').href.includes('district=city%2C11%2C13')")
    with page.expect_download() as download:
        page.click("#dl-csv")
    body = open(download.value.path(), encoding="utf-8-sig").read().splitlines()
    assert body[0].startswith("indicator,district_code") and len(body) == 1 + 2 * 18
    page.screenshot(path=str(ARTIFACTS.parent / "stats-indicator.png"), full_page=True)

    behaviour.fail_with = "50"
    assert office.run("kosis-pop")["status"] == "failed"
    page.reload()
    page.wait_for_selector("#source-failing")
    assert "마지막" in page.inner_text("#source-failing")
    page.wait_for_selector("#indicator[data-ready] #series-chart canvas")  # last good figures still drawn
    assert not problems, problems
    context.close()


def test_shared_dashboard_in_a_browser(live_server, live_office, browser) -> None:  # noqa: ANN001
    office = live_office
    office.dataset("air-quality")
    air = office.upload("air-quality", "air.csv", _readings())
    office.dataset("patrols", access_level="internal")
    patrols = office.upload("patrols", "patrols.csv", "district,patrols\n중구,3\n서구,5\n".encode())
    headers = office.steward.headers

    def chart(title: str, spec: dict) -> str:
        r = office.client.post("/api/v1/stats/charts", json={"title": title, "spec": spec}, headers=headers)
        assert r.status_code == 201, r.text
        return r.json()["id"]

    by_month = chart("월별 PM2.5", {"type": "line", "source": {"resource_id": air["id"]},
                                   "x": {"column": "measured", "bucket": "day"}, "series": "district",
                                   "y": [{"column": "pm25", "agg": "avg"}], "district_column": "district",
                                   "time_column": "measured"})
    kpi = chart("최고 PM2.5", {"type": "kpi", "source": {"resource_id": air["id"]},
                             "y": [{"column": "pm25", "agg": "max"}], "district_column": "district"})
    secret = chart("순찰", {"type": "bar", "source": {"resource_id": patrols["id"]}, "x": {"column": "district"},
                          "y": [{"column": "patrols", "agg": "sum"}]})
    r = office.client.post("/api/v1/stats/dashboards", headers=headers, json={
        "slug": "air-watch", "title": "대기 감시", "title_en": "Air watch", "visibility": "link",
        "refresh_seconds": 10, "cards": [{"kind": "chart", "chart_id": by_month, "id": "pm", "w": 8},
                                         {"kind": "chart", "chart_id": kpi, "id": "kpi", "w": 4},
                                         {"kind": "chart", "chart_id": secret, "id": "patrols", "w": 6}]})
    assert r.status_code == 201, r.text

    problems: list[str] = []
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    _watch_console(page, problems)
    page.goto(f"{live_server.url}/stats/dashboards/air-watch")
    page.wait_for_selector("#dashboard[data-ready] [data-card=pm] canvas")
    assert page.inner_text("[data-card=kpi] .stats-kpi") == "30"
    assert page.get_attribute("[data-card=patrols]", "data-status") == "no_access"
    assert "no access" in page.inner_text("[data-card=patrols] .card-body")
    assert page.locator("#board-filters select[name=refresh]").input_value() == "10"

    page.select_option("#board-filters select[name=district]", "서구")
    page.evaluate("document.getElementById('dashboard').removeAttribute('data-ready')")
    page.click("#board-filters button[type=submit]")
    page.wait_for_selector("#dashboard[data-ready]")
    assert page.inner_text("[data-card=kpi] .stats-kpi") == "25"

    with page.expect_download() as png:
        page.click("[data-card=pm] [data-export=png]")
    assert png.value.suggested_filename == "air-watch-pm.png"
    assert open(png.value.path(), "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    with page.expect_download() as csv:
        page.click("[data-card=pm] [data-export=csv]")
    lines = open(csv.value.path(), encoding="utf-8-sig").read().splitlines()
    assert lines[0] == "x,series,y0" and all(",서구," in line for line in lines[1:])
    page.screenshot(path=str(ARTIFACTS.parent / "stats-dashboard.png"), full_page=True)
    assert not problems, problems
    context.close()


def test_chart_builder_previews_and_saves(live_server, live_office, browser) -> None:  # noqa: ANN001
    office = live_office
    office.dataset("air-quality")
    air = office.upload("air-quality", "air.csv", _readings())
    problems: list[str] = []
    context, page = _signed_in(browser, live_server.url, office.steward.email,
                               f"/stats/charts/new?resource={air['id']}", problems)
    page.wait_for_url("**/stats/charts/new*")
    page.wait_for_selector("#cb-form select[name=x] option[value=district]", state="attached")
    page.select_option("#cb-form select[name=type]", "choropleth")
    page.select_option("#cb-form select[name=x]", "district")
    page.select_option("#cb-form select[name=y]", "pm25")
    page.select_option("#cb-form select[name=agg]", "avg")
    page.click("#cb-form button[type=submit]")
    page.wait_for_selector("#cb-preview[data-ready] canvas")
    assert "sql" in page.inner_text("#cb-note")
    page.fill("#cb-save input[name=title]", "구별 PM2.5")
    page.fill("#cb-save input[name=dashboard]", "my-air")
    page.click("#cb-save button[type=submit]")
    page.wait_for_selector("#cb-saved a")
    board = office.client.get("/api/v1/stats/dashboards/my-air", headers=office.steward.headers).json()
    assert board["visibility"] == "link" and board["refresh_seconds"] == 60 and len(board["cards"]) == 1
    page.click("#cb-saved a")
    page.wait_for_selector("#dashboard[data-ready] .stats-card canvas")
    saved = office.client.get("/api/v1/stats/charts", headers=office.steward.headers).json()
    assert saved["items"][0]["title"] == "구별 PM2.5" and saved["items"][0]["spec"]["type"] == "choropleth"
    page.screenshot(path=str(ARTIFACTS.parent / "stats-chart-builder.png"), full_page=True)
    assert not problems, problems
    context.close()


def test_statistics_pages_have_no_serious_accessibility_violations(live_server, live_office, kosis,
                                                                    browser) -> None:  # noqa: ANN001
    from tests.web.test_browser import AXE

    if not AXE.exists():
        pytest.skip("axe-core missing: run `npm install`")
    server, _ = kosis
    office = live_office
    office.dataset("kosis-pop-ds")
    office.kosis_source("kosis-pop", server, "kosis-pop-ds")
    office.run("kosis-pop")
    office.client.post("/api/v1/stats/indicators", headers=office.steward.headers, json={
        "slug": "pop-total", "title": "총인구", "title_en": "Population", "period": "M",
        "kosis": {"source": "kosis-pop", "item": "T20"}}).raise_for_status()
    office.dataset("air-quality")
    air = office.upload("air-quality", "air.csv", _readings())
    chart = office.client.post("/api/v1/stats/charts", headers=office.steward.headers, json={
        "title": "PM2.5", "spec": {"type": "bar", "source": {"resource_id": air["id"]}, "x": {"column": "district"},
                                   "y": [{"column": "pm25", "agg": "avg"}]}, "visibility": "public"}).json()
    office.client.post("/api/v1/stats/dashboards", headers=office.steward.headers, json={
        "slug": "air", "title": "대기", "visibility": "public",
        "cards": [{"kind": "chart", "chart_id": chart["id"]}, {"kind": "indicator", "indicator": "pop-total"}]
    }).raise_for_status()
    found: dict[str, list[str]] = {}
    for locale in ("ko-KR", "en-US"):
        context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(f"{live_server.url}/user/login")
        page.fill("#login-email", office.steward.email)
        page.fill("#login-password", "password123")
        page.click("form.form button[type=submit]")
        page.wait_for_load_state()
        for path, ready in (("/stats", None), ("/stats/indicators/pop-total", "#indicator[data-ready]"),
                            ("/stats/workbench", None), ("/stats/charts/new", None),
                            ("/stats/dashboards", None), ("/stats/dashboards/air", "#dashboard[data-ready]"),
                            ("/embed/dashboards/air", "#dashboard[data-ready]")):
            page.goto(live_server.url + path)
            if ready:
                page.wait_for_selector(ready)
            page.add_script_tag(path=str(AXE))
            result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
            serious = [f"{v['id']}: {v['help']} ({len(v['nodes'])}× e.g. {v['nodes'][0]['target']})"
                       for v in result["violations"] if v["impact"] in ("serious", "critical")]
            if serious:
                found[f"{locale} {path}"] = serious
        context.close()
    assert found == {}


def test_dashboard_layout_editor(live_server, live_office, browser) -> None:  # noqa: ANN001
    """A steward builds a dashboard from the editor: adds charts and a text box, reorders, resizes, removes,
    saves; another user may not open its editor."""
    office = live_office
    office.dataset("air-quality")
    air = office.upload("air-quality", "air.csv", _readings())
    headers = office.steward.headers
    ids = []
    for title, kind in (("월별 PM2.5", "line"), ("구별 PM2.5", "bar")):
        r = office.client.post("/api/v1/stats/charts", headers=headers, json={"title": title, "spec": {
            "type": kind, "source": {"resource_id": air["id"]}, "x": {"column": "district"},
            "y": [{"column": "pm25", "agg": "avg"}]}})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    problems: list[str] = []
    context, page = _signed_in(browser, live_server.url, office.steward.email, "/stats/dashboards", problems)
    page.wait_for_url("**/stats/dashboards")
    page.click("#new-board")
    page.wait_for_selector("#board-editor[data-ready]")
    page.fill("#board-editor input[name=slug]", "my-board")
    page.fill("#board-editor input[name=title]", "내 대시보드")
    page.select_option("#board-editor select[name=visibility]", "link")
    for chart_id in ids:
        page.select_option("#add-chart-id", chart_id)
        page.click("#add-chart")
    page.click("#add-text")
    page.fill("#editor-cards li:nth-child(3) textarea", "설명 글")
    assert page.locator("#editor-cards li").count() == 3
    page.focus("#editor-cards li:nth-child(2) [data-move=up]")  # by keyboard: 구별 first
    page.keyboard.press("Enter")
    page.select_option("#editor-cards li:nth-child(1) select[data-size=w]", "12")
    page.click("#editor-cards li:nth-child(2) [data-remove]")  # 월별 goes
    page.click("#board-editor button[type=submit]")
    page.wait_for_selector("#editor-open")
    board = office.client.get("/api/v1/stats/dashboards/my-board", headers=headers).json()
    assert [(c["kind"], c.get("chart_id"), c["w"]) for c in board["cards"]] == [
        ("chart", ids[1], 12), ("text", None, 12)]
    assert board["cards"][1]["text"] == "설명 글" and board["visibility"] == "link"
    page.click("#editor-open")
    page.wait_for_selector("#dashboard[data-ready]")
    page.click("#board-edit")
    page.wait_for_selector("#board-editor[data-ready]")
    assert page.locator("#editor-cards li").count() == 2
    page.screenshot(path=str(ARTIFACTS.parent / "stats-dashboard-editor.png"), full_page=True)
    assert not problems, problems
    # a bad slug is named, nothing saved (the browser logs the refused request)
    page.goto(f"{live_server.url}/stats/dashboards/new")
    page.wait_for_selector("#board-editor[data-ready]")
    page.fill("#board-editor input[name=slug]", "Bad Slug!")
    page.fill("#board-editor input[name=title]", "x")
    page.click("#board-editor button[type=submit]")
    page.wait_for_selector("#editor-error:not(:empty)")
    assert "slug" in page.inner_text("#editor-error")
    assert all("422" in p for p in problems), problems
    assert office.client.get("/api/v1/stats/dashboards", headers=headers).json()["total"] == 1
    context.close()
    other = office.client.get("/stats/dashboards/my-board/edit", headers=office.analyst.headers)
    assert other.status_code in (403, 404)
