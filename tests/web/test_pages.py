"""Server-rendered portal pages through the in-process client: both languages, facets, access, downloads."""

from __future__ import annotations

import re

from tests.web.conftest import EN, KO, Portal


def test_home_renders_in_korean_and_english_with_theme_counts(portal: Portal) -> None:
    ko = portal.client.get("/", headers=KO)
    assert ko.status_code == 200 and ko.headers["content-language"] == "ko"
    assert '<html lang="ko">' in ko.text and "분야별 데이터" in ko.text and "교통" in ko.text
    assert "부산교통공사 버스 노선" in ko.text and "합성 시연 데이터" in ko.text
    # the transport card counts the one public dataset; safety's restricted one is not counted for visitors
    assert re.search(r'href="/dataset\?theme=transport">\s*<span class="theme-name">교통</span>\s*'
                     r'<span class="theme-count">1개</span>', ko.text)
    assert re.search(r'theme=safety">\s*<span class="theme-name">안전</span>\s*<span class="theme-count">0개', ko.text)
    en = portal.client.get("/", headers=EN)
    assert en.headers["content-language"] == "en" and '<html lang="en">' in en.text
    assert "Data by theme" in en.text and "Busan bus routes" in en.text and "Synthetic demo data" in en.text


def test_language_switch_sets_a_cookie_that_wins_over_the_browser(portal: Portal) -> None:
    switched = portal.client.get("/lang/en?next=/dataset%3Fq%3D%EB%B2%84%EC%8A%A4", headers=KO, follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == "/dataset?q=%EB%B2%84%EC%8A%A4"
    assert "cityhub_lang=en" in switched.headers["set-cookie"]
    page = portal.client.get("/dataset?q=버스", headers=KO)
    assert page.headers["content-language"] == "en" and "Search datasets" in page.text
    # no open redirects
    assert portal.client.get("/lang/ko?next=//evil.example", follow_redirects=False).headers["location"] == "/"


def test_search_in_korean_with_facet_links_sort_and_paging(portal: Portal) -> None:
    for i in range(23):
        portal.dataset(f"air-{i:02d}", f"대기질 측정 {i:02d}", theme="environment", keywords=["대기"],
                       license_id="CC-BY-4.0")
    page = portal.client.get("/dataset?q=노선", headers=KO)
    assert "‘노선’ 검색 결과 1개" in page.text and 'href="/dataset/bus-routes"' in page.text
    listing = portal.client.get("/dataset?theme=environment", headers=KO)
    assert "데이터셋 23개" in listing.text and listing.text.count('class="dataset-item"') == 20
    # chosen facet is marked and its link removes it; other values add to the search
    assert 'class="facet-link active" aria-current="true"' in listing.text
    assert 'href="/dataset?theme=environment&amp;tags=%EB%8C%80%EA%B8%B0"' in listing.text
    second = portal.client.get("/dataset?theme=environment&page=2", headers=KO)
    assert second.text.count('class="dataset-item"') == 3 and 'aria-current="page">2<' in second.text
    by_name = portal.client.get("/dataset?theme=environment&sort=name", headers=EN)
    names = re.findall(r'href="/dataset/(air-\d\d)"', by_name.text)
    assert names == sorted(names) and names[0] == "air-00"
    assert '<span class="sort-current" aria-current="true">Name</span>' in by_name.text
    filtered = portal.client.get("/dataset?license_id=KOGL-1", headers=EN)
    assert "1 datasets" in filtered.text and "KOGL Type 1 (attribution)" in filtered.text


def test_facets_and_pages_only_count_what_the_visitor_may_see(portal_both: Portal) -> None:
    portal = portal_both
    for who in (None, portal.outsider):
        if who:
            portal.login(who)
        search = portal.client.get("/dataset", headers=KO).text
        assert "데이터셋 1개" in search and "secret-cctv" not in search and "비밀키워드" not in search
        assert 'href="/dataset?access_level=restricted"' not in search
        org_facet = re.search(r'organization=busan-transport".*?facet-count">(\d+)<', search, re.S)
        assert org_facet and org_facet.group(1) == "1"
        assert portal.client.get("/dataset?q=단속", headers=KO).text.count('class="dataset-item"') == 0
        assert "secret-cctv" not in portal.client.get("/", headers=KO).text
        orgs = portal.client.get("/organization", headers=KO).text
        assert "데이터셋 1개" in orgs
        assert "secret-cctv" not in portal.client.get("/organization/busan-transport", headers=KO).text
        hidden = portal.client.get("/dataset/secret-cctv", headers=KO)
        assert hidden.status_code == 404 and "페이지를 찾을 수 없습니다" in hidden.text
        assert "교통 단속" not in hidden.text
        portal.logout()
    # a member of the publishing organization sees it everywhere
    portal.login(portal.steward)
    search = portal.client.get("/dataset", headers=KO).text
    assert "데이터셋 2개" in search and "secret-cctv" in search and "비밀키워드" in search
    page = portal.client.get("/dataset/secret-cctv", headers=EN)
    assert page.status_code == 200 and "Restricted" in page.text


def test_dataset_page_shows_both_languages_synthetic_label_and_counts_views(portal: Portal) -> None:
    first = portal.client.get("/dataset/bus-routes", headers=KO)
    assert first.status_code == 200
    text = first.text
    assert "<h1>부산교통공사 버스 노선</h1>" in text and 'lang="en">Busan bus routes' in text
    assert "노선별 정류장 목록" in text and "Stops by route" in text and "설명 (영어)" in text
    assert "합성 시연 데이터" in text and "alert-synthetic" in text and "공공누리 제1유형" in text
    assert 'href="/dataset?tags=%EB%B2%84%EC%8A%A4"' in text
    assert "package_show?id=bus-routes" in text and "RemoteCKAN" in text
    views = int(re.search(r'class="view-count">(\d+)<', text).group(1))
    again = portal.client.get("/dataset/bus-routes", headers=EN).text
    assert int(re.search(r'class="view-count">(\d+)<', again).group(1)) == views + 1
    assert "<h1>Busan bus routes</h1>" in again and "Synthetic demo data" in again


def test_media_previews_and_original_file_download(portal: Portal) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 64
    image = portal.upload("bus-routes", "정류장 사진.png", png)
    pdf = portal.upload("bus-routes", "guide.pdf", b"%PDF-1.4\n%%EOF\n")
    audio = portal.upload("bus-routes", "안내방송.mp3", b"ID3" + b"\0" * 32)
    page = portal.client.get("/dataset/bus-routes", headers=KO).text
    assert f'<img src="/dataset/bus-routes/resource/{image["id"]}/download?inline=1"' in page
    assert f'<object data="/dataset/bus-routes/resource/{pdf["id"]}/download?inline=1"' in page
    assert f'<audio controls preload="none" src="/dataset/bus-routes/resource/{audio["id"]}/download?inline=1"' in page
    got = portal.client.get(f"/dataset/bus-routes/resource/{image['id']}/download")
    assert got.status_code == 200 and got.content == png and got.headers["content-type"] == "image/png"
    assert got.headers["content-disposition"].startswith("attachment")
    inline = portal.client.get(f"/dataset/bus-routes/resource/{pdf['id']}/download?inline=1")
    assert inline.headers["content-disposition"].startswith("inline")
    # the catalog's download_url uses the dataset id; that address works too
    assert portal.client.get(f"/dataset/{image['dataset_id']}/resource/{image['id']}/download").content == png
    # a resource under the wrong dataset, or of a hidden one, is not found
    assert portal.client.get(f"/dataset/secret-cctv/resource/{image['id']}/download").status_code == 404
    secret = portal.client.post("/api/v1/datasets/secret-cctv/resources", files={"upload": ("a.pdf", b"%PDF")},
                                headers=portal.steward.headers).json()
    hidden = portal.client.get(f"/dataset/secret-cctv/resource/{secret['id']}/download", headers=EN)
    assert hidden.status_code == 404 and "Page not found" in hidden.text


def test_login_logout_and_the_steward_form(portal: Portal) -> None:
    asked = portal.client.get("/dataset/new", headers=KO, follow_redirects=False)
    assert asked.status_code == 303 and asked.headers["location"] == "/user/login?next=%2Fdataset%2Fnew"
    form = portal.client.get("/user/login?next=/dataset/new", headers=KO).text
    assert 'name="next" value="/dataset/new"' in form and 'autocomplete="current-password"' in form
    wrong = portal.client.post("/user/login", data={"email": portal.steward.email, "password": "nope-nope"},
                               headers=KO)
    assert wrong.status_code == 401 and "올바르지 않습니다" in wrong.text
    signed_in = portal.client.post("/user/login", data={"email": portal.steward.email, "password": "password123",
                                                        "next": "/dataset/new"}, follow_redirects=False)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/dataset/new"
    assert "httponly" in signed_in.headers["set-cookie"].lower()
    page = portal.client.get("/dataset/new", headers=KO).text
    assert '<option value="busan-transport">부산교통공사</option>' in page and "acme" not in page
    assert 'id="f-files" name="files" type="file" multiple' in page and "/static/js/upload.js" in page
    assert portal.client.get("/dataset/bus-routes/resource/new", headers=KO).status_code == 200
    assert 'href="/dataset/bus-routes/resource/new"' in portal.client.get("/dataset/bus-routes", headers=KO).text
    assert 'href="/dataset/new">데이터 등록' in page
    portal.logout()
    assert portal.client.get("/dataset/new", follow_redirects=False).status_code == 303
    portal.login(portal.outsider)
    refused = portal.client.get("/dataset/new", headers=EN)
    assert refused.status_code == 403 and "Not allowed" in refused.text
    assert "resource/new" not in portal.client.get("/dataset/bus-routes", headers=EN).text
    assert portal.client.get("/dataset/bus-routes/resource/new", headers=EN).status_code == 403


def test_unknown_pages_are_friendly_for_browsers_and_json_for_programs(portal: Portal) -> None:
    page = portal.client.get("/no/such/page", headers=EN)
    assert page.status_code == 404 and "Page not found" in page.text and "text/html" in page.headers["content-type"]
    api = portal.client.get("/api/v1/no-such-thing", headers=EN)
    assert api.status_code == 404 and api.headers["content-type"].startswith("application/json")
    missing = portal.client.get("/organization/nowhere", headers=KO)
    assert missing.status_code == 404 and "페이지를 찾을 수 없습니다" in missing.text


def test_organization_pages(portal: Portal) -> None:
    listing = portal.client.get("/organization", headers=KO).text
    assert 'href="/organization/busan-transport">부산교통공사' in listing and "공공기관" in listing
    page = portal.client.get("/organization/busan-transport?q=버스", headers=EN).text
    assert "bus-routes" in page and 'action="/organization/busan-transport"' in page
    assert "?organization=" not in page  # the organization is the page, not a removable filter


def test_district_outlines_for_offline_maps(portal: Portal) -> None:
    geo = portal.client.get("/geo/districts.geojson")
    assert geo.status_code == 200 and geo.headers["content-type"] == "application/geo+json"
    features = geo.json()["features"]
    assert len(features) == 16 and {"해운대구", "중구"} <= {f["properties"]["name_ko"] for f in features}
