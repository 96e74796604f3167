"""`mc_predict` throughput against `memory_budget` (the chunk size), seed CNN.

Run from the repository root:

    .venv/bin/python benchmarks/bench_budget.py
    ONEDNN_MAX_CPU_ISA=AVX2 .venv/bin/python benchmarks/bench_budget.py

Each budget runs once untimed (tracing), then the budgets take turns for
`--repeats` rounds; the median of each is printed as a ratio to the default
(256 MiB). It also checks that the budget does not change the samples beyond
float32 rounding (the masks are keyed per input, not per chunk).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402  (sets sys.path and TF log level)

import numpy as np  # noqa: E402

DEFAULT_MIB = 256


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=2000, help="inputs (default 2,000)")
    ap.add_argument("--samples", type=int, default=30, help="MC samples per input (default 30)")
    ap.add_argument("--repeats", type=int, default=3, help="timed rounds (default 3)")
    ap.add_argument("--budgets", type=int, nargs="+", default=[32, 64, 128, 256, 512], help="MiB (default 32 64 128 256 512)")
    args = ap.parse_args(argv)
    budgets = sorted(set(args.budgets) | {DEFAULT_MIB})

    import mcbridge

    print(f"machine: {_common.machine()}")
    print(f"CPU: {_common.cpu_extensions()}")
    model = mcbridge.build_cnn()
    x = np.random.default_rng(0).random((args.n, 28, 28, 1), np.float32)
    reference = None
    for mib in budgets:  # warm-up, and the samples for a seed do not depend on the budget
        samples = mcbridge.mc_predict(model, x[:200], n_samples=args.samples, seed=1, memory_budget=mib << 20).samples
        reference = samples if reference is None else reference
        diff = float(np.max(np.abs(samples - reference)))
        if diff > 1e-6:
            print(f"budget {mib} MiB changed the samples by {diff:.2e} (more than float32 rounding)")
            return 1
    times = {mib: [] for mib in budgets}
    for _ in range(args.repeats):
        for mib in budgets:
            times[mib].append(_common.timed(
                lambda: mcbridge.mc_predict(model, x, n_samples=args.samples, seed=1, memory_budget=mib << 20)))
    base = statistics.median(times[DEFAULT_MIB])
    print(f"seed CNN, {args.n} inputs x {args.samples} samples, median of {args.repeats} interleaved round(s)")
    for mib in budgets:
        med = statistics.median(times[mib])
        rate = _common.fmt_rate(args.n * args.samples / med)
        print(f"  memory_budget {mib:5d} MiB  {rate:>8s} image-samples/s  {base / med:.2f}x of {DEFAULT_MIB} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
