"""The CKAN envelope on the wire: exact keys, `__type` strings, statuses, GET forms, bare-string 400s."""

from __future__ import annotations

import pytest


@pytest.fixture
def steward(client, people):  # noqa: ANN001, ANN201
    people.org("busan-transport", "도시철도본부", kind="public_body")
    return people.user("steward@city.test", role="steward", org="busan-transport", password=None)


def _make(client, steward, name, **fields):  # noqa: ANN001, ANN003, ANN202
    body = {"name": name, "owner_org": "busan-transport", **fields}
    response = client.post("/api/3/action/package_create", json=body, headers={"Authorization": steward.token})
    assert response.status_code == 200, response.text
    return response.json()["result"]


def test_version_and_both_paths(client, steward) -> None:  # noqa: ANN001
    assert client.get("/api").json() == {"version": 3}
    assert client.get("/api/3").json() == {"version": 3}
    _make(client, steward, "bus-routes", title="버스 노선")
    for path in ("/api/3/action/package_show", "/api/action/package_show"):
        response = client.get(path, params={"id": "bus-routes"})
        assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
        body = response.json()
        assert list(body) == ["help", "success", "result"] and body["success"] is True
        assert body["help"].endswith("/api/3/action/help_show?name=package_show")
        assert body["result"]["name"] == "bus-routes"


def test_error_envelopes_and_statuses(client, steward) -> None:  # noqa: ANN001
    _make(client, steward, "taken", title="x")
    missing = client.post("/api/3/action/package_show", json={"id": "nope"})
    assert missing.status_code == 404
    body = missing.json()
    assert body["success"] is False and "result" not in body and body["help"].endswith("name=package_show")
    assert body["error"]["__type"] == "Not Found Error" and body["error"]["message"].startswith("Not found")

    denied = client.post("/api/3/action/package_create", json={"name": "x2", "owner_org": "busan-transport"})
    assert denied.status_code == 403
    assert denied.json()["error"]["__type"] == "Authorization Error"
    assert denied.json()["error"]["message"].startswith("Access denied")

    dup = client.post("/api/3/action/package_create", json={"name": "taken", "owner_org": "busan-transport"},
                      headers={"X-CKAN-API-Key": steward.token})
    assert dup.status_code == 409
    assert dup.json()["error"] == {"__type": "Validation Error", "name": ["That URL is already in use."]}

    bad_query = client.get("/api/3/action/package_search", params={"fq": "nonsense:x"})
    assert bad_query.status_code == 400 and bad_query.json()["error"]["__type"] == "Search Query Error"
    bad_sort = client.get("/api/3/action/package_search", params={"sort": "nonsense desc"})
    assert bad_sort.status_code == 400 and bad_sort.json()["error"]["__type"] == "Search Query Error"


def test_bad_tokens_answer_in_ckan_words(client, steward) -> None:  # noqa: ANN001
    for headers in ({"Authorization": "not-a-token"}, {"X-CKAN-API-Key": "not-a-token"},
                    {"Authorization": "Bearer not-a-token"}):
        response = client.post("/api/3/action/package_list", json={}, headers=headers)
        assert response.status_code == 403, headers
        assert response.headers["content-type"].startswith("application/json")
        assert response.json()["error"]["__type"] == "Authorization Error"
    ok = client.post("/api/3/action/package_list", json={}, headers={"Authorization": steward.token})
    assert ok.status_code == 200 and ok.json()["success"] is True


def test_bad_requests_are_bare_strings(client, steward) -> None:  # noqa: ANN001
    unknown = client.post("/api/3/action/no_such_action", json={})
    assert unknown.status_code == 400 and unknown.json() == "Bad request: Action name not known: no_such_action"
    assert client.get("/api/action/no_such_action").status_code == 400
    for write in ("package_create", "package_update", "package_patch", "package_delete", "resource_create",
                  "organization_create"):
        response = client.get(f"/api/3/action/{write}", params={"name": "x"})
        assert response.status_code == 400, write
        assert isinstance(response.json(), str) and response.json().startswith("Bad request")
    broken = client.post("/api/3/action/package_show", content=b"{not json",
                         headers={"Content-Type": "application/json"})
    assert broken.status_code == 400 and broken.json().startswith("Bad request: JSON Error")
    not_a_dict = client.post("/api/3/action/package_show", content=b"[1, 2]",
                             headers={"Content-Type": "application/json"})
    assert not_a_dict.status_code == 400 and isinstance(not_a_dict.json(), str)
    mangled = client.post("/api/3/action/resource_create", content=b"--x\r\nnonsense",
                          headers={"Content-Type": "multipart/form-data; boundary=x", "Authorization": steward.token})
    assert mangled.status_code in (400, 409)  # a bare "Bad request" string or a Validation Error, never a crash
    assert isinstance(mangled.json(), str) or mangled.json()["error"]["__type"] == "Validation Error"
    # an empty body is an empty dict: a missing id is a validation error, not a crash
    empty = client.post("/api/3/action/package_show", content=b"", headers={"Content-Type": "application/json"})
    assert empty.status_code == 409 and empty.json()["error"]["id"] == ["Missing value"]


def test_get_parameters_are_strings(client, steward) -> None:  # noqa: ANN001
    for i in range(3):
        _make(client, steward, f"ds-{i}", title=f"데이터 {i}", tags=[{"name": "교통"}, {"name": f"t{i}"}])
    page = client.get("/api/3/action/package_search",
                      params={"rows": "2", "start": "1", "sort": "name asc",
                              "facet.field": '["tags"]', "facet.limit": "2"}).json()["result"]
    assert page["count"] == 3 and [d["name"] for d in page["results"]] == ["ds-1", "ds-2"]
    assert page["facets"]["tags"]["교통"] == 3 and len(page["facets"]["tags"]) == 2
    repeated = client.get("/api/3/action/package_search?facet.field=tags&facet.field=organization").json()
    assert set(repeated["result"]["facets"]) == {"tags", "organization"}
    fq_list = client.get("/api/3/action/package_search?fq_list=tags:t1&fq_list=organization:busan-transport").json()
    assert [d["name"] for d in fq_list["result"]["results"]] == ["ds-1"]
    # two required values of a many-valued field are refused rather than half applied
    both = client.get("/api/3/action/package_search?fq_list=tags:t1&fq_list=tags:교통")
    assert both.status_code == 400 and both.json()["error"]["__type"] == "Search Query Error"
    assert client.get("/api/3/action/package_search", params={"rows": "5000"}).json()["success"] is True
    bad_rows = client.get("/api/3/action/package_search", params={"rows": "ten"})
    assert bad_rows.status_code == 409 and bad_rows.json()["error"]["rows"] == ["Invalid integer"]
    assert client.get("/api/3/action/package_list", params={"limit": "1", "offset": "1"}).json()["result"] == ["ds-1"]
    only = client.get("/api/3/action/package_search", params={"fl": "id,name", "sort": "name asc", "rows": "1"})
    assert list(only.json()["result"]["results"][0]) == ["id", "name"]
    # a urlencoded form works like JSON
    form = client.post("/api/3/action/package_show", data={"id": "ds-0"})
    assert form.json()["result"]["name"] == "ds-0"


def test_multipart_upload_and_limits(client, steward, settings) -> None:  # noqa: ANN001
    _make(client, steward, "files", title="파일")
    headers = {"Authorization": steward.token}
    response = client.post("/api/3/action/resource_create", headers=headers,
                           data={"package_id": "files", "name": "그림", "description": "설명"},
                           files={"upload": ("photo.png", b"\x89PNG\r\n\x1a\nfake", "image/png")})
    assert response.status_code == 200, response.text
    res = response.json()["result"]
    assert res["url_type"] == "upload" and res["format"] == "PNG" and res["size"] == 12 and res["name"] == "그림"
    empty = client.post("/api/3/action/resource_create", headers=headers,
                        data={"package_id": "files", "url": "https://e.com/x.csv"},
                        files={"upload": ("", b"", "application/octet-stream")})
    assert empty.status_code == 200 and empty.json()["result"]["url"] == "https://e.com/x.csv"
    settings.max_upload_bytes = 10
    too_big = client.post("/api/3/action/resource_create", headers=headers, data={"package_id": "files"},
                          files={"upload": ("big.txt", b"x" * 100, "text/plain")})
    assert too_big.status_code == 413 and too_big.json()["error"]["__type"] == "Validation Error"
    shown = client.get("/api/3/action/package_show", params={"id": "files"}).json()["result"]
    assert shown["num_resources"] == 2


def test_package_show_never_serves_stale_or_hidden_data(client, steward, people) -> None:  # noqa: ANN001
    outsider = people.user("dev@acme.test", role="citizen", password=None)
    _make(client, steward, "fresh", title="처음")
    headers = {"Authorization": steward.token}

    def show(who=None):  # noqa: ANN001, ANN202
        return client.get("/api/3/action/package_show", params={"id": "fresh"},
                          headers={"Authorization": who.token} if who else {})

    for _ in range(3):
        assert show().json()["result"]["title"] == "처음"
    client.post("/api/3/action/package_patch", json={"id": "fresh", "title": "바뀜"}, headers=headers)
    assert show().json()["result"]["title"] == "바뀜"
    client.post("/api/3/action/resource_create", json={"package_id": "fresh", "url": "https://e.com/x.csv"},
                headers=headers)
    assert show().json()["result"]["num_resources"] == 1
    client.post("/api/3/action/package_patch", json={"id": "fresh", "private": True}, headers=headers)
    assert show().status_code == 404 and show(outsider).status_code == 404
    assert show(steward).json()["result"]["private"] is True
    client.post("/api/3/action/package_patch", json={"id": "fresh", "private": False}, headers=headers)
    assert show(outsider).json()["result"]["private"] is False
    client.post("/api/3/action/package_delete", json={"id": "fresh"}, headers=headers)
    assert show().status_code == 404


def test_internal_datasets_show_as_private_for_city_staff_only(client, steward, people) -> None:  # noqa: ANN001
    people.org("welfare", "복지국")
    staff = people.user("analyst@city.test", role="analyst", org="welfare", password=None)
    citizen = people.user("citizen@city.test", password=None)
    made = _make(client, steward, "staff-only", title="내부", private=True,
                 extras=[{"key": "access_level", "value": "internal"}])
    assert made["private"] is True and {"key": "access_level", "value": "internal"} in made["extras"]

    def show(who):  # noqa: ANN001, ANN202
        return client.post("/api/3/action/package_show", json={"id": "staff-only"},
                           headers={"Authorization": who.token})

    assert show(staff).json()["result"]["name"] == "staff-only"
    assert show(citizen).status_code == 404
    staff_search = client.post("/api/3/action/package_search", json={"include_private": True},
                               headers={"Authorization": staff.token}).json()["result"]
    citizen_search = client.post("/api/3/action/package_search", json={"include_private": True},
                                 headers={"Authorization": citizen.token}).json()["result"]
    assert staff_search["count"] == 1 and citizen_search["count"] == 0
    # capacity:private finds both non-public levels
    found = client.post("/api/3/action/package_search", json={"include_private": True, "fq": "capacity:private"},
                        headers={"Authorization": steward.token}).json()["result"]
    assert [d["name"] for d in found["results"]] == ["staff-only"]
