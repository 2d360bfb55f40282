"""The validation hook between mapping and upsert. Governance registers its checks here.

A validator gets the source's name and a mapped row and returns None (fine) or a reason; a row with a
reason goes to the quarantine, never silently away.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("cityhub.collect")

Validator = Callable[[str, dict[str, Any]], "str | None"]
_VALIDATORS: list[Validator] = []


def register_validator(fn: Validator) -> Callable[[], None]:
    """Add a row check for every collected row; returns a function that removes it again."""
    _VALIDATORS.append(fn)

    def remove() -> None:
        if fn in _VALIDATORS:
            _VALIDATORS.remove(fn)

    return remove


def has_validators() -> bool:
    """Whether any check is registered (pages skip the per-row call when none is)."""
    return bool(_VALIDATORS)


def validate_row(source_name: str, row: dict[str, Any]) -> str | None:
    """The first reason any validator gives, or None."""
    for fn in list(_VALIDATORS):
        try:
            reason = fn(source_name, row)
        except Exception as exc:  # a broken check quarantines rather than loses the row
            log.exception("validator failed")
            reason = f"validator {getattr(fn, '__name__', fn)} failed: {exc}"
        if reason:
            return reason
    return None
