"""Personal data detection and masking for Korean public data.

Detectors look at a column's values (vectorised with Arrow's RE2 regexes, so a million rows scan in
well under a few seconds) and at its name (standard terms such as 성명/name, 주소/address). Matches are
confirmed in Python only where a check is needed: the resident registration number's check digit,
and the Luhn digit of card numbers.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

RRN_RE = r"(?:^|[^0-9])([0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])-?[1-8][0-9]{6})(?:[^0-9]|$)"
PHONE_RE = r"(?:^|[^0-9])(01[016789]-?[0-9]{3,4}-?[0-9]{4}|0(?:2|[3-6][1-5])-[0-9]{3,4}-[0-9]{4})(?:[^0-9]|$)"
EMAIL_RE = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
CARD_RE = r"(?:^|[^0-9])((?:[0-9]{4}[- ]?){3}[0-9]{4})(?:[^0-9]|$)"
# A detailed address: a road name (…로/…길) followed by a building number, or a lot number with 번지/동 호.
ADDRESS_RE = r"[가-힣0-9]+(?:로|길)\s*[0-9]+(?:-[0-9]+)?|[0-9]+번지|[0-9]+동\s*[0-9]+호"

# Columns that hold people's names by their standard terms — not any "…명"/"name" column, which in
# public data is far more often a facility, stop or place name.
NAME_COLUMN = re.compile(
    r"(성명|성함|^이름|고객명|보호자명?|신청인|대상자명|환자명|수급자명|민원인|person_?name|full_?name|customer_?name|"
    r"guardian|applicant|resident_?name)",
    re.I,
)
SURNAMES = (
    "김이박최정강조윤장임한오서신권황안송류전홍고문양손배백허유남심노하곽성차주우구민진나지엄채원천방공현함변염여추도소석선설마길연위표명기반왕금옥육인맹제모탁국어은편용예경봉사부가복태목형피두감"
)
ADDRESS_COLUMN = re.compile(r"(주소|addr|address|거주지)", re.I)
KOREAN_NAME = rf"^(?:[{SURNAMES}][가-힣]{{1,2}}|(?:남궁|황보|제갈|선우|독고|사공|서문)[가-힣]{{1,2}})$"

KINDS = ("rrn", "phone", "email", "card", "address", "name")


@dataclass(frozen=True)
class Finding:
    column: str
    kind: str
    matches: int
    example: str  # already masked: findings never carry the personal data itself


def luhn_valid(value: str) -> bool:
    digits = [int(c) for c in value if c.isdigit()]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return len(digits) in (15, 16) and total % 10 == 0


def _strict_rrn(value: str) -> bool:
    """13 digits whose last is the weighted-sum check digit."""
    digits = [int(c) for c in value if c.isdigit()]
    weights = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
    if len(digits) != 13:
        return False
    return (11 - sum(d * w for d, w in zip(digits, weights, strict=False)) % 11) % 10 == digits[12]


# Timestamps, dates and numbers of up to 8 digits cannot hold any of the kinds above (every digit-based
# kind needs 9+ digits); such columns — often millions of distinct values — are confirmed in one pass.
PLAIN_VALUE = (r"^(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
               r"|[-+]?\d{1,8}(?:[.,]\d+)?|)$")


def _only_dates_or_short_numbers(values: pa.ChunkedArray | pa.Array) -> bool:
    head = values.slice(0, 2000) if isinstance(values, pa.Array) else values.slice(0, 2000)
    if not pc.all(pc.fill_null(pc.match_substring_regex(head, PLAIN_VALUE), True)).as_py():
        return False  # the cheap sample already shows other text: scan the column properly
    return bool(pc.all(pc.fill_null(pc.match_substring_regex(values, PLAIN_VALUE), True)).as_py())


def _distinct(column: pa.ChunkedArray | pa.Array) -> tuple[pa.Array | pa.ChunkedArray, pa.Array | None]:
    """Distinct values and how often each occurs, when values repeat enough for that to pay.

    Real columns repeat a lot, so regexes then run once per value; a column of mostly unique values
    (phone numbers, ids) is scanned as is — hashing a million unique strings costs more than the regexes.
    """
    head = column.slice(0, 5000)
    if len(head) and pc.count_distinct(head).as_py() > len(head) // 2:
        return column, None
    counted = pc.value_counts(column)
    return counted.field("values"), counted.field("counts")


def _weight(mask: pa.Array | pa.ChunkedArray, counts: pa.Array | None) -> int:
    if counts is None:
        return int(pc.sum(mask).as_py() or 0)
    return int(pc.sum(pc.filter(counts, mask)).as_py() or 0)


def _matches(values: pa.Array | pa.ChunkedArray, pattern: str) -> pa.Array | pa.ChunkedArray:
    return pc.fill_null(pc.match_substring_regex(values, pattern), False)


def _first(values: pa.Array | pa.ChunkedArray, mask: pa.Array | pa.ChunkedArray) -> str | None:
    index = pc.index(mask, True).as_py()
    return None if index < 0 else values[index].as_py()


def _digit_matrix(values: pa.Array | pa.ChunkedArray, pattern: str, width: int) -> np.ndarray:
    """The digits of each value's first match as a (n, width) integer matrix, or an empty one."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    found = pc.extract_regex(values, pattern).field("d")
    digits = pc.replace_substring_regex(found, r"[^0-9]", "")
    digits = pc.cast(digits, pa.large_string())
    if pc.any(pc.not_equal(pc.utf8_length(digits), width)).as_py():
        return np.zeros((0, width), dtype=np.int64)
    start = int(np.frombuffer(digits.buffers()[1], dtype=np.int64)[digits.offset])
    raw = np.frombuffer(digits.buffers()[2], dtype=np.uint8, count=len(digits) * width, offset=start)
    return raw.reshape(-1, width).astype(np.int64) - 48


def _rrn_ok(matrix: np.ndarray) -> np.ndarray:
    weights = np.array((2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5))
    return (11 - (matrix[:, :12] @ weights) % 11) % 10 == matrix[:, 12]


def _luhn_ok(matrix: np.ndarray) -> np.ndarray:
    doubled = matrix[:, -2::-2] * 2
    doubled = np.where(doubled > 9, doubled - 9, doubled)
    return (matrix[:, ::-2].sum(axis=1) + doubled.sum(axis=1)) % 10 == 0


# Confirmed kinds: the pattern names its number group `d` so the check runs on exactly those digits.
_CONFIRMED = {
    "rrn": (RRN_RE.replace("(?:^|[^0-9])(", "(?:^|[^0-9])(?P<d>", 1), 13, _rrn_ok),
    "card": (CARD_RE.replace("(?:^|[^0-9])(", "(?:^|[^0-9])(?P<d>", 1), 16, _luhn_ok),
}


def _confirmed_mask(values: pa.Array | pa.ChunkedArray, mask: pa.Array | pa.ChunkedArray, kind: str) -> pa.Array:
    """Narrow a regex match mask to the values whose check digit holds (vectorised, no Python loop)."""
    pattern, width, check = _CONFIRMED[kind]
    if isinstance(mask, pa.ChunkedArray):
        mask = mask.combine_chunks()
    positions = pc.indices_nonzero(mask)
    candidates = pc.take(values, positions)
    matrix = _digit_matrix(candidates, pattern, width)
    if len(matrix) != len(candidates):
        # Unusual digit layouts: confirm one by one rather than guess.
        ok = np.array([(_strict_rrn if kind == "rrn" else luhn_valid)(_first_group(pattern, v))
                       for v in candidates.to_pylist()], dtype=bool)
    else:
        ok = check(matrix)
    confirmed = np.zeros(len(mask), dtype=bool)
    confirmed[positions.to_numpy()[ok]] = True
    return pa.array(confirmed)


def _first_group(pattern: str, value: str) -> str:
    m = re.search(pattern, value)
    return (m.group(1) if m and m.groups() else m.group(0)) if m else value


def scan_column(name: str, values: pa.ChunkedArray | pa.Array | Iterable[object]) -> list[Finding]:
    """Personal data found in one column (text values; others are cast)."""
    if not isinstance(values, (pa.Array, pa.ChunkedArray)):
        values = pa.array([None if v is None else str(v) for v in values], type=pa.string())
    if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
        values = pc.cast(values, pa.string())
    if _only_dates_or_short_numbers(values) and not (NAME_COLUMN.search(name) or ADDRESS_COLUMN.search(name)):
        return []
    total = len(values) - values.null_count
    values, counts = _distinct(values)
    findings: list[Finding] = []
    checks = (
        ("rrn", RRN_RE, mask_rrn),
        ("card", CARD_RE, mask_card),
        ("phone", PHONE_RE, mask_phone),
        ("email", EMAIL_RE, mask_email),
        ("address", ADDRESS_RE, mask_address),
    )
    # Kinds seen in the first values are scanned one by one; the rest share one combined pass, so a
    # column of phone numbers costs two regex passes rather than five (rare values are still found).
    head = values.slice(0, 5000)
    seen = {kind for kind, pattern, _ in checks if pc.any(_matches(head, pattern)).as_py()}
    unseen = [pattern for kind, pattern, _ in checks if kind not in seen]
    rare = bool(unseen) and pc.any(_matches(values, "|".join(f"(?:{p})" for p in unseen))).as_py()
    for kind, pattern, masker in checks:
        if kind not in seen and not rare:
            continue
        mask = _matches(values, pattern)
        if not pc.any(mask).as_py():
            continue
        if kind in _CONFIRMED:
            mask = _confirmed_mask(values, mask, kind)
        first = _first(values, mask)
        if first is not None:
            findings.append(Finding(name, kind, _weight(mask, counts), masker(_first_group(pattern, first))))
    if NAME_COLUMN.search(name):
        mask = _matches(values, KOREAN_NAME)
        first = _first(values, mask)
        if first is not None:
            findings.append(Finding(name, "name", _weight(mask, counts), mask_name(first)))
    if ADDRESS_COLUMN.search(name) and not any(f.kind == "address" for f in findings):
        first = _first(values, pc.fill_null(pc.not_equal(values, ""), False))
        if first:
            findings.append(Finding(name, "address", total, mask_address(first)))
    return findings


PARALLEL_FROM_ROWS = 50_000


def scan_table(table: pa.Table) -> list[Finding]:
    """Personal data in every text column of an Arrow table."""
    from concurrent.futures import ThreadPoolExecutor

    names = [n for n in table.column_names
             if pa.types.is_string(t := table.column(n).type) or pa.types.is_large_string(t) or pa.types.is_integer(t)]
    if table.num_rows < PARALLEL_FROM_ROWS or len(names) < 2:
        # A small table (a collected page every second) scans in less time than a pool takes to start.
        results = [scan_column(n, table.column(n)) for n in names]
    else:
        # Arrow's kernels release the GIL, so columns scan in parallel on every core.
        with ThreadPoolExecutor() as pool:
            results = list(pool.map(lambda n: scan_column(n, table.column(n)), names))
    return [finding for column_findings in results for finding in column_findings]


# --- masking ---------------------------------------------------------------------------------------


def mask_rrn(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    return f"{digits[:6]}-{digits[6]}******" if len(digits) == 13 else "*" * len(value)


def mask_phone(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    if len(digits) < 9:
        return "*" * len(value)
    head = digits[:2] if digits.startswith("02") else digits[:3]
    return f"{head}-{'*' * (len(digits) - len(head) - 4)}-{digits[-4:]}"


def mask_email(value: str) -> str:
    local, _, domain = value.partition("@")
    return f"{local[:1]}{'*' * max(len(local) - 1, 2)}@{domain}"


def mask_card(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    return f"{digits[:4]}-****-****-{digits[-4:]}"


def mask_name(value: str) -> str:
    if len(value) <= 1:
        return "*"
    if len(value) == 2:
        return value[0] + "*"
    return value[0] + "*" * (len(value) - 2) + value[-1]


def mask_address(value: str) -> str:
    """Keep the area (시/구/동 or road name), drop building and unit numbers."""
    return re.sub(r"[0-9]+(?:-[0-9]+)?(?:번지|호|동(?=\s*[0-9]))?", "*", value)


MASKERS = {"rrn": mask_rrn, "phone": mask_phone, "email": mask_email, "card": mask_card, "name": mask_name,
           "address": mask_address}


def mask_value(kind: str, value: str | None) -> str | None:
    """Partial masking of one value, e.g. `010-1234-5678` → `010-****-5678`."""
    if value is None or value == "":
        return value
    if kind in ("rrn", "phone", "card"):
        pattern = {"rrn": RRN_RE, "phone": PHONE_RE, "card": CARD_RE}[kind]
        return re.sub(pattern, lambda m: m.group(0).replace(m.group(1), MASKERS[kind](m.group(1))), value)
    if kind == "email":
        return re.sub(EMAIL_RE, lambda m: mask_email(m.group(0)), value)
    return MASKERS[kind](value)


def pseudonymise(value: str | None, key: str) -> str | None:
    """A keyed hash: the same person gets the same token, which cannot be reversed without the key."""
    if value is None or value == "":
        return value
    return "p_" + hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()[:20]
