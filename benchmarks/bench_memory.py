"""Peak memory of `mcbridge.mc_predict` against the size of its result.

Run from the repository root:

    .venv/bin/python benchmarks/bench_memory.py            # 10,000 and 60,000 inputs x 100 samples
    .venv/bin/python benchmarks/bench_memory.py --quick    # 2,000 and 12,000 inputs x 100 samples

Target (issue 4): the peak resident memory of `mc_predict` grows with
`n x classes x samples` for the result only. Each size runs in a fresh
subprocess (the seed CNN, `mcbridge.build_cnn()`), which reports:

* `baseline`: peak resident set (ru_maxrss) after TensorFlow, the model and
  the inputs `x` are in memory, before `mc_predict` is called;
* `peak`: peak resident set after `mc_predict` returned;
* `tracemalloc peak`: the largest Python/NumPy heap (the result array is
  allocated there; TensorFlow's own buffers are not tracked by tracemalloc).

`peak - baseline - result` is mc_predict's working memory (compiled
functions, activations of one chunk, at most `memory_budget` bytes plus
TensorFlow's allocator slack): it should not grow with `n`.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

MiB = 2**20


def _maxrss_bytes() -> int:
    # Linux reports kilobytes (macOS bytes).
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024


def child(n: int, n_samples: int) -> dict:
    """Measure one run in this (fresh) process."""
    import tracemalloc

    import numpy as np

    import mcbridge

    model = mcbridge.build_cnn(seed=0)
    x = np.random.default_rng(0).random((n, 28, 28, 1), dtype=np.float32)
    baseline = _maxrss_bytes()
    tracemalloc.start()
    t0 = time.perf_counter()
    result = mcbridge.mc_predict(model, x, n_samples, seed=0, progress=False)
    seconds = time.perf_counter() - t0
    _, heap_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak = _maxrss_bytes()
    assert result.samples.shape == (n, 10, n_samples)
    return {
        "n": n,
        "n_samples": n_samples,
        "x_bytes": int(x.nbytes),
        "result_bytes": int(result.samples.nbytes),
        "baseline_rss": baseline,
        "peak_rss": peak,
        "tracemalloc_peak": heap_peak,
        "seconds": seconds,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 and 12,000 inputs")
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="numbers of inputs")
    parser.add_argument("--samples", type=int, default=100, help="MC samples (default 100)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(child(args.child, args.samples)))
        return 0

    sizes = args.sizes or ([2_000, 12_000] if args.quick else [10_000, 60_000])
    print(f"machine: {_common.machine()}")
    print(f"seed CNN, {args.samples} samples; each size in a fresh subprocess\n")
    rows = []
    for n in sizes:
        proc = subprocess.run(
            [sys.executable, __file__, "--child", str(n), "--samples", str(args.samples)],
            capture_output=True, text=True, check=False,
        )
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            return 1
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))

    head = (f"{'n':>7s} {'result':>9s} {'x':>9s} {'baseline':>9s} {'peak':>9s} "
            f"{'peak-base':>10s} {'working':>9s} {'heap peak':>10s} {'seconds':>8s}")
    print(head + "\n" + "-" * len(head))
    for r in rows:
        delta = r["peak_rss"] - r["baseline_rss"]
        r["working_bytes"] = delta - r["result_bytes"]
        print(f"{r['n']:7d} {r['result_bytes'] / MiB:8.0f}M {r['x_bytes'] / MiB:8.0f}M "
              f"{r['baseline_rss'] / MiB:8.0f}M {r['peak_rss'] / MiB:8.0f}M {delta / MiB:9.0f}M "
              f"{r['working_bytes'] / MiB:8.0f}M {r['tracemalloc_peak'] / MiB:9.0f}M "
              f"{r['seconds']:8.1f}")
    print("(M = MiB; working = peak - baseline - result: mc_predict's own memory)")
    if len(rows) >= 2:
        a, b = rows[0], rows[-1]
        grow_peak = (b["peak_rss"] - b["baseline_rss"]) - (a["peak_rss"] - a["baseline_rss"])
        grow_result = b["result_bytes"] - a["result_bytes"]
        print(f"\nfrom n={a['n']} to n={b['n']}: mc_predict's peak above baseline grew by "
              f"{grow_peak / MiB:.0f} MiB while the result grew by {grow_result / MiB:.0f} MiB "
              f"(ratio {grow_peak / grow_result:.2f}; 1.00 = only the result grows)")
    if args.json:
        args.json.write_text(json.dumps({"machine": _common.machine(), "rows": rows}, indent=2))
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
