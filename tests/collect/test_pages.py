"""Collection pages in Korean and English: list with health, generated form, run now, run detail."""

from __future__ import annotations

import time

from tests.collect.conftest import READING_FIELDS


def test_pages_walkthrough(sqlite_collect, rest) -> None:
    server, behaviour = rest
    behaviour.bad_value_ids = {4}
    client, headers = sqlite_collect.client, sqlite_collect.headers
    ds = sqlite_collect.dataset("air-quality")
    ko = client.get("/collect", headers={**headers, "Accept-Language": "ko"})
    assert ko.status_code == 200 and "데이터 수집" in ko.text
    form = client.get("/collect/new?connector=kosis", headers={**headers, "Accept-Language": "en"})
    assert form.status_code == 200 and 'name="config.api_key"' in form.text and 'type="password"' in form.text
    assert "Field mapping (JSON)" in form.text

    bad = client.post("/collect/new", headers=headers, data={
        "connector": "http", "name": "web-air", "title": "대기", "dataset": ds["name"], "fields": "[oops",
        "config.url": f"{server.url}/items"})
    assert bad.status_code == 422 and "not valid JSON" in bad.text

    import json

    created = client.post("/collect/new", headers=headers, follow_redirects=False, data={
        "connector": "http", "name": "web-air", "title": "대기", "dataset": ds["name"],
        "fields": json.dumps(READING_FIELDS), "key": "id", "config.url": f"{server.url}/items",
        "config.record_path": "data.items", "config.paging": "page", "config.page_size": "10",
        "schedule_kind": "none", "update_frequency": "daily"})
    assert created.status_code == 303 and created.headers["location"] == "/collect/sources/web-air"
    page = client.get("/collect/sources/web-air", headers={**headers, "Accept-Language": "en"})
    assert page.status_code == 200 and "Never run" in page.text and "Run now" in page.text

    started = client.post("/collect/sources/web-air/run", headers=headers, follow_redirects=False)
    assert started.status_code == 303
    run_url = started.headers["location"]
    deadline = time.time() + 20
    while time.time() < deadline:
        html = client.get(run_url, headers={**headers, "Accept-Language": "en"}).text
        if "Succeeded" in html:
            break
        time.sleep(0.1)
    assert "Succeeded" in html and "Quarantined rows (1)" in html and "is not a valid number" in html
    listing = client.get("/collect", headers={**headers, "Accept-Language": "ko"}).text
    assert "정상" in listing and "web-air" in listing


def test_pages_refuse_citizens(sqlite_collect, sqlite_people) -> None:
    citizen = sqlite_people.user("c@city.test")
    r = sqlite_collect.client.get("/collect", headers={**citizen.headers, "Accept-Language": "en"})
    assert r.status_code == 403 and "text/html" in r.headers["content-type"]
