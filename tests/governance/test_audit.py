"""The audit trail: writes, reads of non-public data, denials, token use and logins; append-only."""

from __future__ import annotations

import pytest
from sqlalchemy import text


def entries(client, admin, **params):  # noqa: ANN001, ANN003, ANN201
    r = client.get("/api/v1/audit", params={"limit": 1000, **params}, headers=admin.headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_audit_records_writes_reads_denials_tokens_and_logins(client, people) -> None:  # noqa: ANN001
    people.org("welfare", "복지국")
    steward = people.user("s@city.test", role="steward", org="welfare")
    citizen = people.user("c@city.test")
    admin = people.admin()
    body = {"name": "clients", "title": "수급자", "owner_org": "welfare", "access_level": "restricted"}
    assert client.post("/api/v1/datasets", json=body, headers=steward.headers).status_code == 201
    ds_id = client.get("/api/v1/datasets/clients", headers=steward.headers).json()["id"]
    assert client.get("/api/v1/datasets/clients", headers=citizen.headers).status_code == 404
    client.post("/api/v1/auth/login", json={"email": "s@city.test", "password": "nope-nope"})
    client.post("/api/v1/auth/login", json={"email": "s@city.test", "password": "password123"})

    writes = entries(client, admin, action="write.insert", resource=ds_id)
    assert writes and writes[0]["actor_email"] == "s@city.test" and writes[0]["resource_kind"] == "datasets"
    reads = entries(client, admin, action="dataset.read", resource=ds_id, outcome="allowed")
    assert any(e["actor_email"] == "s@city.test" for e in reads)
    denied = entries(client, admin, outcome="denied", actor="c@city.test")
    assert any(e["action"] == "dataset.read" and e["resource_id"] == ds_id for e in denied)
    assert entries(client, admin, action="token.use", actor="s@city.test")
    logins = entries(client, admin, action="login")
    assert {e["outcome"] for e in logins} == {"allowed", "failed"}
    # only admins read it; the CSV export works
    assert client.get("/api/v1/audit", headers=citizen.headers).status_code == 403
    csv = client.get("/api/v1/audit/export.csv", headers=admin.headers)
    assert csv.status_code == 200 and csv.text.startswith("id,at,actor_email")
    # no API edits it
    assert client.delete("/api/v1/audit", headers=admin.headers).status_code == 405


def test_audit_log_is_append_only_in_the_database(client, people) -> None:  # noqa: ANN001
    people.admin()
    with client.app.state.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar() > 0
        with pytest.raises(Exception, match="append-only"):
            conn.execute(text("UPDATE audit_log SET outcome = 'x'"))
        conn.rollback()
        with pytest.raises(Exception, match="append-only"):
            conn.execute(text("DELETE FROM audit_log"))


def test_read_path_entries_have_a_file_of_their_own_on_sqlite(sqlite_client, sqlite_people) -> None:  # noqa: ANN001
    """Token uses go to <main>-audit.db (a commit there leaves the main file's page caches alone), stay
    append-only there, and the audit API reads both stores as one trail, newest first."""
    from cityhub.governance import audit_store

    client, people = sqlite_client, sqlite_people
    admin = people.admin()
    citizen = people.user("reader@city.test")
    assert client.get("/api/v1/auth/me", headers=citizen.headers).status_code == 200
    made = client.post("/api/v1/organizations", headers=admin.headers, json={"name": "after", "title": "X"})
    assert made.status_code == 201, made.text
    with client.app.state.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_log WHERE action = 'token.use'")).scalar() == 0
        side = conn.execute(text("SELECT min(id), count(*) FROM audit_reads.audit_log WHERE action = 'token.use'"))
        first_id, uses = side.one()
        assert uses >= 2 and first_id > audit_store.ID_BASE
        for stmt in ("UPDATE audit_reads.audit_log SET outcome = 'x'", "DELETE FROM audit_reads.audit_log"):
            with pytest.raises(Exception, match="append-only"):
                conn.execute(text(stmt))
            conn.rollback()
    uses = entries(client, admin, action="token.use", actor="reader@city.test")
    assert uses and all(e["id"] > audit_store.ID_BASE for e in uses)
    trail = entries(client, admin)
    assert [e["at"] for e in trail] == sorted((e["at"] for e in trail), reverse=True)
    kinds = {e["action"] for e in trail}
    assert {"token.use", "write.insert"} <= kinds  # both stores in one answer
    assert len({e["id"] for e in trail}) == len(trail)
    csv = client.get("/api/v1/audit/export.csv", params={"action": "token.use"}, headers=admin.headers).text
    total = client.get("/api/v1/audit", params={"action": "token.use"}, headers=admin.headers).json()["total"]
    # the CSV request's own token use is recorded when it ends, after its export was read
    assert csv.count("token.use") == total - 1 and "reader@city.test" in csv
