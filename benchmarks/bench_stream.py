"""Streaming to Parquet (`mcbridge.predict_to_file`) against in-memory `mc_predict`.

Run from the repository root:

    .venv/bin/python benchmarks/bench_stream.py            # full run (several minutes)
    .venv/bin/python benchmarks/bench_stream.py --quick    # short run

Targets (issue 14), measured side by side in this one run:

1. Throughput: `predict_to_file(model, x, "out.parquet")` (summaries, no
   samples kept) at least 0.9x `mc_predict(model, x)` followed by the same
   summaries in memory, on the seed CNN (`mcbridge.build_cnn()`), 28x28
   inputs. Interleaved rounds, median of each.
2. Peak memory: each size in a fresh subprocess, peak resident set
   (ru_maxrss) of `predict_to_file` fed by a generator of input blocks (the
   inputs never all in memory) at n = 20,000 and n = 200,000: the larger
   within 1.2x of the smaller. In-memory `mc_predict` on the same inputs is
   shown for contrast (its inputs and its cube grow with n). A small
   digits-size CNN (8x8x1, 10 classes) keeps the 200,000-input run short.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

MiB = 2**20


def _maxrss_bytes() -> int:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024


def _summaries_in_memory(model, x, n_samples):
    import mcbridge

    r = mcbridge.mc_predict(model, x, n_samples=n_samples, seed=1, progress=False)
    return r.mean, r.variance, r.predictive_entropy(), r.mutual_information(), r.variation_ratio()


def throughput(n: int, n_samples: int, repeats: int) -> None:
    import numpy as np

    import mcbridge

    model = mcbridge.build_cnn(seed=0)
    x = np.random.default_rng(0).random((n, 28, 28, 1), dtype=np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.parquet"
        methods = {
            "in memory: mc_predict + summaries": lambda: _summaries_in_memory(model, x, n_samples),
            "streamed: predict_to_file .parquet": lambda: mcbridge.predict_to_file(
                model, x, out, n_samples=n_samples, seed=1),
        }
        for fn in methods.values():  # untimed: tracing, warm caches
            fn()
        times = {name: [] for name in methods}
        for _ in range(repeats):
            for name, fn in methods.items():
                times[name].append(_common.timed(fn))
    print(f"== 1. throughput, seed CNN, {n:,} inputs x {n_samples} samples, median of {repeats} interleaved")
    med = {name: statistics.median(t) for name, t in times.items()}
    for name, t in med.items():
        print(f"   {name:38s} {n * n_samples / t:9,.0f} image-samples/s  ({t:.2f} s)")
    names = list(med)
    ratio = med[names[0]] / med[names[1]]
    print(f"   ratio streamed / in memory: {ratio:.2f}x  (target >= 0.9x)  {'PASS' if ratio >= 0.9 else 'FAIL'}")


def child(mode: str, n: int, n_samples: int) -> dict:
    """One memory measurement in this fresh process."""
    import numpy as np

    import mcbridge

    model = mcbridge.build_cnn(input_shape=(8, 8, 1), n_classes=10, filters=(16, 32), dense_units=64,
                               padding="same", seed=0)

    def blocks(block=4096):
        rng = np.random.default_rng(0)
        for i in range(0, n, block):
            yield rng.random((min(block, n - i), 8, 8, 1), dtype=np.float32)

    import tracemalloc

    baseline = _maxrss_bytes()
    tracemalloc.start()  # the Python/NumPy heap (inputs, cube, summaries; not TensorFlow's buffers)
    t0 = time.perf_counter()
    if mode == "stream":
        with tempfile.TemporaryDirectory() as tmp:
            mcbridge.predict_to_file(model, blocks(), Path(tmp) / "out.parquet", n_samples=n_samples, seed=0)
    else:
        x = np.concatenate(list(blocks()))
        r = mcbridge.mc_predict(model, x, n_samples=n_samples, seed=0, progress=False)
        r.mutual_information()
    seconds = time.perf_counter() - t0
    heap = tracemalloc.get_traced_memory()[1]
    return {"mode": mode, "n": n, "baseline_rss": baseline, "peak_rss": _maxrss_bytes(),
            "heap_peak": heap, "seconds": seconds}


def memory(sizes, n_samples: int) -> list:
    print(f"\n== 2. peak memory, 8x8 CNN, {n_samples} samples; each run in a fresh subprocess")
    rows = []
    for mode in ("stream", "memory"):
        for n in sizes:
            proc = subprocess.run(
                [sys.executable, __file__, "--child", mode, str(n), "--samples", str(n_samples)],
                capture_output=True, text=True, check=False,
            )
            if proc.returncode != 0:
                print(proc.stderr[-3000:], file=sys.stderr)
                raise SystemExit(1)
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(f"   {mode:7s} n={n:8,d}: peak RSS {row['peak_rss'] / MiB:6.0f} MiB (before the run: "
                  f"{row['baseline_rss'] / MiB:5.0f} MiB), heap peak {row['heap_peak'] / MiB:6.0f} MiB, "
                  f"{row['seconds']:6.1f} s, "
                  f"{n * n_samples / row['seconds']:9,.0f} image-samples/s")
    for mode in ("stream", "memory"):
        a, b = [r for r in rows if r["mode"] == mode][:: len(sizes) - 1][:2]
        ratio = b["peak_rss"] / a["peak_rss"]
        verdict = f"(target <= 1.2x)  {'PASS' if ratio <= 1.2 else 'FAIL'}" if mode == "stream" else "(for contrast)"
        heap = b["heap_peak"] / a["heap_peak"]
        print(f"   {mode}: peak RSS at n={b['n']:,} / at n={a['n']:,} = {ratio:.2f}x  {verdict}; "
              f"heap peak {heap:.2f}x")
    print("   (peak RSS includes TensorFlow's start-up high-water mark; the heap peak is the run's own arrays)")
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer inputs and one round")
    parser.add_argument("--samples", type=int, default=20, help="MC samples in the memory runs (default 20)")
    parser.add_argument("--child", nargs=2, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(child(args.child[0], int(args.child[1]), args.samples)))
        return 0
    print(f"machine: {_common.machine()}")
    if args.quick:
        throughput(500, 30, 1)
        memory([20_000, 200_000], args.samples)
    else:
        throughput(2_000, 30, 3)
        memory([20_000, 200_000], args.samples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
