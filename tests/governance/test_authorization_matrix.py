"""The authorization matrix: every door (native, CKAN, exports, downloads, SQL, search counts and
facets, governance) × every role × public/internal/restricted. No restricted row or metadata leaks,
each access to non-public data leaves an audit entry, and a masked column stays masked everywhere.

One dataset set per backend; the matrix runs as loops inside the test so it stays fast."""

from __future__ import annotations

import io
import json

LEVELS = ("public", "internal", "restricted")
ROLES = ("anonymous", "citizen", "analyst", "steward_other", "steward_owner", "grantee", "admin")
PHONE = "010-1111-2222"
READERS = {
    "public": set(ROLES),
    "internal": {"analyst", "steward_other", "steward_owner", "admin"},
    "restricted": {"steward_owner", "grantee", "admin"},
}


def matrix_people(people):  # noqa: ANN001, ANN201
    """One person per role of the matrix; the owner organization is welfare (grantee: a company user)."""
    people.org("welfare", "복지국")
    people.org("transport", "교통국")
    return {
        "anonymous": None,
        "citizen": people.user("citizen@city.test"),
        "analyst": people.user("analyst@city.test", role="analyst"),
        "steward_other": people.user("other@city.test", role="steward", org="transport"),
        "steward_owner": people.user("owner@city.test", role="steward", org="welfare"),
        "grantee": people.user("grantee@company.test"),
        "admin": people.admin(),
    }


def _world(client, people):  # noqa: ANN001, ANN202
    who = matrix_people(people)
    owner = who["steward_owner"].headers
    ids = {}
    for level in LEVELS:
        name = f"ds-{level}"
        body = {"name": name, "title": f"TITLE-{level}", "owner_org": "welfare", "access_level": level}
        assert client.post("/api/v1/datasets", json=body, headers=owner).status_code == 201
        csv_text = f"구분,값,연락처\nROW-{level},1,{PHONE}\n"
        files = {"upload": ("d.csv", io.BytesIO(csv_text.encode()), "text/csv")}
        r = client.post(f"/api/v1/governance/datasets/{name}/uploads", files=files,
                        data={"personal": '{"연락처": "mask"}'}, headers=owner)
        assert r.status_code == 201, r.text
        ids[level] = (client.get(f"/api/v1/datasets/{name}", headers=owner).json()["id"], r.json()["id"])
    r = client.post("/api/v1/datasets/ds-restricted/grants", json={"user": "grantee@company.test"}, headers=owner)
    assert r.status_code == 201, r.text
    return who, ids


def _doors(client, headers, level, ds_id, res_id):  # noqa: ANN001, ANN202
    """(door, response text, status) for each way to reach this dataset's metadata or rows."""
    name = f"ds-{level}"
    sql = f'SELECT * FROM "{res_id}"'
    calls = [
        ("native.show", "GET", f"/api/v1/datasets/{name}", None),
        ("native.datastore", "GET", f"/api/v1/datastore/{res_id}", None),
        ("native.resource", "GET", f"/api/v1/resources/{res_id}", None),
        ("download.csv", "GET", f"/api/v1/datastore/{res_id}/download.csv", None),
        ("download.json", "GET", f"/api/v1/datastore/{res_id}/download.json", None),
        ("download.file", "GET", f"/api/v1/resources/{res_id}/file", None),
        ("sql", "POST", "/api/v1/sql", {"sql": sql}),
        ("ckan.package_show", "POST", "/api/3/action/package_show", {"id": name}),
        ("ckan.datastore_search", "POST", "/api/3/action/datastore_search", {"resource_id": res_id}),
        ("ckan.datastore_search_sql", "POST", "/api/3/action/datastore_search_sql", {"sql": sql}),
        ("export.dcat", "GET", f"/dataset/{name}.jsonld", None),
        ("export.datapackage", "GET", f"/dataset/{name}/datapackage.json", None),
        ("governance.quality", "GET", f"/api/v1/governance/datasets/{name}/quality", None),
        ("governance.schema", "GET", f"/api/v1/governance/datasets/{name}/schema", None),
    ]
    for door, method, url, body in calls:
        r = client.request(method, url, json=body, headers=headers)
        yield door, r.content.decode("utf-8", "replace"), r.status_code


def _lists(client, headers):  # noqa: ANN001, ANN202
    """Search results, counts and facets on both APIs and the DCAT catalog."""
    native = client.get("/api/v1/datasets", params={"limit": 100}, headers=headers)
    ckan = client.post("/api/3/action/package_search", headers=headers,
                       json={"q": "*:*", "rows": 100, "facet.field": ["organization", "res_format"],
                             "include_private": True})
    catalog = client.get("/catalog.jsonld", headers=headers)
    ranking = client.get("/api/v1/governance/quality/organizations", headers=headers)
    return native.json(), ckan.json()["result"], catalog.text, ranking.json()


def test_no_door_leaks_restricted_data_audit_records_access_masked_stays_masked(client, people) -> None:  # noqa: ANN001
    who, ids = _world(client, people)
    for role in ROLES:
        headers = who[role].headers if who[role] else {}
        for level in LEVELS:
            allowed = role in READERS[level]
            ds_id, res_id = ids[level]
            for door, text, status in _doors(client, headers, level, ds_id, res_id):
                assert PHONE not in text, (role, level, door)  # masked everywhere, for everyone
                if door == "download.file" and allowed:
                    assert "010-****-2222" in text, (role, level, door)
                shows = f"ROW-{level}" in text or f"TITLE-{level}" in text or res_id in text
                if door.startswith("governance."):
                    shows = status == 200
                if allowed:
                    assert status == 200 and shows, (role, level, door, status, text[:200])
                else:
                    assert not (f"ROW-{level}" in text or f"TITLE-{level}" in text), (role, level, door)
                    assert status in (200, 400, 403, 404, 409, 422), (role, level, door, status)
        native, ckan, catalog, ranking = _lists(client, headers)
        visible = {lv for lv in LEVELS if role in READERS[lv]}
        assert native["total"] == len(visible) and ckan["count"] == len(visible), role
        assert sum(native["facets"]["access_level"].values()) == len(visible), role
        assert set(native["facets"]["access_level"]) == visible, role
        assert ckan["search_facets"]["organization"]["items"][0]["count"] == len(visible), role
        for level in LEVELS:
            assert (f"TITLE-{level}" in catalog) == (level in visible), (role, level)
            assert (f"TITLE-{level}" in json.dumps(native, ensure_ascii=False)) == (level in visible), (role, level)
        assert ranking[0]["datasets"] == len(visible), role

    # every access to non-public data left an entry: allowed for readers, denied for the others
    admin = who["admin"].headers
    for level in ("internal", "restricted"):
        ds_id = ids[level][0]
        entries = client.get("/api/v1/audit", params={"resource": ds_id, "limit": 1000}, headers=admin).json()["items"]
        for role in ROLES:
            if role == "admin":
                continue
            email = who[role].email if who[role] else None
            mine = [e for e in entries if e["actor_email"] == email and e["action"] != "write.insert"]
            assert mine, (role, level)
            outcomes = {e["outcome"] for e in mine}
            assert outcomes == ({"allowed"} if role in READERS[level] else {"denied"}), (role, level, outcomes)
