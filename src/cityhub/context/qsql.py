"""Compile a parsed q expression (qlang) into a SQL condition on the entities' JSON attributes.

This is the one dialect-specific module of the context domain: SQLite uses json_extract/json_type
on the text document, PostgreSQL jsonb_extract_path(_text)/jsonb_typeof on JSONB. Values are typed
before comparing, so a string never meets a number (and PostgreSQL never fails a cast).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, and_, case, cast, false, func, literal, not_, or_
from sqlalchemy.sql.elements import ColumnElement

from cityhub.context.qlang import And, Compare, Exists, Node, Or, Path, Range

_NUMERIC = {"sqlite": ("integer", "real"), "postgresql": ("number",)}
_STRING = {"sqlite": "text", "postgresql": "string"}


class Compiler:
    def __init__(self, column: Any, dialect: str, id_column: Any = None, type_column: Any = None) -> None:
        self.col = column
        self.pg = dialect == "postgresql"
        self.dialect = "postgresql" if self.pg else "sqlite"
        self.id_col = id_column
        self.type_col = type_column

    # --- JSON access per dialect -------------------------------------------------------------
    def _json_path(self, keys: tuple[str, ...]) -> str:
        return "$" + "".join('."' + k.replace('"', '') + '"' for k in keys)

    def typeof(self, keys: tuple[str, ...]) -> ColumnElement:
        if self.pg:
            return func.jsonb_typeof(func.jsonb_extract_path(self.col, *[literal(k) for k in keys]))
        return func.json_type(self.col, self._json_path(keys))

    def raw(self, keys: tuple[str, ...]) -> ColumnElement:
        if self.pg:
            return func.jsonb_extract_path_text(self.col, *[literal(k) for k in keys])
        return func.json_extract(self.col, self._json_path(keys))

    def number(self, keys: tuple[str, ...]) -> ColumnElement:
        value = cast(self.raw(keys), Float) if self.pg else self.raw(keys)
        return case((self.typeof(keys).in_(_NUMERIC[self.dialect]), value), else_=None)

    def text(self, keys: tuple[str, ...]) -> ColumnElement:
        return case((self.typeof(keys) == _STRING[self.dialect], self.raw(keys)), else_=None)

    def boolean_is(self, keys: tuple[str, ...], expected: bool) -> ColumnElement:
        if self.pg:
            return and_(self.typeof(keys) == "boolean", self.raw(keys) == ("true" if expected else "false"))
        return self.typeof(keys) == ("true" if expected else "false")

    # --- paths ---------------------------------------------------------------------------------
    def candidates(self, path: Path) -> list[tuple[str, ...]]:
        if path.sub:
            base = (path.attr, *path.sub)
            return [(*base, "value", *path.compound), (*base, *path.compound)]
        if path.compound:
            return [(path.attr, "value", *path.compound)]
        return [(path.attr, "value"), (path.attr, "object")]

    def typed(self, path: Path, sample: Any) -> ColumnElement:
        numeric = isinstance(sample, (int, float))
        maker = self.number if numeric else self.text
        keys_list = self.candidates(path)
        if numeric and not path.sub and not path.compound:
            # a Relationship's object is a URI, never a number: one JSON lookup less per row
            keys_list = [k for k in keys_list if k[-1] != "object"]
        exprs = [maker(keys) for keys in keys_list]
        return exprs[0] if len(exprs) == 1 else func.coalesce(*exprs)

    # --- nodes ---------------------------------------------------------------------------------
    def compile(self, node: Node) -> ColumnElement:
        if isinstance(node, And):
            return and_(*[self.compile(n) for n in node.items])
        if isinstance(node, Or):
            return or_(*[self.compile(n) for n in node.items])
        if isinstance(node, Exists):
            if node.path.attr in ("id", "type") and not node.path.sub:
                return literal(True) if node.present else false()
            keys = (node.path.attr, *node.path.sub)
            present = self.typeof(keys).is_not(None)
            return present if node.present else not_(present)
        return self.compare(node)

    def compare(self, node: Compare) -> ColumnElement:
        value = node.value
        if node.path.attr in ("id", "type") and not node.path.sub and self.id_col is not None:
            column = self.id_col if node.path.attr == "id" else self.type_col
            return self._apply(column, node.op, value)
        if isinstance(value, bool) or (isinstance(value, tuple) and value and isinstance(value[0], bool)):
            wanted = value if isinstance(value, tuple) else (value,)
            hits = or_(*[or_(*[self.boolean_is(k, v) for k in self.candidates(node.path)]) for v in wanted])
            return hits if node.op == "==" else and_(self._exists(node.path), not_(hits))
        sample = value.low if isinstance(value, Range) else (value[0] if isinstance(value, tuple) else value)
        expr = self.typed(node.path, sample)
        return self._apply(expr, node.op, value)

    def _exists(self, path: Path) -> ColumnElement:
        return self.typeof((path.attr, *path.sub)).is_not(None)

    def _apply(self, expr: ColumnElement, op: str, value: Any) -> ColumnElement:
        if isinstance(value, Range):
            inside = and_(expr >= value.low, expr <= value.high)
            return inside if op == "==" else and_(expr.is_not(None), not_(inside))
        if isinstance(value, tuple):
            return expr.in_(value) if op == "==" else and_(expr.is_not(None), expr.not_in(value))
        if op == "~=":
            return expr.regexp_match(value)
        if op == "!~=":
            return and_(expr.is_not(None), not_(expr.regexp_match(value)))
        return {"==": lambda: expr == value, "!=": lambda: and_(expr.is_not(None), expr != value),
                ">": lambda: expr > value, ">=": lambda: expr >= value, "<": lambda: expr < value,
                "<=": lambda: expr <= value}[op]()


def compile_q(node: Node, *, column: Any, dialect: str, id_column: Any = None,
              type_column: Any = None) -> ColumnElement:
    """A WHERE condition equivalent to `qlang.matches(node, entity)`."""
    return Compiler(column, dialect, id_column, type_column).compile(node)
