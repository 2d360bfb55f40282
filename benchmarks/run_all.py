"""`make bench`: run every benchmarks/bench_*.py module's `main()` and print its figures.

`python -m benchmarks.run_all [name ...]` runs only the named benches (e.g. `catalog sql`). A bench
that fails is reported and the others still run; the exit code says whether all of them ran.
"""

from __future__ import annotations

import importlib
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent


def bench_modules(only: list[str]) -> list[str]:
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if only:
        names = [n for n in names if n.removeprefix("bench_") in only or n in only]
    return names


def main(argv: list[str] | None = None) -> int:
    failed = []
    for name in bench_modules(list(argv if argv is not None else sys.argv[1:])):
        print(f"\n=== {name} ===", flush=True)
        started = time.perf_counter()
        try:
            importlib.import_module(f"benchmarks.{name}").main()
        except Exception:  # noqa: BLE001 — one broken bench must not hide the others' figures
            traceback.print_exc()
            failed.append(name)
        print(f"--- {name}: {time.perf_counter() - started:.0f} s", flush=True)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
