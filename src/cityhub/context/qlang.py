"""The NGSI-LD query language (`q=`): a tokenizer, a recursive-descent parser and a Python matcher.

Grammar (ETSI GS CIM 009 §4.9, the subset clients use):
    query     := or
    or        := and ('|' and)*
    and       := term (';' term)*
    term      := '(' query ')' | '!' path | path [op value]
    op        := == != > >= < <= ~= !~=
    value     := literal ['..' literal] | literal (',' literal)*
    literal   := number | "quoted string" | true | false | bare word (dates, keywords)
    path      := name ('.' name)* ('[' name ']')*      dotted → sub-attribute, [x] → inside a compound value
`;` binds tighter than `|`. The same tree is compiled to SQL (`qsql.py`) for queries and matched in
Python here for subscriptions, so both agree on meaning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

OPS = ("==", "!=", ">=", "<=", ">", "<", "~=", "!~=")
MAX_QUERY_CHARS = 20_000


class QueryError(ValueError):
    """A q expression that does not parse; `position` is the 0-based character offset."""

    def __init__(self, message: str, position: int | None = None) -> None:
        where = f" at character {position + 1}" if position is not None else ""
        super().__init__(f"{message}{where}")
        self.position = position


class QueryTooComplex(QueryError):
    pass


@dataclass(frozen=True)
class Path:
    attr: str
    sub: tuple[str, ...] = ()  # sub-attribute chain (pm25.unitCode)
    compound: tuple[str, ...] = ()  # keys inside a compound value (address[streetAddress])

    def __str__(self) -> str:
        text = ".".join((self.attr, *self.sub))
        return text + "".join(f"[{k}]" for k in self.compound)


@dataclass(frozen=True)
class Range:
    low: Any
    high: Any


@dataclass(frozen=True)
class Compare:
    path: Path
    op: str
    value: Any  # scalar, tuple of scalars (list) or Range


@dataclass(frozen=True)
class Exists:
    path: Path
    present: bool = True


@dataclass(frozen=True)
class And:
    items: tuple[Any, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Any, ...]


Node = Compare | Exists | And | Or

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<op>!~=|~=|==|!=|>=|<=|>|<)
  | (?P<range>\.\.)
  | (?P<punct>[;|(),!\[\]])
  | (?P<word>[^\s;|(),!"<>=~\[\]]+)
    """,
    re.VERBOSE,
)
_NAME = re.compile(r"^[A-Za-z0-9_@#:/\-]+$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")


@dataclass
class Token:
    kind: str
    text: str
    pos: int


def tokenize(text: str, *, max_terms: int) -> list[Token]:
    if len(text) > MAX_QUERY_CHARS:
        raise QueryTooComplex(f"q is {len(text)} characters long; at most {MAX_QUERY_CHARS} are accepted")
    tokens: list[Token] = []
    pos = 0
    ops = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise QueryError(f"unexpected character {text[pos]!r}", pos)
        kind = m.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, m.group(), pos))
            if kind == "op":
                ops += 1
                if ops > max_terms:  # refuse before building a tree for a pathological OR
                    raise QueryTooComplex(f"q has more than {max_terms} comparisons")
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[Token], text: str, max_depth: int) -> None:
        self.tokens = tokens
        self.text = text
        self.i = 0
        self.depth = 0
        self.max_depth = max_depth

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> Token:
        tok = self.peek()
        if tok is None:
            raise QueryError("unexpected end of query", len(self.text))
        self.i += 1
        return tok

    def expect(self, text: str) -> Token:
        tok = self.peek()
        if tok is None or tok.text != text:
            where = tok.pos if tok else len(self.text)
            raise QueryError(f"expected {text!r}", where)
        return self.take()

    def parse(self) -> Node:
        node = self.parse_or()
        tok = self.peek()
        if tok is not None:
            if tok.text == ")":
                raise QueryError("unbalanced parenthesis ')'", tok.pos)
            raise QueryError(f"unexpected {tok.text!r}", tok.pos)
        return node

    def parse_or(self) -> Node:
        items = [self.parse_and()]
        while (tok := self.peek()) is not None and tok.text == "|":
            self.take()
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def parse_and(self) -> Node:
        items = [self.parse_term()]
        while (tok := self.peek()) is not None and tok.text == ";":
            self.take()
            items.append(self.parse_term())
        return items[0] if len(items) == 1 else And(tuple(items))

    def parse_term(self) -> Node:
        tok = self.take()
        if tok.text == "(":
            self.depth += 1
            if self.depth > self.max_depth:
                raise QueryTooComplex(f"q nests parentheses deeper than {self.max_depth}", tok.pos)
            node = self.parse_or()
            closing = self.peek()
            if closing is None or closing.text != ")":
                raise QueryError("unbalanced parenthesis '(' is never closed", tok.pos)
            self.take()
            self.depth -= 1
            return node
        if tok.text == "!":
            return Exists(self.parse_path(self.take()), present=False)
        path = self.parse_path(tok)
        nxt = self.peek()
        if nxt is None or nxt.kind != "op":
            return Exists(path)
        op = self.take().text
        return Compare(path, op, self.parse_value(op))

    def parse_path(self, tok: Token) -> Path:
        if tok.kind != "word":
            raise QueryError(f"expected an attribute name, found {tok.text!r}", tok.pos)
        parts = tok.text.split(".")
        if not all(_NAME.match(p) for p in parts):
            raise QueryError(f"invalid attribute name {tok.text!r}", tok.pos)
        compound: list[str] = []
        while (b := self.peek()) is not None and b.text == "[":
            self.take()
            key = self.take()
            if key.kind != "word" or not _NAME.match(key.text):
                raise QueryError("expected a key inside [ ]", key.pos)
            compound.append(key.text)
            self.expect("]")
        return Path(parts[0], tuple(parts[1:]), tuple(compound))

    def parse_literal(self) -> Any:
        tok = self.take()
        if tok.kind == "string":
            return bytes(tok.text[1:-1], "utf-8").decode("unicode_escape") if "\\" in tok.text else tok.text[1:-1]
        if tok.kind != "word":
            raise QueryError(f"expected a value, found {tok.text!r}", tok.pos)
        text = tok.text
        if text in ("true", "false"):
            return text == "true"
        if ".." in text:  # a bare range like 1..5 arrives as one word
            raise QueryError("ranges are written low..high", tok.pos)
        if _NUMBER.match(text):
            return float(text) if any(c in text for c in ".eE") else int(text)
        return text  # dates, times, bare keywords

    def parse_value(self, op: str) -> Any:
        tok = self.peek()
        if tok is not None and tok.kind == "word" and ".." in tok.text and not tok.text.startswith("."):
            # "18..26" tokenizes as a word because '.' may appear in numbers; split it here.
            self.take()
            low, _, high = tok.text.partition("..")
            return Range(_bare(low, tok.pos), _bare(high, tok.pos))
        first = self.parse_literal()
        nxt = self.peek()
        if nxt is not None and nxt.kind == "range":
            self.take()
            return Range(first, self.parse_literal())
        if nxt is not None and nxt.text == ",":
            values = [first]
            while (sep := self.peek()) is not None and sep.text == ",":
                self.take()
                values.append(self.parse_literal())
            return tuple(values)
        if op in ("~=", "!~=") and not isinstance(first, str):
            raise QueryError("~= needs a pattern string", tok.pos if tok else None)
        if op in ("~=", "!~="):
            try:
                re.compile(first)
            except re.error as exc:
                raise QueryError(f"invalid pattern: {exc}", tok.pos if tok else None) from None
        return first


def _bare(text: str, pos: int) -> Any:
    if _NUMBER.match(text):
        return float(text) if any(c in text for c in ".eE") else int(text)
    if not text:
        raise QueryError("empty bound in range", pos)
    return text


def parse(text: str, *, max_terms: int = 1000, max_depth: int = 32) -> Node:
    """Parse a q expression; raises QueryError (bad syntax) or QueryTooComplex (too many terms)."""
    if not text or not text.strip():
        raise QueryError("empty q expression", 0)
    tokens = tokenize(text, max_terms=max_terms)
    return _Parser(tokens, text, max_depth).parse()


# --- matching normalized entities in Python (subscriptions) ------------------------------------

_MISSING = object()


def resolve(entity: dict[str, Any], path: Path) -> Any:
    """The value a path points at in a normalized entity, or _MISSING."""
    if path.attr in ("id", "type") and not path.sub:
        return entity.get(path.attr, _MISSING)
    node = entity.get(path.attr, _MISSING)
    if isinstance(node, list):
        node = node[0] if node else _MISSING
    for name in path.sub:
        if not isinstance(node, dict) or name not in node:
            return _MISSING
        node = node[name]
    if isinstance(node, dict) and ("value" in node or "object" in node):
        node = node.get("value", node.get("object"))
    for key in path.compound:
        if not isinstance(node, dict) or key not in node:
            return _MISSING
        node = node[key]
    return node


def _compare_one(actual: Any, op: str, expected: Any) -> bool:
    if isinstance(expected, Range):
        return _compare_one(actual, ">=", expected.low) and _compare_one(actual, "<=", expected.high)
    if isinstance(expected, tuple):
        hits = any(_compare_one(actual, "==", v) for v in expected)
        return hits if op == "==" else not hits
    if op in ("~=", "!~="):
        found = isinstance(actual, str) and re.search(expected, actual) is not None
        return found if op == "~=" else not found
    if isinstance(actual, bool) != isinstance(expected, bool):
        return op == "!="
    numeric = isinstance(actual, (int, float)) and isinstance(expected, (int, float))
    if not numeric and type(actual) is not type(expected):
        if not (isinstance(actual, str) and isinstance(expected, str)):
            return op == "!="
    try:
        return {"==": actual == expected, "!=": actual != expected, ">": actual > expected,
                ">=": actual >= expected, "<": actual < expected, "<=": actual <= expected}[op]
    except TypeError:
        return False


def matches(node: Node, entity: dict[str, Any]) -> bool:
    """Does a normalized entity satisfy the parsed q expression?"""
    if isinstance(node, And):
        return all(matches(n, entity) for n in node.items)
    if isinstance(node, Or):
        return any(matches(n, entity) for n in node.items)
    actual = resolve(entity, node.path)
    if isinstance(node, Exists):
        return (actual is not _MISSING) == node.present
    if actual is _MISSING:
        return False
    if isinstance(actual, list) and not isinstance(node.value, tuple):
        return any(_compare_one(a, node.op, node.value) for a in actual)
    return _compare_one(actual, node.op, node.value)
