"""Statistical periods: KOSIS period codes to labels and start dates, and the same period a year earlier."""

from __future__ import annotations

import re
from datetime import date

from cityhub.errors import Invalid

PERIODS = ("Y", "Q", "M")
_LABEL = {"Y": re.compile(r"^(\d{4})$"), "Q": re.compile(r"^(\d{4})Q([1-4])$"), "M": re.compile(r"^(\d{4})-(\d{2})$")}


def from_kosis(code: str, period: str) -> str:
    """A KOSIS PRD_DE (2024 | 20243 | 202407) as our label (2024 | 2024Q3 | 2024-07)."""
    code = str(code).strip()
    if period == "Y" and len(code) == 4 and code.isdigit():
        return code
    if period == "Q" and len(code) == 5 and code.isdigit() and code[4] in "1234":
        return f"{code[:4]}Q{code[4]}"
    if period == "Q" and len(code) == 6 and code.isdigit():  # some tables write the quarter as 01..04
        return f"{code[:4]}Q{int(code[4:])}"
    if period == "M" and len(code) == 6 and code.isdigit() and 1 <= int(code[4:]) <= 12:
        return f"{code[:4]}-{code[4:]}"
    raise ValueError(f"period code {code!r} does not fit period {period}")


def start_of(label: str, period: str) -> date:
    """The first day a period label covers."""
    match = _LABEL[period].match(label)
    if not match:
        raise Invalid.field("period", f"{label!r} is not a {period} period (e.g. 2024, 2024Q3, 2024-07)")
    year = int(match.group(1))
    if period == "M" and not 1 <= int(match.group(2)) <= 12:
        raise Invalid.field("period", f"{label!r}: month {match.group(2)} does not exist")
    if period == "Y":
        return date(year, 1, 1)
    if period == "Q":
        return date(year, (int(match.group(2)) - 1) * 3 + 1, 1)
    return date(year, int(match.group(2)), 1)


def year_before(label: str, period: str) -> str:
    """The same period one year earlier (2024Q3 → 2023Q3)."""
    return str(int(label[:4]) - 1) + label[4:]


def label_of(day: date, period: str) -> str:
    if period == "Y":
        return f"{day.year}"
    if period == "Q":
        return f"{day.year}Q{(day.month - 1) // 3 + 1}"
    return f"{day.year}-{day.month:02d}"
