"""The whole journey in a real browser (Playwright driving Debian's Chromium against the real server).

A steward signs in and publishes a CP949-encoded CSV with Korean headers through the form (with upload
progress); a citizen then finds it by a Korean word, opens it, filters the preview and downloads the rows.
Screenshots land in test-artifacts/ for people to look at.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest

from tests.conftest import People

CHROMIUM = Path("/usr/bin/chromium")
VENDOR = Path(__file__).resolve().parents[2] / "src" / "cityhub" / "web" / "static" / "vendor"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]

STOPS = [
    ("서면역", "부산진구", 1200, 35.1577, 129.0590),
    ("해운대역", "해운대구", 800, 35.1631, 129.1635),
    ("남포역", "중구", 650, 35.0979, 129.0345),
    ("센텀시티역", "해운대구", 540, 35.1690, 129.1318),
    ("동래역", "동래구", 720, 35.2055, 129.0784),
    ("사상역", "사상구", 910, 35.1625, 128.9845),
]

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("backend", ["sqlite"])]


def _require_browser() -> None:
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but /usr/bin/chromium is missing")
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    if not (VENDOR / "echarts" / "echarts.min.js").exists():
        pytest.fail("browser libraries missing: run `make assets` (npm install + scripts/copy_vendor.py)")


@pytest.fixture
def browser():  # noqa: ANN201
    _require_browser()
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


def _cp949_csv(path: Path) -> bytes:
    lines = ["정류장명,구,승차인원,위도,경도"] + [f"{n},{d},{c},{lat},{lon}" for n, d, c, lat, lon in STOPS]
    data = ("\r\n".join(lines) + "\r\n").encode("cp949")
    path.write_bytes(data)
    return data


def _watch_console(page, problems: list[str]) -> None:  # noqa: ANN001
    page.on("console", lambda msg: problems.append(f"{msg.type}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))


def test_steward_publishes_cp949_csv_and_citizen_finds_filters_and_downloads(live_server, browser,
                                                                            tmp_path: Path) -> None:
    people = People(live_server.app)
    people.org("busan-transport", "부산교통공사", kind="public_body")
    steward = people.user("steward@busan.test", role="steward", org="busan-transport")
    original = _cp949_csv(tmp_path / "정류장별_승차인원.csv")
    problems: list[str] = []

    # --- the steward signs in and publishes through the form ---------------------------------------------
    steward_ctx = browser.new_context(locale="ko-KR", viewport={"width": 1280, "height": 900})
    page = steward_ctx.new_page()
    _watch_console(page, problems)
    page.goto(f"{live_server.url}/dataset/new")
    assert page.url.startswith(f"{live_server.url}/user/login")
    page.fill("#login-email", steward.email)
    page.fill("#login-password", "password123")
    page.click("form.form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/dataset/new")
    page.fill("#f-title", "부산 시내버스 정류장별 승차 인원")
    page.fill("#f-title_en", "Busan bus boardings by stop")
    page.fill("#f-notes", "정류장별 하루 승차 인원 (시연용 합성 자료)")
    page.fill("#f-keywords", "버스, 정류장, 승차")
    page.select_option("#f-theme", "transport")
    page.check("#f-synthetic")
    page.set_input_files("#f-files", str(tmp_path / "정류장별_승차인원.csv"))
    page.fill("#f-name", "Bus Stops!")  # not a URL name: the API's field error shows beside the field
    page.click("#dataset-submit")
    page.wait_for_selector("#form-errors:not([hidden])")
    assert page.get_attribute("#f-name", "aria-invalid") == "true" and page.inner_text("#err-name")
    assert page.evaluate("document.activeElement.id") == "form-errors"
    problems.clear()  # the browser logs the intended 422 as a console error
    page.fill("#f-name", "bus-stop-boardings")
    page.click("#dataset-submit")
    page.wait_for_selector("#open-dataset", timeout=30_000)
    assert page.locator(".upload-item.ok progress").evaluate("p => p.value") == 100
    assert "완료" in page.inner_text(".upload-item .upload-state")
    page.screenshot(path=str(ARTIFACTS / "1-steward-upload.png"), full_page=True)
    steward_ctx.close()

    # --- a citizen searches in Korean ----------------------------------------------------------------------
    citizen_ctx = browser.new_context(locale="ko-KR", viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = citizen_ctx.new_page()
    _watch_console(page, problems)
    page.goto(live_server.url + "/")
    assert page.locator("html").get_attribute("lang") == "ko"
    page.screenshot(path=str(ARTIFACTS / "0-home.png"), full_page=True)
    page.fill("#home-q", "정류장")
    page.press("#home-q", "Enter")
    page.wait_for_url("**/dataset?q=*")
    assert "검색 결과 1개" in page.inner_text("#results-title")
    page.screenshot(path=str(ARTIFACTS / "2-search.png"), full_page=True)
    page.click("text=부산 시내버스 정류장별 승차 인원")
    page.wait_for_url("**/dataset/bus-stop-boardings")

    # --- the dataset page: preview, chart, map ---------------------------------------------------------------
    page.wait_for_selector("#preview[data-loaded] #preview-table tbody tr")
    assert page.locator("#preview-table tbody tr").count() == len(STOPS)
    headers = page.locator("#preview-table thead th button").all_inner_texts()
    assert headers[:3] == ["정류장명", "구", "승차인원"]
    assert "합성 시연 데이터" in page.inner_text(".page-head")
    page.wait_for_selector("#chart svg")
    page.wait_for_selector("#map .leaflet-interactive")
    assert page.locator("#map .leaflet-interactive").count() == len(STOPS)
    assert page.locator("#map .leaflet-tile").count() == 0  # no basemap: nothing asked of the internet
    page.screenshot(path=str(ARTIFACTS / "3-dataset.png"), full_page=True)
    page.locator("#map-section").screenshot(path=str(ARTIFACTS / "3-map.png"))

    # --- filter the preview ---------------------------------------------------------------------------------
    page.select_option("#preview-column", "구")
    page.fill("#preview-value", "해운대구")
    page.click("#preview-form button[type=submit]")
    page.wait_for_function("document.querySelectorAll('#preview-table tbody tr').length === 2")
    names = page.locator("#preview-table tbody tr td:first-child").all_inner_texts()
    assert sorted(names) == ["센텀시티역", "해운대역"]
    assert "전체 2행 중 1–2행" in page.inner_text("#preview-status")
    page.click("#preview-table thead th button:has-text('승차인원')")
    page.wait_for_selector("#preview-table th[aria-sort=ascending]")
    assert page.locator("#preview-table tbody tr td:first-child").all_inner_texts() == ["센텀시티역", "해운대역"]
    page.screenshot(path=str(ARTIFACTS / "4-filtered.png"), full_page=True)

    # --- download the filtered rows as CSV, and the original file --------------------------------------------
    with page.expect_download() as caught:
        page.click("#preview-download-csv")
    filtered = Path(caught.value.path()).read_bytes().decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(filtered)))
    assert [r["정류장명"] for r in rows] == ["센텀시티역", "해운대역"]
    assert {r["구"] for r in rows} == {"해운대구"} and rows[1]["승차인원"] == "800"
    with page.expect_download() as caught:
        page.click(".resource-item a[data-format='CSV']:has-text('원본 파일')")
    assert Path(caught.value.path()).read_bytes() == original
    with page.expect_download() as caught:
        page.click(".resource-item a:has-text('CSV (엑셀용)')")
    excel = Path(caught.value.path()).read_bytes()
    assert excel.startswith(b"\xef\xbb\xbf") and excel.decode("utf-8-sig").count("\n") == len(STOPS) + 1

    # --- the same page in English, by the switch ------------------------------------------------------------
    page.click(".lang-switch a[lang=en]")
    page.wait_for_selector("html[lang=en]")
    assert page.inner_text("h1") == "Busan bus boardings by stop"
    assert "Synthetic demo data" in page.inner_text(".page-head")
    page.wait_for_selector("#preview[data-loaded] #preview-table tbody tr")
    page.screenshot(path=str(ARTIFACTS / "5-dataset-en.png"), full_page=True)
    citizen_ctx.close()
    assert problems == []


AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


def test_pages_have_no_serious_accessibility_violations(live_server, browser, tmp_path: Path) -> None:
    """axe-core (npm devDependency) checks every portal page in both languages for serious and critical issues."""
    if not AXE.exists():
        pytest.skip("axe-core missing: run `npm install`")
    people = People(live_server.app)
    people.org("busan-transport", "부산교통공사", kind="public_body")
    steward = people.user("steward@busan.test", role="steward", org="busan-transport")
    import httpx

    with httpx.Client(base_url=live_server.url, headers=steward.headers) as api:
        api.post("/api/v1/datasets", json={"name": "stops", "title": "정류장 승차 인원", "owner_org": "busan-transport",
                                           "theme": "transport", "synthetic": True}).raise_for_status()
        api.post("/api/v1/datasets/stops/resources",
                 files={"upload": ("stops.csv", _cp949_csv(tmp_path / "stops.csv"))}).raise_for_status()
    found: dict[str, list[str]] = {}
    for locale in ("ko-KR", "en-US"):
        context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
        page = context.new_page()
        pages = ["/", "/dataset?q=정류장", "/dataset/stops", "/organization", "/organization/busan-transport",
                 "/user/login", "/dataset/missing"]
        if locale == "ko-KR":
            page.goto(f"{live_server.url}/user/login")
            page.fill("#login-email", steward.email)
            page.fill("#login-password", "password123")
            page.click("form.form button[type=submit]")
            page.wait_for_load_state()
            pages.append("/dataset/new")
        for path in pages:
            page.goto(live_server.url + path)
            if path == "/dataset/stops":
                page.wait_for_selector("#map .leaflet-interactive")
            page.add_script_tag(path=str(AXE))
            result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
            serious = [f"{v['id']}: {v['help']} ({len(v['nodes'])}× e.g. {v['nodes'][0]['target']})"
                       for v in result["violations"] if v["impact"] in ("serious", "critical")]
            if serious:
                found[f"{locale} {path}"] = serious
        context.close()
    assert found == {}
