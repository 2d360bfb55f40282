"""Types confirmed batch by batch (the streamed big load) decide exactly what whole-column inference decides,
or hand the table back to it: never a different type, value, histogram or warning."""

from __future__ import annotations

import pyarrow as pa
import pytest

from cityhub.datastore import infer_batches
from cityhub.datastore.importers.base import RawTable
from cityhub.datastore.infer import infer_types


def _raw(columns: dict[str, list[str | None]]) -> RawTable:
    return RawTable(columns=list(columns), table=pa.table({k: pa.array(v, pa.string()) for k, v in columns.items()}),
                    first_data_line=2, warnings=["from the reader"])


def _streamed(raw: RawTable, batch_rows: int = 7):  # noqa: ANN202
    typing = infer_batches.guess_types(raw)
    if typing is None:
        return None
    for batch in raw.table.to_batches(max_chunksize=batch_rows):
        if infer_batches.type_batch(typing, batch) is None:
            return None
    return infer_batches.typed_table(typing, raw)


ROWS = 40
SAME = {
    "integers with N/A and thousands": [f"{i:,}" if i % 9 else "N/A" for i in range(1000, 1000 + ROWS)],
    "numbers": [f" {i * 0.25} " for i in range(ROWS)],
    "booleans": ["TRUE" if i % 3 else "false" for i in range(ROWS)],
    "dotted dates": [f"2024.{1 + i % 12}.{1 + i % 28}" for i in range(ROWS)],
    "ISO dates": [f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(ROWS)],
    "ISO times": [f"2024-01-{1 + i % 28:02d} {i % 24:02d}:05:00" for i in range(ROWS)],
    "times without seconds": [f"2024-01-{1 + i % 28:02d}T{i % 24:02d}:05" for i in range(ROWS)],
    "zoned times": ["2024-01-01T10:00:00+09:00" if i % 2 else "2024-01-01 10:00" for i in range(ROWS)],
    "postal codes": [f"{i:05d}" for i in range(ROWS)],
    "구명": ["중구", "", "해운대구", "-"] * (ROWS // 4),
    "sparse": [None] * (ROWS - 3) + ["1", "2", "3"],
    "empty": [""] * ROWS,
}
LATE = 9_000  # past the sample the guess is made from
HANDED_BACK = {
    "late text in integers": [str(i) for i in range(LATE)] + ["많음"],
    "late decimal in integers": [str(i) for i in range(LATE)] + ["1.5"],
    "late fraction of a second": ["2024-01-01 10:00"] * LATE + ["2024-01-01 10:00:00.5"],
    "impossible late date": ["2024-02-28"] * LATE + ["2024-02-30"],
}


@pytest.mark.parametrize("name", list(SAME))
def test_streamed_types_equal_whole_column_types(name):  # noqa: ANN001
    raw = _raw({name: SAME[name], "n": [str(i) for i in range(ROWS)]})
    whole = infer_types(_raw({name: SAME[name], "n": [str(i) for i in range(ROWS)]}))
    streamed = _streamed(raw)
    assert streamed is not None
    assert [(c.name, c.type, c.histogram) for c in streamed.columns] == \
        [(c.name, c.type, c.histogram) for c in whole.columns]
    assert streamed.table.to_pylist() == whole.table.to_pylist()
    assert streamed.warnings == whole.warnings


@pytest.mark.parametrize("name", list(HANDED_BACK))
def test_a_batch_the_guess_does_not_cover_hands_the_table_back(name):  # noqa: ANN001
    assert _streamed(_raw({name: HANDED_BACK[name]}), batch_rows=1000) is None


def test_columns_decided_over_the_whole_table_are_never_streamed():
    points = _raw({"lat": ["35.1"] * ROWS, "lon": ["129.0"] * ROWS})
    assert infer_batches.guess_types(points) is None  # the Point column needs every value of both
    assert _streamed(_raw({"code": ["a1"] * 10 + [str(i) for i in range(ROWS)]})) is None  # warning to word


@pytest.mark.parametrize("distinct", [30, 1000, 1001])
def test_value_histograms_summed_over_many_batches(distinct):  # noqa: ANN001
    rows = 40_000
    columns = {"code": [str((i * 7) % distinct) for i in range(rows)],
               "name": [f"구{i % distinct}" for i in range(rows)]}
    streamed, whole = _streamed(_raw(columns), batch_rows=300), infer_types(_raw(columns))
    assert [(c.type, c.histogram) for c in streamed.columns] == [(c.type, c.histogram) for c in whole.columns]
    assert (streamed.columns[1].histogram is None) == (distinct > 1000)
