"""Column types guessed from a sample and confirmed batch by batch, so a big table streams to the loader
while later batches are still being typed (see service._stream_preload).

The outcome is exactly what `infer.infer_types` decides over whole columns, or nothing: whenever a batch
holds a value the guess does not cover (a late "1.5" in an integer column, a non-ISO time), or a column's
result would depend on the whole column at once (derived geometry, a warning to word, fractions of
seconds), `type_batch` answers None and the caller types the whole table the usual way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from cityhub.datastore import infer
from cityhub.datastore.importers.base import RawTable

_STORED = {"integer": pa.int64(), "number": pa.float64(), "boolean": pa.bool_()}
_COUNTED = ("text", "integer", "boolean", "date")
_FRACTION = r":[0-9]{2}\.[0-9]"


@dataclass
class BatchTyping:
    names: list[str]
    kinds: list[str]
    # value counts per batch, per column, while it stays low-cardinality; None once it is not (or not kept)
    counts: list[list[pa.StructArray] | None] = field(default_factory=list)
    batches: list[pa.RecordBatch] = field(default_factory=list)

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([(n, _STORED.get(k, pa.string())) for n, k in zip(self.names, self.kinds, strict=True)])

    @property
    def fields(self) -> list[dict[str, str]]:
        return [{"id": n, "type": k} for n, k in zip(self.names, self.kinds, strict=True)]


def _guess_column(column: pa.ChunkedArray) -> str | None:
    """The type the whole-column rules start from (same sample), or None when streaming cannot match them."""
    head = pc.utf8_trim_whitespace(column.slice(0, infer.SAMPLE * 4))
    sample = pc.filter(head, pc.invert(pc.fill_null(pc.is_in(head, infer.NULL_TOKENS), True))).slice(0, infer.SAMPLE)
    if len(sample) == 0:
        values = pc.utf8_trim_whitespace(column)
        sample = pc.filter(values, pc.invert(pc.fill_null(pc.is_in(values, infer.NULL_TOKENS), True)))
        sample = sample.slice(0, infer.SAMPLE)
        if len(sample) == 0:
            return "text"
    kind = infer._guess(sample)
    if kind == "text" and infer._near_miss(sample):
        return None  # the warning names the first failing line of the whole column
    return kind


def guess_types(raw: RawTable) -> BatchTyping | None:
    """Types for `raw`'s columns from their first values; None when only the whole-column path fits."""
    if raw.forced:
        return None
    kinds = [_guess_column(column) for column in raw.table.columns]
    if None in kinds:
        return None
    numeric = {n.casefold() for n, k in zip(raw.columns, kinds, strict=True) if k in ("integer", "number")}
    if numeric & infer._LAT and numeric & infer._LON:
        return None  # a Point column is derived from the whole of both columns
    return BatchTyping(names=list(raw.columns), kinds=kinds,
                       counts=[[] if k in _COUNTED else None for k in kinds])


def _type_values(kind: str, column: pa.Array) -> pa.Array | None:
    values = pc.utf8_trim_whitespace(column)
    if kind == "text":
        return infer._as_text(values)
    missing = pc.fill_null(pc.is_in(values, infer.NULL_TOKENS), True)
    canonical = infer._fits(values, missing, infer.CANONICAL[kind]) if kind in infer.CANONICAL else None
    if kind == "datetime" and not canonical and pc.any(pc.match_substring_regex(values, _FRACTION)).as_py():
        return None  # fractions of seconds anywhere change every value's form: decided over the whole column
    if not (canonical or infer._fits(values, missing, infer.PATTERNS[kind])):
        return None
    return infer._convert(kind, infer._nulled(values, missing), canonical)


def _merge(tallies: list[pa.StructArray]) -> list[pa.StructArray] | None:
    """Per-batch value counts summed into one (first-seen order, as one pass over the column gives), or
    None once the column has too many values for a histogram."""
    values = pa.concat_arrays([t.field("values") for t in tallies])
    rows = pa.concat_arrays([t.field("counts") for t in tallies])
    summed = pa.table({"values": values, "counts": rows}).group_by("values", use_threads=False).aggregate(
        [("counts", "sum")])
    if summed.num_rows > infer.LOW_CARDINALITY:
        return None
    return [pa.StructArray.from_arrays([summed.column("values").combine_chunks(),
                                        summed.column("counts_sum").combine_chunks()], names=["values", "counts"])]


def _count(tallies: list[pa.StructArray], values: pa.Array) -> list[pa.StructArray] | None:
    tally = pc.value_counts(values)
    if len(tally) > infer.LOW_CARDINALITY:
        return None
    tallies.append(tally)
    if sum(len(t) for t in tallies) > 16 * infer.LOW_CARDINALITY:  # keep the pile small: merge as we go
        return _merge(tallies)
    return tallies


def _histogram(tallies: list[pa.StructArray] | None) -> dict[str, int] | None:
    merged = _merge(tallies) if tallies else None
    if not merged:
        return None
    return {infer._key(v): c for v, c in zip(merged[0].field("values").to_pylist(),
                                             merged[0].field("counts").to_pylist(), strict=True)}


def type_batch(typing: BatchTyping, batch: pa.RecordBatch) -> pa.RecordBatch | None:
    """`batch` converted to the guessed types (and kept for the result), or None if some value does not fit."""
    arrays = []
    for position, kind in enumerate(typing.kinds):
        typed = _type_values(kind, batch.column(position))
        if typed is None:
            return None
        if isinstance(typed, pa.ChunkedArray):
            typed = typed.combine_chunks()
        arrays.append(typed.cast(_STORED.get(kind, pa.string())))
    for position, counts in enumerate(typing.counts):
        if counts is not None:
            typing.counts[position] = _count(counts, arrays[position])
    typed_batch = pa.RecordBatch.from_arrays(arrays, schema=typing.schema)
    typing.batches.append(typed_batch)
    return typed_batch


def typed_table(typing: BatchTyping, raw: RawTable) -> infer.TypedTable:
    """The TypedTable of every typed batch, as infer_types would have made it."""
    columns = [infer.TypedColumn(n, k, _histogram(c))
               for n, k, c in zip(typing.names, typing.kinds, typing.counts, strict=True)]
    return infer.TypedTable(columns=columns, table=pa.Table.from_batches(typing.batches, schema=typing.schema),
                            warnings=list(raw.warnings))
