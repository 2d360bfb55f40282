"""Rows added, changed and removed between two CSV snapshots of a small table (versions.py reads them)."""

from __future__ import annotations

from collections import Counter


def _key_index(header: list[str], old: list[tuple], new: list[tuple], primary: list[str]) -> int | None:
    candidates = [header.index(k) for k in primary if k in header][:1] or ([0] if header else [])
    for i in candidates:
        if len({r[i] for r in old}) == len(old) and len({r[i] for r in new}) == len(new):
            return i
    return None


def diff_rows(old: tuple[list[str], list[tuple]] | None, new: tuple[list[str], list[tuple]] | None,
              primary: list[str]) -> dict[str, int]:
    """Rows added, changed and removed between two snapshots (keyed when a unique key exists)."""
    old_header, old_rows = old or ([], [])
    new_header, new_rows = new or ([], [])
    if old_header == new_header and old_header:
        key = _key_index(new_header, old_rows, new_rows, primary)
        if key is not None:
            before = {r[key]: r for r in old_rows}
            after = {r[key]: r for r in new_rows}
            changed = sum(1 for k in after.keys() & before.keys() if after[k] != before[k])
            return {"rows_added": len(after.keys() - before.keys()), "rows_changed": changed,
                    "rows_removed": len(before.keys() - after.keys())}
    a, b = Counter(old_rows), Counter(new_rows)
    return {"rows_added": sum((b - a).values()), "rows_changed": 0, "rows_removed": sum((a - b).values())}
