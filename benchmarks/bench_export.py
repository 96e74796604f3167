"""The exported SavedModel against mc_predict: throughput, cold start, size (issue 26).

Side by side in one process, alternating rounds (median of each):
  (a) `mc_predict(model, x, n_samples, seed)` and the summaries the export
      serves (`mean`, `variance`, `predictive_entropy()`, `mutual_information()`);
  (b) the SavedModel written by `mcbridge.export`, loaded with
      `tf.saved_model.load`, its `seeded` signature on the same `x` (the same
      chunk shape: both bit-equal, checked);
  (c) its `serving_default` signature (a seed drawn in the graph);
and `mc_predict` alone (no summaries) for reference.
Then the cold start: a fresh Python that cannot import mcbridge imports
TensorFlow, loads the SavedModel and answers one request (wall time of the
whole process, and its parts), and the SavedModel's size against the
model's `.keras` file.

    .venv/bin/python benchmarks/bench_export.py [--n 512] [--samples 50] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import cpu_extensions, machine  # noqa: E402


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=512, help="inputs per request (default 512)")
    parser.add_argument("--samples", type=int, default=50, help="MC samples (default 50)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds of each (default 5)")
    parser.add_argument("--batch-size", type=int, default=128, help="inputs per compiled call (default 128)")
    args = parser.parse_args()

    import numpy as np
    import tensorflow as tf

    import mcbridge

    print(machine())
    print("CPU:", cpu_extensions())
    model = mcbridge.build_cnn(seed=1)  # the seed CNN, 28x28x1, 10 classes (weights untrained: speed only)
    x = np.random.default_rng(0).random((args.n, 28, 28, 1), dtype=np.float32)
    S, B = args.samples, args.batch_size
    work = Path(tempfile.mkdtemp(prefix="bench-export-"))
    keras_file = work / "cnn.keras"
    model.save(keras_file)
    t0 = time.perf_counter()
    path = Path(mcbridge.export(model, work / "cnn_savedmodel", n_samples=S, batch_size=B))
    export_s = time.perf_counter() - t0
    loaded = tf.saved_model.load(str(path))
    seeded, fresh = loaded.signatures["seeded"], loaded.signatures["serving_default"]
    xt, keys = tf.constant(x), tf.range(args.n, dtype=tf.int64)

    def a():
        r = mcbridge.mc_predict(model, x, n_samples=S, seed=1, batch_size=B)
        return r, (r.mean, r.variance, r.predictive_entropy(), r.mutual_information())

    def a0():
        return mcbridge.mc_predict(model, x, n_samples=S, seed=1, batch_size=B)

    def b():
        return {k: v.numpy() for k, v in seeded(x=xt, seed=tf.constant(1, tf.int64), key=keys).items()}

    def c():
        return {k: v.numpy() for k, v in fresh(x=xt).items()}

    ref, _ = a()  # warm-up (traces) and the bit check
    out = b()
    c()
    same = all(np.array_equal(out[k], v) for k, v in (("mean", ref.mean), ("variance", ref.variance)))
    pe_err = float(np.max(np.abs(out["predictive_entropy"] - ref.predictive_entropy())))
    times = {"a0": [], "a": [], "b": [], "c": []}
    for _ in range(args.rounds):
        for name, fn in (("a0", a0), ("a", a), ("b", b), ("c", c)):
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    rate = {k: args.n * S / v for k, v in med.items()}
    print(f"\nseed CNN, n = {args.n}, S = {S}, batch_size = {B}; median of {args.rounds} rounds; export took {export_s:.1f} s")
    print(f"mean and variance bit-equal: {same}; predictive entropy max |diff| {pe_err:.1e}")
    print(f"    mc_predict alone       : {med['a0']:.3f} s  ({rate['a0']:,.0f} image-samples/s)")
    print(f"(a) mc_predict + summaries : {med['a']:.3f} s  ({rate['a']:,.0f} image-samples/s)")
    print(f"(b) SavedModel, seeded     : {med['b']:.3f} s  ({rate['b']:,.0f} image-samples/s, {med['a'] / med['b']:.2f}x (a))")
    print(f"(c) SavedModel, unseeded   : {med['c']:.3f} s  ({rate['c']:,.0f} image-samples/s, {med['a'] / med['c']:.2f}x (a))")

    np.save(work / "x1.npy", x[:1])
    child = textwrap.dedent(
        f"""
        import sys, time
        t0 = time.perf_counter()
        sys.path.append({sysconfig.get_paths()["purelib"]!r})
        import numpy as np, tensorflow as tf
        t1 = time.perf_counter()
        loaded = tf.saved_model.load({str(path)!r})
        t2 = time.perf_counter()
        out = loaded.signatures["serving_default"](x=tf.constant(np.load({str(work / "x1.npy")!r})))
        out["mean"].numpy()
        t3 = time.perf_counter()
        assert "mcbridge" not in sys.modules
        print(f"{{t1 - t0:.2f}} {{t2 - t1:.2f}} {{t3 - t2:.2f}}")
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    colds = []
    for _ in range(2):
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-I", "-S", "-c", child], env=env, capture_output=True, text=True, cwd=work)
        wall = time.perf_counter() - t0
        if proc.returncode:
            sys.exit(proc.stderr[-2000:])
        colds.append((wall, proc.stdout.split()))
    for wall, (imp, load, call) in colds:
        print(f"cold start (fresh Python without mcbridge, 1 image): {wall:.2f} s wall "
              f"(import TensorFlow {imp} s, load {load} s, first request {call} s)")
    print(f"size: SavedModel {_size(path) / 1e6:.2f} MB, .keras {_size(keras_file) / 1e6:.2f} MB "
          f"({_size(path) / _size(keras_file):.2f}x)")


if __name__ == "__main__":
    main()
