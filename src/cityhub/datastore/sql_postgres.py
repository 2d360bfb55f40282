"""Running checked SQL on PostgreSQL: the engine-level wall of the sandbox.

The query runs as sqlglot rendered the checked tree (so what runs is what was checked) inside a
READ ONLY transaction with `statement_timeout`, a search path of pg_catalog and the datastore's
schema only, through a server-side cursor so a huge result never crosses the wire. When the
database lets us, the transaction also switches to a role without privileges except SELECT on the
tables being read (`cityhub_sql_reader`), as CKAN runs datastore_search_sql as a read-only role:
superuser-only functions, other tables and writes then fail in the engine even if a check missed.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from sqlalchemy import Connection, Engine

from cityhub.ctx import RequestContext
from cityhub.datastore.sql import CheckedQuery, RawResult, fetch_capped, infer_type, sql_invalid, timeout_error

log = logging.getLogger("cityhub.datastore.sql")

DIALECT = "postgres"
READER_ROLE = "cityhub_sql_reader"

# Names as sqlglot renders them for PostgreSQL. Not here on purpose: pg_* (sleep, read_file,
# ls_dir, …), lo_*, dblink*, set_config/current_setting, query_to_xml/ts_stat and friends (they run
# SQL given as text), nextval/setval, repeat/lpad/rpad (one call can allocate a gigabyte), xml/xpath.
FUNCTIONS = frozenset("""
abs avg count sum min max coalesce nullif greatest least
upper lower length char_length character_length octet_length bit_length substring substr trim btrim
ltrim rtrim replace position strpos split_part concat concat_ws left right reverse initcap
translate ascii chr starts_with md5 format quote_ident quote_literal quote_nullable
to_char to_date to_timestamp to_number date_trunc date_part extract age make_date make_time
make_timestamp make_timestamptz make_interval date_bin justify_days justify_hours justify_interval
isfinite current_date current_time current_timestamp localtime localtimestamp now
round ceil ceiling floor trunc mod power pow sqrt cbrt exp ln log log10 sign pi degrees radians
sin cos tan asin acos atan atan2 sinh cosh tanh width_bucket div scale gcd lcm factorial random
string_agg array_agg json_agg jsonb_agg json_object_agg jsonb_object_agg json_build_object
jsonb_build_object json_build_array jsonb_build_array to_json to_jsonb json_typeof jsonb_typeof
json_extract_path json_extract_path_text jsonb_extract_path jsonb_extract_path_text
json_array_length jsonb_array_length jsonb_pretty jsonb_strip_nulls row_to_json array_to_json
bool_and bool_or every stddev stddev_pop stddev_samp variance var_pop var_samp corr covar_pop
covar_samp regr_slope regr_intercept regr_r2 regr_count percentile_cont percentile_disc mode
row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value last_value nth_value
regexp_replace regexp_match regexp_matches regexp_split_to_array regexp_like regexp_count
string_to_array array_to_string array_length array_position array_remove array_append array_cat
cardinality array unnest num_nulls num_nonnulls generate_series
cast extract struct
""".split())
TABLE_FUNCTIONS = frozenset("""
generate_series unnest json_array_elements jsonb_array_elements json_array_elements_text
jsonb_array_elements_text json_each jsonb_each json_each_text jsonb_each_text regexp_split_to_table
string_to_table regexp_matches
""".split())
# Casts may name these besides sqlglot's built-in types; never a table's row type or reg* lookups.
NAMED_TYPES = frozenset({"int2", "int4", "int8", "float4", "float8", "bool", "tsvector", "tsquery"})

# pg_type OIDs → CKAN field types
_OID_TYPES = {
    16: "bool", 20: "int", 21: "int", 23: "int", 26: "int", 700: "numeric", 701: "numeric", 1700: "numeric",
    25: "text", 1042: "text", 1043: "text", 19: "text", 2950: "text", 1082: "date", 1083: "time",
    1114: "timestamp", 1184: "timestamp", 1186: "interval", 114: "json", 3802: "json", 17: "bytea",
}
_reader_ready: dict[str, bool] = {}  # engine url → whether the reader role could be made (idempotent cache)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _qualified(table: str) -> str:
    schema, _, name = table.rpartition(".")
    return f"{_quote(schema)}.{_quote(name)}" if schema else _quote(name)


def _ensure_reader(engine: Engine, tables: list[str]) -> bool:
    """Make the reader role and grant it SELECT on these tables (outside the query's transaction).

    False when the database does not let us (no CREATEROLE/GRANT rights): the query then runs
    without the role, still behind the checks and the read-only transaction.
    """
    key = str(engine.url)
    if _reader_ready.get(key) is False:
        return False
    for attempt in range(3):
        try:
            _grant_reader(engine, tables)
            _reader_ready[key] = True
            return True
        except Exception as err:  # noqa: BLE001 - decided below: no rights, or a race with a concurrent GRANT
            if isinstance(getattr(err, "orig", err), pg_errors.InsufficientPrivilege):
                log.warning("SQL sandbox runs without its reader role: %s", err)
                _reader_ready[key] = False
                return False
            if attempt == 2:
                log.warning("SQL sandbox could not grant its reader role: %s", err)
                return False
            time.sleep(0.05 * (attempt + 1))  # "tuple concurrently updated": another GRANT won; look again
    return False


def _grant_reader(engine: Engine, tables: list[str]) -> None:
    with engine.connect() as conn:
        if not conn.exec_driver_sql("SELECT 1 FROM pg_roles WHERE rolname = %s", (READER_ROLE,)).first():
            conn.exec_driver_sql(f"CREATE ROLE {READER_ROLE} NOLOGIN")
        schema = conn.exec_driver_sql("SELECT current_schema()").scalar()
        if not conn.exec_driver_sql("SELECT has_schema_privilege(%s, %s, 'USAGE')", (READER_ROLE, schema)).scalar():
            conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA {_quote(schema)} TO {READER_ROLE}")
        for table in tables:
            has = conn.exec_driver_sql(
                "SELECT has_table_privilege(%s, to_regclass(%s), 'SELECT')", (READER_ROLE, _qualified(table))
            ).scalar()
            if has is False:
                conn.exec_driver_sql(f"GRANT SELECT ON {_qualified(table)} TO {READER_ROLE}")
        conn.commit()


def _begin_sandbox(conn: Connection, *, timeout_ms: int, use_role: bool) -> None:
    conn.exec_driver_sql("SET TRANSACTION READ ONLY")
    schema = conn.exec_driver_sql("SELECT current_schema()").scalar() or "public"
    conn.exec_driver_sql(f"SET LOCAL statement_timeout = {timeout_ms}")
    conn.exec_driver_sql(f"SET LOCAL lock_timeout = {timeout_ms}")
    conn.exec_driver_sql(f"SET LOCAL search_path = pg_catalog, {_quote(schema)}")
    if use_role:
        conn.exec_driver_sql(f"SET LOCAL ROLE {READER_ROLE}")


def execute(ctx: RequestContext, *, query: CheckedQuery, max_rows: int) -> RawResult:
    """Run a checked query in a read-only transaction with a time limit, as the reader role."""
    engine: Engine = ctx.db.get_bind()
    timeout = ctx.settings.sql_timeout_seconds
    use_role = _ensure_reader(engine, list(query.tables))
    deadline = time.monotonic() + timeout
    with engine.connect() as conn:
        _begin_sandbox(conn, timeout_ms=max(1, int(timeout * 1000)), use_role=use_role)
        raw = conn.connection.dbapi_connection
        cursor = raw.cursor(name=f"cityhub_sql_{uuid.uuid4().hex[:12]}")
        try:
            cursor.execute(query.text)
            rows, truncated = fetch_capped(cursor, max_rows, deadline=deadline, timeout=timeout)
            description = cursor.description or []
        except psycopg.Error as err:
            raise _translate(err, timeout) from None
        finally:
            _close_quietly(cursor)
            conn.rollback()
    columns = [d.name for d in description]
    types = [_OID_TYPES.get(d.type_code) or infer_type([r[i] for r in rows]) for i, d in enumerate(description)]
    return RawResult(columns=columns, types=types, rows=rows, truncated=truncated)


def _close_quietly(cursor: Any) -> None:
    try:
        cursor.close()
    except psycopg.Error:
        pass  # the transaction failed; rollback cleans the cursor up


def _translate(err: psycopg.Error, timeout: float) -> Exception:
    message = (err.diag.message_primary if err.diag else None) or str(err).splitlines()[0]
    if isinstance(err, pg_errors.QueryCanceled | pg_errors.LockNotAvailable):
        return timeout_error(timeout)
    if isinstance(err, pg_errors.UndefinedTable):
        name = message.split('"')[1] if message.count('"') >= 2 else message
        return sql_invalid(f"table not found or not permitted: {name}")
    if isinstance(err, pg_errors.InsufficientPrivilege):
        return sql_invalid("not permitted in the SQL sandbox")
    if isinstance(err, pg_errors.ReadOnlySqlTransaction):
        return sql_invalid("only SELECT is allowed")
    return sql_invalid(f"SQL error: {message}")
