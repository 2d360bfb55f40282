"""The sqlglot checks of the SQL sandbox, on their own (no database): what passes, what is refused and how."""

from __future__ import annotations

import pytest

from cityhub.datastore import sql_postgres, sql_sqlite
from cityhub.datastore.sql import check_sql
from cityhub.errors import Invalid

A = "0b7c2f4e-1111-4c1e-9a55-aaaaaaaaaaaa"
B = "0b7c2f4e-2222-4c1e-9a55-bbbbbbbbbbbb"
TABLES = {A: A, B: B}
ENGINES = {"sqlite": sql_sqlite, "postgres": sql_postgres}


def check(sql: str, dialect: str, tables: dict[str, str] | None = None):  # noqa: ANN201
    module = ENGINES[dialect]
    query, _ = check_sql(sql, dialect=dialect, tables=TABLES if tables is None else tables,
                         functions=module.FUNCTIONS, table_functions=module.TABLE_FUNCTIONS,
                         named_types=module.NAMED_TYPES)
    return query


def refused(sql: str, dialect: str) -> str:
    with pytest.raises(Invalid) as caught:
        check(sql, dialect)
    assert caught.value.details == {"sql": [caught.value.message]}
    return caught.value.message


@pytest.fixture(params=["sqlite", "postgres"])
def dialect(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.mark.parametrize("sql", [
    f'SELECT * FROM "{A}"',
    f'SELECT a.name, b.total FROM "{A}" a JOIN "{B}" b ON a.name = b.name WHERE b.total > 3 ORDER BY 1 LIMIT 5',
    f'WITH t AS (SELECT name, count(*) AS n FROM "{A}" GROUP BY name) SELECT * FROM t WHERE n > 1',
    f'SELECT name FROM "{A}" UNION SELECT name FROM "{B}"',
    f'SELECT * FROM "{A}" WHERE name IN (SELECT name FROM "{B}")',
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 10) SELECT count(*) FROM c",
    f'SELECT upper(name), coalesce(total, 0), round(avg(total), 2), row_number() OVER (ORDER BY name) '
    f'FROM "{A}" GROUP BY name, total',
    f'SELECT CAST(total AS INTEGER), lower(name) FROM "{A}";',
    f'SELECT "{A}".name FROM "{A}"',
])
def test_selects_pass(sql: str, dialect: str) -> None:
    query = check(sql, dialect)
    assert query.text
    assert set(query.tables) <= {A, B}


def test_physical_names_replace_resource_ids_and_keep_qualified_columns() -> None:
    query = check(f'SELECT "{A}".name FROM "{A}"', "postgres", tables={A: "datastore.ds_1"})
    assert query.tables == {"datastore.ds_1": A}
    assert 'FROM "datastore"."ds_1" AS "' + A + '"' in query.text


@pytest.mark.parametrize(("sql", "found"), [
    ("ATTACH DATABASE '/tmp/x.db' AS x", "ATTACH"),
    ("DETACH x", "DETACH"),
    ("PRAGMA table_info(users)", "PRAGMA"),
    ("VACUUM", "VACUUM"),
    (f'INSERT INTO "{A}" VALUES (1)', "INSERT"),
    (f'UPDATE "{A}" SET name = 1', "UPDATE"),
    (f'DELETE FROM "{A}"', "DELETE"),
    (f'DROP TABLE "{A}"', "DROP TABLE"),
    ("CREATE TABLE x (a int)", "CREATE TABLE"),
    ("BEGIN", "BEGIN"),
    ("REINDEX", "REINDEX"),
])
def test_sqlite_statements_refused(sql: str, found: str) -> None:
    message = refused(sql, "sqlite")
    assert message.startswith(f"only SELECT is allowed: found {found}")
    assert "(line 1, column 1)" in message


@pytest.mark.parametrize(("sql", "found"), [
    ("COPY users TO '/tmp/x'", "COPY"),
    ("SET search_path = public", "SET"),
    ("CALL p()", "CALL"),
    ("DO $$ BEGIN END $$", "DO"),
    ("SHOW ALL", "SHOW"),
    (f'WITH d AS (DELETE FROM "{A}" RETURNING *) SELECT * FROM d', "DELETE"),
    (f'SELECT * INTO copy FROM "{A}"', "SELECT … INTO"),
    (f'SELECT * FROM "{A}" FOR UPDATE', "SELECT … FOR UPDATE/SHARE"),
])
def test_postgres_statements_refused(sql: str, found: str) -> None:
    assert refused(sql, "postgres").startswith(f"only SELECT is allowed: found {found}")


def test_one_statement_only(dialect: str) -> None:
    message = refused(f'SELECT 1; DELETE FROM "{A}"', dialect)
    assert message == "exactly one statement is allowed, found 2 (line 1, column 11)"


@pytest.mark.parametrize("table", ["users", "api_tokens", "sqlite_master", "pg_catalog.pg_class",
                                   "information_schema.tables", "main.users", '"ffffffff-0000-4000-8000-000000000000"'])
def test_unknown_and_system_tables_get_the_same_answer(table: str, dialect: str) -> None:
    message = refused(f"SELECT * FROM {table}", dialect)
    assert message.startswith("table not found or not permitted: ")
    assert "(line 1, column" in message


@pytest.mark.parametrize("sql", [
    f'SELECT * FROM "{A}" WHERE name IN (SELECT email FROM users)',
    f'WITH t AS (SELECT * FROM users) SELECT * FROM "{A}", t',
    # Without RECURSIVE a CTE's own name inside its body is the real table, as PostgreSQL reads it.
    "WITH users AS (SELECT * FROM users) SELECT * FROM users",
    # A CTE defined in a subquery does not hide the real table outside it.
    "SELECT * FROM (WITH users AS (SELECT 1) SELECT * FROM users) x, users",
    f'SELECT * FROM "{A}" JOIN "{B}" ON 1 = 1 JOIN sqlite_master ON 1 = 1',
])
def test_hidden_table_references_are_found(sql: str, dialect: str) -> None:
    assert refused(sql, dialect).startswith("table not found or not permitted: ")


def test_cte_names_are_not_tables(dialect: str) -> None:
    check("WITH users AS (SELECT 1 AS x) SELECT * FROM users", dialect)


@pytest.mark.parametrize("sql", [
    "SELECT load_extension('/tmp/evil.so')",
    "SELECT \"load_extension\"('/tmp/evil.so')",
    "SELECT fts3_tokenizer('simple')",
    "SELECT readfile('/etc/passwd')",
    "SELECT writefile('/tmp/x', 'y')",
    "SELECT sqlite_version()",
    "SELECT zeroblob(1000000000)",
])
def test_sqlite_functions_refused(sql: str) -> None:
    assert refused(sql, "sqlite").startswith("function not allowed: ")


@pytest.mark.parametrize("sql", [
    "SELECT pg_sleep(10)",
    "SELECT pg_read_file('/etc/passwd')",
    "SELECT pg_ls_dir('.')",
    "SELECT current_setting('data_directory')",
    "SELECT set_config('search_path', 'public', true)",
    "SELECT lo_import('/etc/passwd')",
    "SELECT dblink('host=x', 'select 1')",
    "SELECT query_to_xml('select * from users', true, true, '')",
    "SELECT * FROM ts_stat('select * from users')",
    "SELECT nextval('s')",
    "SELECT repeat('x', 1000000000)",
    "SELECT lpad('x', 1000000000)",
    "SELECT version()",
])
def test_postgres_functions_refused(sql: str) -> None:
    message = refused(sql, "postgres")
    assert message.startswith(("function not allowed: ", "table not found or not permitted: "))


@pytest.mark.parametrize("sql", [
    "SELECT 'users'::regclass",
    "SELECT CAST('users' AS regclass)",
    "SELECT 1::oid",
    "SELECT NULL::users",  # a table's row type: would show that it exists and its columns
    "SELECT (NULL::public.users).*",
    "SELECT ARRAY[]::users[]",
    "SELECT pg_catalog.upper('x')",
])
def test_postgres_catalog_lookups_refused(sql: str) -> None:
    assert "not allowed" in refused(sql, "postgres")


def test_postgres_table_functions_and_builtin_casts_allowed() -> None:
    check("SELECT * FROM generate_series(1, 3) AS g", "postgres")
    check(f'SELECT total::int4, total::numeric(10, 2), name::text[], name::varchar(3), now()::date FROM "{A}"',
          "postgres")


def test_comments_never_reach_the_engine() -> None:
    query = check(f'SELECT 1 -- */ DROP TABLE "{A}"\n, 2', "postgres")
    assert "DROP" not in query.text and "--" not in query.text


@pytest.mark.parametrize(("sql", "needle"), [
    ("", "sql is empty"),
    ("   ;  ", "sql is empty"),
    ("SELECT (", "SQL syntax error"),
    ("SELECT 'unterminated", "SQL syntax error"),
    ("SELECT " + "(" * 5000 + "1" + ")" * 5000, "SQL"),
    ("SELECT 1 " + " " * 100_001, "longer than"),
])
def test_bad_text_is_named(sql: str, needle: str, dialect: str) -> None:
    assert needle in refused(sql, dialect)


@pytest.mark.parametrize("sql", ["ATTACH DATABASE '/tmp/x.db' AS x", "PRAGMA table_info(users)", "VACUUM",
                                 "LOAD 'plugin'", "  -- note\n  GRANT ALL ON users TO public"])
def test_statements_a_dialect_cannot_parse_are_still_named(sql: str, dialect: str) -> None:
    assert refused(sql, dialect).startswith("only SELECT is allowed: found ")
