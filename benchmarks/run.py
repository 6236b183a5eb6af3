# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the benchmarks: ``python -m benchmarks [--quick] [NAME ...]`` (or ``python benchmarks/run.py``).

Each benchmark prints a table and writes ``benchmarks/results/<name>.json``. A benchmark whose
prerequisites do not work (vaultlab, the collection, a lab call) prints "not available" with
the reason and the run carries on with the next one.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from pathlib import Path

if __package__ in (None, ""):  # started as a script: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "benchmarks"

from benchmarks import _common as c  # noqa: E402

BENCHMARKS = ["lab_startup", "replication_lag", "module_overhead", "node_memory", "failover"]
# Run when no name is given; failover takes from minutes (--quick) to most of an hour (make bench).
DEFAULT = ["lab_startup", "replication_lag", "module_overhead", "node_memory"]


def run_one(name: str, quick: bool) -> str:
    module = importlib.import_module(f"benchmarks.{name}")
    start = time.perf_counter()
    try:
        payload = module.run(quick)
    except c.NotAvailable as exc:
        print(f"\n== {name}: not available: {exc}")
        path = c.write_result(name, {"status": "not available", "reason": str(exc), "quick": quick})
        print(f"   ({path.relative_to(c.REPO_ROOT)})")
        return "not available"
    except c.Failed as exc:  # results already written by the benchmark
        print(f"\n== {name}: FAILED: {exc}")
        return "failed"
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # a bug in a benchmark must not hide the others' numbers
        print(f"\n== {name}: FAILED: {type(exc).__name__}: {exc}")
        traceback.print_exc(limit=4)
        c.write_result(name, {"status": "failed", "reason": f"{type(exc).__name__}: {exc}", "quick": quick})
        return "failed"
    elapsed = time.perf_counter() - start
    path = c.write_result(name, {"status": "ok", "elapsed_s": elapsed, **payload})
    print(f"   ({elapsed:.1f} s; {path.relative_to(c.REPO_ROOT)})")
    return "ok"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"benchmarks to run: {', '.join(BENCHMARKS)} (default: all but failover)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats (~15 s each)")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    outcome = {name: run_one(name, args.quick) for name in (args.names or DEFAULT)}
    print("\n== summary: " + ", ".join(f"{n} {s}" for n, s in outcome.items()))
    return 0 if all(s == "ok" for s in outcome.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
