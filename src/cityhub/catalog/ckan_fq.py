"""CKAN's Solr-flavoured `fq`, `q` field terms and `sort` → our DatasetSearch filters.

Harvesters and scripts send a handful of forms (`organization:x`, `tags:x`, `groups:x`,
`res_format:CSV`, `-field:value`, `a OR b`, `field:(a OR b)`, `metadata_modified:[X TO *]`,
`+dataset_type:dataset`, `capacity:public`). Each maps onto a filter, an exclusion or a time range;
anything else raises SearchQueryError, so a filter is never silently dropped and a harvest never
pulls more than it asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cityhub.catalog.ckan_envelope import SearchQueryError

# CKAN field → our DatasetSearch filter field.
FILTER_FIELDS = {
    "organization": "organization", "owner_org": "organization",
    "tags": "keywords", "tag": "keywords", "keywords": "keywords",
    "groups": "theme", "theme": "theme",
    "res_format": "format", "format": "format",
    "license_id": "license_id",
    "name": "name", "id": "id",
    "access_level": "access_level",
}
# Fields where a dataset holds several values, so `tags:a AND tags:b` is not an intersection of sets.
MULTI_VALUED = {"keywords", "format"}
DATE_FIELDS = {"metadata_modified"}

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<lpar>[-+!]?\()
    | (?P<rpar>\))
    | (?P<op>(?:AND|OR|NOT|&&|\|\|)(?=[\s(]|$))
    | (?P<term>[-+!]?(?:[A-Za-z_][\w.]*|\*):
          (?:"(?:[^"\\]|\\.)*" | \[[^\]]*\] | \{[^}]*\} | \((?:[^()"]|"(?:[^"\\]|\\.)*")*\) | (?:[^\s()\\]|\\.)+))
    | (?P<word>"(?:[^"\\]|\\.)*"|(?:[^\s()\\]|\\.)+)
    )""",
    re.X,
)


@dataclass
class Term:
    field: str
    values: list[str]
    negated: bool = False
    range: tuple[str, str] | None = None


@dataclass
class Filters:
    """What the fq strings asked for, in DatasetSearch's terms."""

    filters: dict[str, list[str]] = field(default_factory=dict)
    exclude: dict[str, list[str]] = field(default_factory=dict)
    modified_since: datetime | None = None
    modified_until: datetime | None = None
    nothing: bool = False  # a filter no dataset can match (e.g. `dataset_type:harvest`)
    words: list[str] = field(default_factory=list)  # free text found in q


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return re.sub(r"\\(.)", r"\1", value)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise SearchQueryError(f"cannot parse {text[pos:]!r}")
        kind = match.lastgroup or "word"
        out.append((kind, match.group(kind)))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def _term(raw: str) -> Term:
    negated = raw[0] in "-!"
    if raw[0] in "-+!":
        raw = raw[1:]
    name, _, value = raw.partition(":")
    if value.startswith(("[", "{")):
        inner = value[1:-1].strip()
        parts = re.split(r"\s+TO\s+", inner)
        if len(parts) != 2:
            raise SearchQueryError(f"range {value!r} must look like [FROM TO UNTIL]")
        return Term(name, [], negated, (parts[0].strip(), parts[1].strip()))
    if value.startswith("(") and value.endswith(")"):
        kinds = _tokens(value[1:-1])
        values = [_unquote(v) for k, v in kinds if k == "word"]
        ops = {v for k, v in kinds if k == "op"}
        if any(k not in ("word", "op") for k, _ in kinds) or ops - {"OR", "||"}:
            raise SearchQueryError(f"{name}:{value}: only OR lists of values are supported inside parentheses")
        if len(values) > 1 and len([1 for k, _ in kinds if k == "op"]) != len(values) - 1:
            raise SearchQueryError(f"{name}:{value}: separate values with OR")
        return Term(name, values, negated)
    return Term(name, [_unquote(value)], negated)


def _groups(tokens: list[tuple[str, str]], *, allow_words: bool) -> tuple[list[list[Term]], list[str]]:
    """Split into AND-ed groups of OR-ed terms (and free words when parsing `q`)."""
    groups: list[list[Term]] = []
    words: list[str] = []
    pending_or = False
    negate_next = False
    i = 0
    while i < len(tokens):
        kind, value = tokens[i]
        if kind == "op":
            if value in ("OR", "||"):
                if not groups:
                    raise SearchQueryError("OR needs a term on each side")
                pending_or = True
            elif value == "NOT":
                negate_next = True
            i += 1
            continue
        if kind == "lpar":
            depth, j = 1, i + 1
            while j < len(tokens) and depth:
                depth += {"lpar": 1, "rpar": -1}.get(tokens[j][0], 0)
                j += 1
            if depth:
                raise SearchQueryError("unbalanced parentheses")
            inner, inner_words = _groups(tokens[i + 1:j - 1], allow_words=False)
            if len(inner) != 1:
                raise SearchQueryError("only OR-ed terms are supported inside parentheses")
            terms = inner[0]
            if value[0] in "-!" or negate_next:
                terms = [Term(t.field, t.values, not t.negated, t.range) for t in terms]
            i = j
        elif kind == "term":
            terms = [_term(value)]
            if negate_next:
                terms[0].negated = not terms[0].negated
            i += 1
        elif kind == "word" and allow_words:
            words.append(_unquote(value))
            i += 1
            negate_next = pending_or = False
            continue
        else:
            raise SearchQueryError(f"{value!r} is not field:value (free text belongs in q)")
        negate_next = False
        if pending_or:
            groups[-1].extend(terms)
            pending_or = False
        else:
            groups.append(terms)
    if pending_or:
        raise SearchQueryError("OR needs a term on each side")
    return groups, words


def _solr_date(text: str, name: str) -> datetime | None:
    text = text.strip().strip('"')
    if text == "*":
        return None
    now = datetime.now(UTC)
    match = re.fullmatch(r"NOW(?:([+-])(\d+)(SECOND|MINUTE|HOUR|DAY|WEEK|MONTH|YEAR)S?)?(?:/(DAY|HOUR))?", text)
    if match:
        sign, amount, unit, round_to = match.groups()
        if amount:
            days = {"SECOND": 1 / 86400, "MINUTE": 1 / 1440, "HOUR": 1 / 24, "DAY": 1, "WEEK": 7, "MONTH": 30,
                    "YEAR": 365}[unit]
            delta = timedelta(days=days * int(amount))
            now = now + delta if sign == "+" else now - delta
        if round_to == "DAY":
            now = now.replace(hour=0, minute=0, second=0, microsecond=0)
        elif round_to == "HOUR":
            now = now.replace(minute=0, second=0, microsecond=0)
        return now
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SearchQueryError(f"{name}: {text!r} is not a date like 2026-01-01T00:00:00Z") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _apply_range(out: Filters, term: Term) -> None:
    if term.field not in DATE_FIELDS or term.range is None:
        raise SearchQueryError(f"ranges are supported on metadata_modified only, not {term.field!r}")
    if term.negated:
        raise SearchQueryError("a negated date range is not supported")
    since = _solr_date(term.range[0], term.field)
    until = _solr_date(term.range[1], term.field)
    if since and (out.modified_since is None or since > out.modified_since):
        out.modified_since = since
    if until and (out.modified_until is None or until < out.modified_until):
        out.modified_until = until


def _special(out: Filters, term: Term) -> bool:
    """Fields that are not plain filters: dataset type, state, site id, capacity."""
    name = term.field
    if name in ("dataset_type", "type"):
        if term.negated == ("dataset" in term.values):
            out.nothing = True
        return True
    if name == "site_id":
        return True
    if name == "state":
        if set(term.values) != {"active"} or term.negated:
            raise SearchQueryError("only state:active datasets are searchable; use include_drafts for drafts")
        return True
    if name == "capacity":
        levels: list[str] = []
        for value in term.values:
            if value not in ("public", "private"):
                raise SearchQueryError("capacity must be public or private")
            levels += ["public"] if value == "public" else ["internal", "restricted"]
        _add(out, Term("access_level", levels, term.negated))
        return True
    if name == "*" and term.values == ["*"] and not term.negated:
        return True
    return False


def _add(out: Filters, term: Term) -> None:
    ours = FILTER_FIELDS.get(term.field, term.field)
    if term.negated:
        out.exclude.setdefault(ours, [])
        out.exclude[ours] += [v for v in term.values if v not in out.exclude[ours]]
        return
    values = list(dict.fromkeys(term.values))
    if ours not in out.filters:
        out.filters[ours] = values
    elif ours in MULTI_VALUED and set(out.filters[ours]) != set(values):
        raise SearchQueryError(f"{term.field}: requiring several values at once is not supported; join them with OR")
    else:
        # One value per dataset: both conditions hold only for values in both lists.
        out.filters[ours] = [v for v in out.filters[ours] if v in values]
        if not out.filters[ours]:
            out.nothing = True


def _apply_group(out: Filters, group: list[Term]) -> None:
    if len(group) == 1:
        term = group[0]
        if term.range is not None:
            _apply_range(out, term)
        elif not _special(out, term):
            if term.field not in FILTER_FIELDS:
                raise SearchQueryError(f"cannot filter on {term.field!r}; use one of "
                                       f"{', '.join(sorted(FILTER_FIELDS))}, capacity or metadata_modified")
            _add(out, term)
        return
    fields = {t.field for t in group}
    if len(fields) != 1 or any(t.negated or t.range for t in group):
        raise SearchQueryError("OR is supported between values of one field (organization:a OR organization:b)")
    merged = Term(group[0].field, [v for t in group for v in t.values])
    _apply_group(out, [merged])


def parse_fq(fqs: list[str], q: str | None = None) -> Filters:
    """All fq strings (and the field terms of q) as one Filters; free words of q stay text."""
    out = Filters()
    for fq in fqs:
        if not isinstance(fq, str):
            raise SearchQueryError("fq must be a string")
        if fq.strip():
            groups, _ = _groups(_tokens(fq), allow_words=False)
            for group in groups:
                _apply_group(out, group)
    if q and q.strip() not in ("", "*:*", "*"):
        tokens = _tokens(q)
        if any(kind in ("term", "lpar") for kind, _ in tokens):
            groups, out.words = _groups(tokens, allow_words=True)
            for group in groups:
                _apply_group(out, group)
        else:
            out.words = [q]
    return out


SORT_KEYS = {
    ("score", "desc"): "relevance",
    ("rank", "desc"): "relevance",
    ("metadata_modified", "desc"): "modified",
    ("metadata_modified", "asc"): "-modified",
    ("metadata_created", "desc"): "created",
    ("metadata_created", "asc"): "-created",
    ("name", "asc"): "name",
    ("name", "desc"): "-name",
    ("title_string", "asc"): "title",
    ("title", "asc"): "title",
    ("id", "asc"): "id",
    ("id", "desc"): "-id",
    ("views_recent", "desc"): "views",
    ("views_total", "desc"): "views",
}


def parse_sort(sort: str | None) -> str:
    """CKAN's "field dir, field dir" → our sort; the first key decides, later ones break ties."""
    if not sort or not sort.strip():
        return "relevance"
    keys = []
    for part in sort.split(","):
        bits = part.split()
        if not bits:
            continue
        name, direction = bits[0], (bits[1].lower() if len(bits) > 1 else "asc")
        if len(bits) > 2 or direction not in ("asc", "desc"):
            raise SearchQueryError(f"sort {part.strip()!r} must be 'field asc' or 'field desc'")
        if (name, direction) not in SORT_KEYS:
            known = ", ".join(f"{n} {d}" for n, d in SORT_KEYS)
            raise SearchQueryError(f"can not sort on {name} {direction}; use one of {known}")
        keys.append(SORT_KEYS[(name, direction)])
    return keys[0] if keys else "relevance"
