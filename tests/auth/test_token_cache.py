"""The per-process token memo: changes made here count at once, changes made elsewhere within its TTL, and every
authenticated request still leaves its token.use audit entry."""

from __future__ import annotations

import time

from sqlalchemy import create_engine, select, text

from cityhub.auth import token_cache
from cityhub.governance import audit


def _uses(client, token_id: str) -> int:  # noqa: ANN001
    with client.app.state.session_factory() as db:  # the audit reader: on SQLite token uses are in a file of their own
        return audit.query_entries(db, action="token.use", token_id=token_id, limit=0)[1]


def _token_id(client, person) -> str:  # noqa: ANN001
    from cityhub.auth.models import ApiToken

    with client.app.state.session_factory() as db:
        return db.scalar(select(ApiToken.id).where(ApiToken.user_id == person.user_id))


def test_revoked_here_refused_at_once_and_every_use_audited(client, people) -> None:  # noqa: ANN001
    from cityhub.auth.models import ApiToken

    steward = people.user("steward@city.test", role="steward")
    token_id = _token_id(client, steward)
    before = _uses(client, token_id)
    for _ in range(3):
        assert client.get("/api/v1/auth/me", headers=steward.headers).status_code == 200
    assert _uses(client, token_id) == before + 3  # memoised or not, each request is audited

    with client.app.state.session_factory() as db:  # this process revokes it (as the access-request flow does)
        db.get(ApiToken, token_id).revoked = True
        db.commit()
    assert client.get("/api/v1/auth/me", headers=steward.headers).status_code == 401


def test_role_changed_here_counts_at_once(client, people) -> None:  # noqa: ANN001
    from cityhub.auth.models import User

    person = people.user("citizen@city.test", role="citizen")
    assert client.get("/api/v1/auth/me", headers=person.headers).json()["role"] == "citizen"
    with client.app.state.session_factory() as db:
        db.get(User, person.user_id).role = "analyst"
        db.commit()
    assert client.get("/api/v1/auth/me", headers=person.headers).json()["role"] == "analyst"


def test_revoked_by_another_process_refused_within_ttl(sqlite_client, sqlite_people) -> None:  # noqa: ANN001
    client = sqlite_client
    person = sqlite_people.user("analyst@city.test", role="analyst")
    assert client.get("/api/v1/auth/me", headers=person.headers).status_code == 200
    # Another worker (its own engine, no ORM hook of ours runs) revokes the token with plain SQL.
    other = create_engine(str(client.app.state.engine.url))
    with other.begin() as conn:
        conn.execute(text("UPDATE api_tokens SET revoked = 1 WHERE user_id = :u"), {"u": person.user_id})
    other.dispose()
    time.sleep(token_cache.TTL_SECONDS + 0.2)
    assert client.get("/api/v1/auth/me", headers=person.headers).status_code == 401


def test_unknown_token_never_memoised(client) -> None:  # noqa: ANN001
    for _ in range(2):
        assert client.get("/api/v1/auth/me", headers={"Authorization": "Bearer ch_nope"}).status_code == 401


def test_refusals_audited_on_the_hop_free_path(client, people) -> None:  # noqa: ANN001
    citizen = people.user("someone@city.test", role="citizen")
    assert client.get("/api/v1/auth/me", headers=citizen.headers).status_code == 200  # memoised from here on
    made = client.post("/api/v1/organizations", headers=citizen.headers, json={"name": "some-dept", "title": "X"})
    assert made.status_code == 403
    assert client.get("/api/v1/auth/me", headers={"Authorization": "Bearer ch_wrong-token"}).status_code == 401
    with client.app.state.session_factory() as db:
        denied = [(e.action, e.actor_email, e.detail) for e in audit.query_entries(db, outcome="denied")[0]]
    assert any(email == "someone@city.test" for _, email, _ in denied)  # the refused creation, kept on rollback
    assert any(action == "token.use" and (detail or {}).get("prefix") == "ch_wrong" for action, _, detail in denied)
