"""The engine-level wall on its own: if the sqlglot checks ever let something through, the engine still says no.

These call the dialect runners directly with queries the checks would have refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from cityhub.ctx import RequestContext
from cityhub.datastore.sql import CheckedQuery
from cityhub.errors import Invalid


@contextmanager
def system_ctx(app) -> Iterator[RequestContext]:  # noqa: ANN001
    from cityhub.cli import SYSTEM

    db = app.state.session_factory()
    try:
        yield RequestContext(actor=SYSTEM, db=db, settings=app.state.settings, bus=app.state.bus)
    finally:
        db.close()


def run_unchecked(app, text: str, tables: dict[str, str] | None = None):  # noqa: ANN001, ANN201
    settings = app.state.settings
    if settings.is_sqlite:
        from cityhub.datastore import sql_sqlite as engine
    else:
        from cityhub.datastore import sql_postgres as engine
    with system_ctx(app) as ctx:
        return engine.execute(ctx, query=CheckedQuery(text=text, tables=tables or {}), max_rows=10)


def wall_says_no(app, text: str) -> str:  # noqa: ANN001
    with pytest.raises(Invalid) as caught:
        run_unchecked(app, text)
    return caught.value.message


def test_engine_refuses_what_checks_would(client, people) -> None:  # noqa: ANN001
    app = client.app
    people.user("someone@city.test")  # so `users` has a row to leak
    app.state.settings.sql_timeout_seconds = 1.0
    assert run_unchecked(app, "SELECT 1 AS one").rows == [(1,)]
    if app.state.settings.is_sqlite:
        assert wall_says_no(app, "SELECT * FROM users") == "table not found or not permitted: users"
        assert wall_says_no(app, "SELECT name FROM sqlite_master").startswith("table not found or not permitted")
        assert wall_says_no(app, "SELECT load_extension('/tmp/evil.so')") == "function not allowed: load_extension"
        assert wall_says_no(app, "SELECT * FROM pragma_table_info('users')")  # its schema touch is refused
        assert "ATTACH" in wall_says_no(app, "ATTACH DATABASE '/tmp/evil.db' AS evil")
        assert "PRAGMA" in wall_says_no(app, "PRAGMA writable_schema = ON")
        assert "DELETE" in wall_says_no(app, "DELETE FROM users")
        assert wall_says_no(app, "CREATE TEMP TABLE t (a)").startswith("only SELECT is allowed")
    else:
        assert wall_says_no(app, "SELECT * FROM users") == "not permitted in the SQL sandbox"
        assert wall_says_no(app, "SELECT pg_read_file('/etc/passwd')") == "not permitted in the SQL sandbox"
        assert wall_says_no(app, "SELECT pg_sleep(30)") == "query exceeded the 1 s time limit"
        assert wall_says_no(app, "DELETE FROM users").startswith("SQL error")
        assert wall_says_no(app, "SELECT * FROM pg_tables WHERE tablename = ''; DROP TABLE users").startswith(
            "SQL error")
    forever = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
    assert wall_says_no(app, forever) == "query exceeded the 1 s time limit"
    # users is still there and the app still answers.
    assert client.get("/healthz").status_code == 200
    with system_ctx(app) as ctx:
        from sqlalchemy import text

        assert ctx.db.execute(text("SELECT count(*) FROM users")).scalar() >= 1
