"""The SQL sandbox over the datastore: one SELECT, only tables the caller may read.

The text is parsed with sqlglot in the engine's dialect and checked before anything runs:
exactly one statement, a query (SELECT, WITH … SELECT, UNION …), nothing that writes or changes
the session anywhere in the tree, only datastore tables the caller may read, only functions on the
dialect's allow-list. The dialect modules then run it behind a second, engine-level wall
(`sql_sqlite`: read-only connection with an authorizer; `sql_postgres`: read-only transaction with
`statement_timeout` and a restricted search path), with a time limit and a row cap.

A table that does not exist and a table the caller may not read give the SAME error, so the
sandbox never tells anyone that a restricted table exists.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from time import monotonic as _now
from typing import Any
from uuid import UUID

import sqlglot
from pydantic import BaseModel
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError, TokenError
from sqlglot.optimizer.scope import traverse_scope

from cityhub.auth import policy
from cityhub.ctx import RequestContext
from cityhub.errors import Invalid

policy.declare("sql.run")

MAX_SQL_CHARS = 100_000

# Nodes that write, change the session or reach outside the query, wherever they appear in the tree
# (a data-modifying CTE, SELECT … INTO, SELECT … FOR UPDATE included).
_FORBIDDEN_NODES: tuple[type[exp.Expression], ...] = (
    exp.DML, exp.DDL, exp.Command, exp.Pragma, exp.Attach, exp.Detach, exp.Transaction, exp.Commit,
    exp.Rollback, exp.Set, exp.Into, exp.Lock, exp.Use, exp.Alter, exp.Drop, exp.Analyze,
)
# Casts to PostgreSQL's object-identifier types look catalog objects up by name (existence leaks).
_REG_TYPE = re.compile(r"^\s*(pg_catalog\.)?reg[a-z]*\b", re.IGNORECASE)
_CALL_NAME = re.compile(r'^\s*"?([A-Za-z_][A-Za-z0-9_$]*)"?\s*\(')
_BARE_NAME = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*$")


class SqlResult(BaseModel):
    """What a query returns: CKAN's datastore_search_sql shape."""

    fields: list[dict[str, str]]
    records: list[dict[str, Any]]
    records_truncated: bool = False


@dataclass(frozen=True)
class CheckedQuery:
    """A query that passed the checks: the text the engine runs and the tables it reads."""

    text: str
    # physical table name → the name the caller wrote
    tables: dict[str, str]


@dataclass
class RawResult:
    """Rows as the engine returned them, before they become JSON-friendly records."""

    columns: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool


# --- errors ------------------------------------------------------------------------------------


def sql_invalid(message: str, *, sql: str | None = None, start: int | None = None) -> Invalid:
    """An Invalid on the `sql` field, naming line and column when we know where the problem is."""
    if sql is not None and start is not None and start >= 0:
        line = sql.count("\n", 0, start) + 1
        column = start - (sql.rfind("\n", 0, start) + 1) + 1
        message = f"{message} (line {line}, column {column})"
    return Invalid(message, details={"sql": [message]})


def timeout_error(seconds: float) -> Invalid:
    shown = f"{seconds:g}"
    return sql_invalid(f"query exceeded the {shown} s time limit")


def _start_of(node: exp.Expression) -> int | None:
    """Offset of a node in the caller's text (sqlglot keeps it on identifiers and named calls)."""
    for candidate in (node, node.this if isinstance(node.this, exp.Expression) else None):
        if candidate is not None and "start" in candidate.meta:
            return candidate.meta["start"]
    for child in node.find_all(exp.Identifier):
        if "start" in child.meta:
            return child.meta["start"]
    return None


# --- checks ------------------------------------------------------------------------------------


def check_sql(sql: str, *, dialect: str, tables: Mapping[str, str], functions: frozenset[str],
              table_functions: frozenset[str] = frozenset(),
              named_types: frozenset[str] | None = None) -> tuple[CheckedQuery, exp.Expression]:
    """Parse and check one query.

    `tables` maps the names a caller may use (lower-cased resource ids) to physical table names;
    `functions` is the dialect's allow-list of function names (lower case); `table_functions` the
    functions allowed in FROM (generate_series, unnest, …); `named_types`, when given, the only type
    names outside sqlglot's built-in types a cast may use (a cast to a table's row type would show
    that the table exists and what its columns are).
    """
    if not sql or not sql.strip():
        raise sql_invalid("sql is empty")
    if len(sql) > MAX_SQL_CHARS:
        raise sql_invalid(f"sql is longer than {MAX_SQL_CHARS} characters")
    statement = _parse_one(sql, dialect)
    _check_statement_kind(statement, sql, dialect)
    used = _check_tables(statement, sql, dialect, tables, table_functions)
    _check_functions(statement, sql, dialect, functions, table_functions)
    if named_types is not None:
        _check_casts(statement, sql, dialect, named_types)
    return CheckedQuery(text=statement.sql(dialect, comments=False), tables=used), statement


def _parse_one(sql: str, dialect: str) -> exp.Expression:
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except (SqlglotError, RecursionError) as err:
        raise _unparsable(sql, err) from None
    if not statements:
        raise sql_invalid("sql is empty")
    if len(statements) > 1:
        second = _statement_starts(sql, dialect)
        raise sql_invalid(f"exactly one statement is allowed, found {len(statements)}", sql=sql,
                          start=second[1] if len(second) > 1 else None)
    return statements[0]


_QUERY_WORDS = frozenset({"SELECT", "WITH", "(", "VALUES", "TABLE", "FROM"})
_FIRST_WORD = re.compile(r"^(?:\s|--[^\n]*\n|/\*.*?\*/)*([A-Za-z_]+|\()", re.DOTALL)


def _unparsable(sql: str, err: BaseException) -> Invalid:
    """A statement this dialect cannot even parse: name it when it is not a query, else the syntax error."""
    first = _FIRST_WORD.match(sql)
    if first and first.group(1).upper() not in _QUERY_WORDS:
        return sql_invalid(f"only SELECT is allowed: found {first.group(1).upper()}", sql=sql, start=first.start(1))
    if isinstance(err, RecursionError):
        return sql_invalid("SQL is nested too deeply")
    if isinstance(err, ParseError):
        detail = err.errors[0] if err.errors else {}
        where = f" (line {detail.get('line')}, column {detail.get('col')})" if detail.get("line") else ""
        return sql_invalid(f"SQL syntax error{where}: {detail.get('description') or err}")
    if isinstance(err, TokenError):
        return sql_invalid(f"SQL syntax error: {err}")
    return sql_invalid(f"SQL could not be parsed: {err}")


def _statement_starts(sql: str, dialect: str) -> list[int]:
    """Offsets where statements begin (the first token and each token after a semicolon)."""
    starts: list[int] = []
    after_semicolon = True
    for token in sqlglot.tokenize(sql, read=dialect):
        if token.token_type == sqlglot.TokenType.SEMICOLON:
            after_semicolon = True
            continue
        if after_semicolon:
            starts.append(token.start)
            after_semicolon = False
    return starts


def _kind_name(node: exp.Expression) -> str:
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    if isinstance(node, exp.Into):
        return "SELECT … INTO"
    if isinstance(node, exp.Lock):
        return "SELECT … FOR UPDATE/SHARE"
    if isinstance(node, exp.Create | exp.Drop) and node.args.get("kind"):
        return f"{node.key.upper()} {str(node.args['kind']).upper()}"
    if isinstance(node, exp.Transaction):
        return "BEGIN"
    return node.key.upper()


def _check_statement_kind(statement: exp.Expression, sql: str, dialect: str) -> None:
    if not isinstance(statement, exp.Query):
        tokens = sqlglot.tokenize(sql, read=dialect)
        if isinstance(statement, _FORBIDDEN_NODES) or not tokens:
            name = _kind_name(statement)
        else:  # unknown leading words (REINDEX, LISTEN …) parse as a bare column; name the word itself
            name = tokens[0].text.upper()
        raise sql_invalid(f"only SELECT is allowed: found {name}", sql=sql, start=tokens[0].start if tokens else None)
    for node in statement.walk():
        if isinstance(node, _FORBIDDEN_NODES):
            raise sql_invalid(f"only SELECT is allowed: found {_kind_name(node)}", sql=sql, start=_start_of(node))


def _table_label(table: exp.Table) -> str:
    parts = [p for p in (table.catalog, table.db, table.name) if p]
    return ".".join(parts) or table.sql()


def _real_tables(statement: exp.Expression) -> list[exp.Table]:
    """Every table reference that is not a CTE in scope (subqueries and CTE bodies included).

    Scope analysis decides what a name refers to; any Table node scope analysis did not account for
    is treated as a real table, so a gap in the analysis fails closed.
    """
    cte_refs: set[int] = set()
    try:
        for scope in traverse_scope(statement):
            for table in scope.tables:
                if not table.db and not table.catalog and table.name in scope.cte_sources:
                    cte_refs.add(id(table))
    except (SqlglotError, RecursionError):
        cte_refs.clear()
    return [t for t in statement.find_all(exp.Table) if id(t) not in cte_refs]


def _check_tables(statement: exp.Expression, sql: str, dialect: str, tables: Mapping[str, str],
                  table_functions: frozenset[str]) -> dict[str, str]:
    used: dict[str, str] = {}
    for table in _real_tables(statement):
        if isinstance(table.this, exp.Func):  # FROM generate_series(…): checked as a function
            name = _function_name(table.this, dialect)
            if name not in table_functions:
                raise sql_invalid(f"table not found or not permitted: {name or table.this.sql()}", sql=sql,
                                  start=_start_of(table))
            continue
        physical = None if (table.db or table.catalog) else tables.get(table.name.lower())
        if physical is None:
            raise sql_invalid(f"table not found or not permitted: {_table_label(table)}", sql=sql,
                              start=_start_of(table))
        written = table.name
        used[physical] = written
        # Always point at the physical table, quoted, so case folding can never pick another one;
        # keep the written name as alias so `"<resource id>".column` still resolves.
        schema, _, name = physical.rpartition(".")
        table.set("this", exp.to_identifier(name, quoted=True))
        table.set("db", exp.to_identifier(schema, quoted=True) if schema else None)
        if name != written and not table.alias:
            table.set("alias", exp.TableAlias(this=exp.to_identifier(written, quoted=True)))
    return used


def _function_name(node: exp.Func, dialect: str) -> str:
    """The name the engine will call, as sqlglot generates it for this dialect (lower case)."""
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    text = node.sql(dialect, comments=False)
    match = _CALL_NAME.match(text) or _BARE_NAME.match(text)
    return match.group(1).lower() if match else ""


def _check_casts(statement: exp.Expression, sql: str, dialect: str, named_types: frozenset[str]) -> None:
    for data_type in statement.find_all(exp.DataType):
        kind = data_type.this
        if isinstance(kind, exp.DataType.Type) and kind != exp.DataType.Type.USERDEFINED:
            continue
        name = data_type.sql(dialect).lower().strip('"').removeprefix("pg_catalog.")
        if name not in named_types:
            raise sql_invalid(f"casts to {data_type.sql(dialect)} are not allowed", sql=sql,
                              start=_start_of(data_type.parent or data_type))


def _check_functions(statement: exp.Expression, sql: str, dialect: str, functions: frozenset[str],
                     table_functions: frozenset[str]) -> None:
    for node in statement.find_all(exp.Func):
        if isinstance(node, exp.Cast) and _REG_TYPE.match(node.to.sql(dialect)):
            raise sql_invalid(f"casts to {node.to.sql(dialect)} are not allowed", sql=sql, start=_start_of(node))
        if isinstance(node.parent, exp.Dot) and node.parent.expression is node:
            raise sql_invalid(f"schema-qualified functions are not allowed: {node.parent.sql(dialect)}",
                              sql=sql, start=_start_of(node.parent))
        name = _function_name(node, dialect)
        if not name:
            continue  # an operator written as a function node (a -> 'x'); its operands are checked on their own
        if name in functions or (isinstance(node.parent, exp.Table) and name in table_functions):
            continue
        raise sql_invalid(f"function not allowed: {name}", sql=sql, start=_start_of(node))


# --- the service -------------------------------------------------------------------------------


def _readable_tables(ctx: RequestContext) -> dict[str, str]:
    """Names the caller may use (resource ids) → physical tables, from the catalog's one list."""
    from cityhub.catalog import service as catalog_service

    tables: dict[str, str] = {}
    for ref in catalog_service.readable_resources(ctx):
        tables[ref.id.lower()] = ref.datastore_table or ref.id
    return tables


def run_sql(ctx: RequestContext, *, sql: str, limit: int | None = None) -> SqlResult:
    """Run one read-only SELECT over the datastore tables the caller may read.

    At most `limit` rows (never more than settings.sql_row_cap) come back; `records_truncated`
    says more were there. Bad SQL, forbidden statements or functions, tables that do not exist or
    may not be read, and queries over the time limit raise Invalid naming the problem.
    """
    policy.require(ctx, "sql.run")
    if limit is not None and limit < 0:
        raise Invalid.field("limit", "must be 0 or more")
    cap = ctx.settings.sql_row_cap
    max_rows = cap if limit is None else min(limit, cap)
    tables = _readable_tables(ctx)
    if ctx.settings.is_sqlite:
        from cityhub.datastore import sql_sqlite as engine_module
    else:
        from cityhub.datastore import sql_postgres as engine_module
    query, _ = check_sql(sql, dialect=engine_module.DIALECT, tables=tables, functions=engine_module.FUNCTIONS,
                         table_functions=engine_module.TABLE_FUNCTIONS, named_types=engine_module.NAMED_TYPES)
    if engine_module.DIALECT == "sqlite" and _same_names(query):
        # SQLite runs the caller's own text (its authorizer is the engine-level wall); PostgreSQL runs
        # sqlglot's rendering of the checked tree, so what runs is exactly what was checked.
        query = CheckedQuery(text=sql, tables=query.tables)
    raw = engine_module.execute(ctx, query=query, max_rows=max_rows)
    return to_result(raw)


def _same_names(query: CheckedQuery) -> bool:
    # SQLite table names are case-insensitive; the caller's text is fine when it names physical tables.
    return all(physical.lower() == written.lower() for physical, written in query.tables.items())


def to_result(raw: RawResult) -> SqlResult:
    """Engine rows → CKAN-shaped fields and JSON-friendly records (duplicate names made unique)."""
    keys: list[str] = []
    seen: dict[str, int] = {}
    for name in raw.columns:
        count = seen.get(name, 0)
        seen[name] = count + 1
        keys.append(name if count == 0 else f"{name}_{count + 1}")
    fields = [{"id": key, "type": kind} for key, kind in zip(keys, raw.types, strict=True)]
    converters = [_BOOL if kind == "bool" else _plain for kind in raw.types]
    records = [
        {key: convert(value) for key, convert, value in zip(keys, converters, row, strict=True)}
        for row in raw.rows
    ]
    return SqlResult(fields=fields, records=records, records_truncated=raw.truncated)


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and abs(value) < 2**63 else float(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, (list, dict)):
        return value
    return str(value)


def _BOOL(value: Any) -> Any:  # noqa: N802 - a converter constant, named like one
    if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
        return bool(value)
    return _plain(value)



MAX_RESULT_BYTES = 64 * 1024 * 1024
FETCH_BATCH = 500


def fetch_capped(cursor: Any, max_rows: int, *, deadline: float | None = None,
                 timeout: float = 0.0) -> tuple[list[tuple[Any, ...]], bool]:
    """Up to `max_rows` rows (one more tells whether there were more) within a memory budget.

    A query can make every value huge (printf with a big width, lpad()), so rows stop coming once
    about MAX_RESULT_BYTES were read; the result is then marked truncated like a capped one.
    `deadline` (monotonic) bounds the whole fetch where the engine's limit is per statement.
    """
    rows: list[tuple[Any, ...]] = []
    size = 0
    while len(rows) <= max_rows:
        if deadline is not None and rows and _now() > deadline:
            raise timeout_error(timeout)
        batch = cursor.fetchmany(min(FETCH_BATCH, max_rows + 1 - len(rows)))
        if not batch:
            return rows, False
        for row in batch:
            size += sum(len(v) if isinstance(v, (str, bytes)) else 8 for v in row)
            if size > MAX_RESULT_BYTES:
                return rows, True
            rows.append(tuple(row))
    return rows[:max_rows], True


def infer_type(values: list[Any], declared: str | None = None) -> str:
    """A CKAN field type from a declared column type, else from the values that came back."""
    if declared:
        return declared
    for value in values:
        if value is None:
            continue
        if isinstance(value, bool):
            return "bool"
        if isinstance(value, int):
            return "int"
        if isinstance(value, (float, Decimal)):
            return "numeric"
        if isinstance(value, datetime):
            return "timestamp"
        if isinstance(value, date):
            return "date"
        if isinstance(value, (bytes, memoryview)):
            return "bytea"
        return "text"
    return "text"
