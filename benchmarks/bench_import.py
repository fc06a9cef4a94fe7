"""Time `import modelmgmt` in a fresh interpreter against peers' imports (same machine, same run).

Usage: python benchmarks/bench_import.py [--quick] [--runs N]
Prints the median wall time of each import and the speedup (peer time / our time).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys

CASES = {
    "modelmgmt": "import modelmgmt",
    "modelmgmt + metrics": "import modelmgmt; modelmgmt.metrics",
    "sklearn.metrics": "import sklearn.metrics",
    "mlflow": "import mlflow",
    "torch.optim": "import torch.optim",
}


def time_import(statement: str, runs: int) -> float:
    """Median seconds for `statement` in a fresh interpreter, measured inside it."""
    code = (
        "import time; t = time.perf_counter(); "
        f"{statement}; print(time.perf_counter() - t)"
    )
    times = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one run each, ours and sklearn only")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    runs = 1 if args.quick else args.runs
    ours = time_import(CASES["modelmgmt"], runs)
    print(f"{'import':<22}{'median ms':>10}{'speedup':>10}")
    print(f"{'modelmgmt':<22}{ours * 1e3:>10.1f}{'1.0x':>10}")
    for name, stmt in CASES.items():
        if name == "modelmgmt":
            continue
        top = stmt.split()[1].split(".")[0].rstrip(";")
        if importlib.util.find_spec(top) is None or (args.quick and name not in ("sklearn.metrics",)):
            print(f"{name:<22}{'skipped (not installed)' if not args.quick else 'skipped (--quick)':>20}")
            continue
        t = time_import(stmt, runs)
        print(f"{name:<22}{t * 1e3:>10.1f}{t / ours:>9.1f}x")
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, modelmgmt; print('scipy' in sys.modules)"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    print(f"scipy imported by `import modelmgmt`: {loaded}")


if __name__ == "__main__":
    main()
