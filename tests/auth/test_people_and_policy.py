"""People and access: tokens, sessions, roles and the one authorization door."""

from __future__ import annotations

from cityhub.auth import policy


def test_every_declared_action_has_a_rule(client) -> None:  # noqa: ANN001
    missing = sorted(a for a in policy.declared_actions() if not policy.has_rule(a))
    assert not missing, f"actions without a policy rule: {missing}"


def test_token_and_session_auth(client, people) -> None:  # noqa: ANN001
    people.org("transport", "교통국")
    steward = people.user("steward@city.test", role="steward", org="transport")
    assert client.get("/api/v1/auth/me").status_code == 401
    me = client.get("/api/v1/auth/me", headers=steward.headers).json()
    assert me["email"] == "steward@city.test" and me["organizations"] == ["transport"]
    # CKAN clients send the token bare
    assert client.get("/api/v1/auth/me", headers={"Authorization": steward.token}).status_code == 200
    assert client.get("/api/v1/auth/me", headers={"Authorization": "Bearer nope"}).status_code == 401
    bad = client.post("/api/v1/auth/login", json={"email": "steward@city.test", "password": "wrong-pass"})
    assert bad.status_code == 401
    ok = client.post("/api/v1/auth/login", json={"email": "steward@city.test", "password": "password123"})
    assert ok.status_code == 200 and "cityhub_session" in ok.cookies
    assert client.get("/api/v1/auth/me").json()["email"] == "steward@city.test"


def test_only_admins_create_organizations(client, people) -> None:  # noqa: ANN001
    citizen = people.user("c@city.test")
    admin = people.admin()
    body = {"name": "haeundae-gu", "title": "해운대구", "kind": "district"}
    assert client.post("/api/v1/organizations", json=body, headers=citizen.headers).status_code == 403
    assert client.post("/api/v1/organizations", json=body).status_code == 401
    created = client.post("/api/v1/organizations", json=body, headers=admin.headers)
    assert created.status_code == 201
    dup = client.post("/api/v1/organizations", json=body, headers=admin.headers)
    assert dup.status_code == 409
    bad = client.post("/api/v1/organizations", json={"name": "Bad Name!", "title": "x"}, headers=admin.headers)
    assert bad.status_code == 422 and "name" in bad.json()["errors"]
