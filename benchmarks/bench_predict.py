"""Throughput of `mcbridge.mc_predict` against the best naive MC dropout loop.

Run from the repository root:

    .venv/bin/python benchmarks/bench_predict.py            # full run (a few minutes)
    .venv/bin/python benchmarks/bench_predict.py --quick    # short run (about a minute)

Targets (issue 4), each measured side by side in this one run:

1. Seed CNN (`mcbridge.build_cnn()` defaults), 2,000 inputs x 30 samples:
   `mc_predict` >= 5x the faster of two naive loops, (a) `model.predict(x,
   batch_size=128)` once per sample with MC dropout switched on, (b) an eager
   `model(x_batch)` per sample and batch. Also the achieved GFLOP/s against a
   NumPy float32 matrix product timed in the same run.
2. Keras MNIST convnet (Conv32-Pool-Conv64-Pool-Flatten-Dropout(0.5)-Dense10),
   same work: >= 20x the best naive loop (deterministic prefix computed once).
   Exactness checks: the prefix path against full replication with the same
   dropout masks (max abs difference), and the MC mean against the naive
   loop's in distribution (z-scores).

Every method runs once untimed first (tracing, warm caches); then the methods
are timed in turn, `--repeats` rounds, and the median of each is reported:
interleaving keeps a noisy shared machine fair to all of them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402  (sets sys.path and TF log level)

import numpy as np  # noqa: E402


def naive_predict_loop(model, x, n_samples):
    """Baseline (a): `model.predict` once per sample, MC dropout on."""
    import mcbridge

    with mcbridge.mc_dropout(model):
        return np.stack(
            [model.predict(x, batch_size=128, verbose=0) for _ in range(n_samples)], axis=-1
        )


def naive_eager_loop(model, x, n_samples, batch_size=128):
    """Baseline (b): eager `model(x_batch)` per sample and batch, MC dropout on."""
    import mcbridge

    out = np.empty((x.shape[0], model.outputs[0].shape[-1], n_samples), np.float32)
    with mcbridge.mc_dropout(model):
        for s in range(n_samples):
            for i in range(0, x.shape[0], batch_size):
                out[i : i + batch_size, :, s] = np.asarray(model(x[i : i + batch_size]))
    return out


def plain_forward(model, n_samples, k):
    """Baseline (c), the physical limit: `n_samples` plain forward passes per input.

    The model's layers with every dropout removed (shared weights), one
    `tf.function` over `k` inputs tiled `n_samples` times per call: the same
    `n x S` rows in the same chunk shape as `mc_predict`'s, with no masks.
    Returns `fn(x)`.
    """
    import keras
    import tensorflow as tf

    from mcbridge._engine import registry

    layers = [layer for layer in model.layers if not registry.is_sampled(layer)]
    plain = keras.Sequential([keras.Input(model.inputs[0].shape[1:]), *layers])

    @tf.function(jit_compile=False, reduce_retracing=True)
    def passes(xb):
        return plain(tf.tile(xb, [n_samples, 1, 1, 1]), training=False)

    def run(x):
        out = np.empty((x.shape[0] * n_samples, plain.outputs[0].shape[-1]), np.float32)
        for i in range(0, x.shape[0], k):
            xb = x[i : i + k]
            if xb.shape[0] < k:  # the traced shape, as mc_predict pads
                xb = np.concatenate([xb, np.repeat(xb[-1:], k - xb.shape[0], axis=0)])
            block = passes(xb).numpy()
            out[i * n_samples : (i + k) * n_samples] = block[: out[i * n_samples : (i + k) * n_samples].shape[0]]
        return out

    return run


def cold_call(n_samples, x, repeats):
    """Median seconds of the first `mc_predict` on a new model, and of the second call."""
    import mcbridge

    first, second = [], []
    for r in range(repeats):
        model = mcbridge.build_cnn(seed=100 + r)
        first.append(_common.timed(lambda: mcbridge.mc_predict(model, x, n_samples, seed=1)))
        second.append(_common.timed(lambda: mcbridge.mc_predict(model, x, n_samples, seed=1)))
    return statistics.median(first), statistics.median(second)


def run_target(name, model, x, n_samples, repeats, extra_methods=()):
    """Time the naive loops and mc_predict side by side; return figures."""
    import mcbridge

    methods = {
        "naive model.predict loop": lambda: naive_predict_loop(model, x, n_samples),
        "naive eager model(x) loop": lambda: naive_eager_loop(model, x, n_samples),
        "mc_predict": lambda: mcbridge.mc_predict(model, x, n_samples, seed=1234),
        **dict(extra_methods),
    }
    outputs = {label: fn() for label, fn in methods.items()}  # warm-up, untimed
    for label in ("naive model.predict loop", "naive eager model(x) loop"):
        spread = float(np.var(outputs[label], axis=-1).mean())
        if not spread > 0:
            raise RuntimeError(f"{label} does not sample dropout masks (variance 0)")
    times = {label: [] for label in methods}
    for _ in range(repeats):
        for label, fn in methods.items():
            times[label].append(_common.timed(fn))
    work = x.shape[0] * n_samples
    rates = {label: work / statistics.median(ts) for label, ts in times.items()}
    naive = {k: v for k, v in rates.items() if k.startswith("naive")}
    best_label = max(naive, key=naive.get)
    return {
        "name": name,
        "n": int(x.shape[0]),
        "n_samples": n_samples,
        "rates": rates,
        "seconds": {k: statistics.median(v) for k, v in times.items()},
        "best_naive": best_label,
        "ratio": rates["mc_predict"] / naive[best_label],
        "outputs": outputs,
    }


def exactness(model, x, n_samples, reference):
    """The prefix path vs full replication (same masks), and vs the naive loop."""
    from mcbridge import predict

    big = 2**40  # one chunk shape for both paths, so the masks are the same
    args = (model, x, n_samples, 128, 7, False, False, big)
    fast = predict._mc_predict(*args, split=True).samples
    full = predict._mc_predict(*args, split=False).samples
    same_masks = float(np.max(np.abs(fast - full)))
    # In distribution: z-scores of mean differences, fast path vs naive loop.
    ours = predict.mc_predict(model, x, reference.shape[-1], seed=11).samples
    se = np.sqrt(ours.var(-1, ddof=1) / ours.shape[-1] + reference.var(-1, ddof=1) / reference.shape[-1])
    ok = se > 0
    z = (ours.mean(-1) - reference.mean(-1))[ok] / se[ok]
    return {
        "max_abs_diff_same_masks": same_masks,
        "z_rms": float(np.sqrt(np.mean(z**2))),
        "frac_abs_z_gt_4": float(np.mean(np.abs(z) > 4)),
        "cells": int(z.size),
    }


def gflops_figures(model, rate_mc, rate_naive):
    """Effective GFLOP/s (full forward per sample) and executed GFLOP/s."""
    from mcbridge import predict

    full = sum(_common.model_flops(model).values())
    sampler = predict._sampler_for(model)
    prefix = sum(_common.model_flops(sampler.prefix).values()) if sampler.prefix is not None else 0
    # mc_predict runs the prefix once per input and the (cropped) suffix once
    # per sample.
    suffix = sum(_common.model_flops(sampler.suffix).values())
    return {
        "mflop_per_forward": full / 1e6,
        "mflop_prefix": prefix / 1e6,
        "mflop_suffix": suffix / 1e6,
        "effective_gflops_mc": rate_mc * full / 1e9,
        "effective_gflops_naive": rate_naive * full / 1e9,
        "executed_gflops_mc_per_sample_work": rate_mc * suffix / 1e9,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short run: 500 inputs, 1 round")
    parser.add_argument("--n", type=int, default=None, help="inputs (default 2000; 500 with --quick)")
    parser.add_argument("--samples", type=int, default=30, help="MC samples per input (default 30)")
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds (default 3; 1 with --quick)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    n = args.n or (500 if args.quick else 2000)
    repeats = args.repeats or (1 if args.quick else 3)

    import keras
    import mcbridge

    import os

    from mcbridge import predict
    from mcbridge._engine.plan import bfloat16_instructions, chunk_plan

    keras.utils.set_random_seed(0)
    print(f"machine: {_common.machine()}")
    print(f"CPU: {_common.cpu_extensions()}; bfloat16 usable: {bfloat16_instructions() or 'no'}")
    load = os.getloadavg()
    print(f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"work: {n} inputs x {args.samples} samples, median of {repeats} interleaved round(s)\n")
    x = np.random.default_rng(0).random((n, 28, 28, 1), dtype=np.float32)

    ceiling = _common.matmul_gflops(2048 if args.quick else 4096)
    report = {"machine": _common.machine(), "n": n, "n_samples": args.samples,
              "repeats": repeats, "matmul_gflops": ceiling, "targets": []}

    targets = [
        ("1. seed CNN (build_cnn())", mcbridge.build_cnn(seed=0), 5.0),
        ("2. Keras MNIST convnet (dropout before the head)",
         mcbridge.build_cnn(dense_units=0, dropout=(0, 0, 0.5), seed=0), 20.0),
    ]
    failed = False
    for t, (title, model, goal) in enumerate(targets):
        extra = ()
        if t == 0:  # the seed CNN: the physical limit and bfloat16, side by side
            sampler = predict._sampler_for(model)
            k = chunk_plan(n, args.samples, 128, sampler.row_bytes, predict.DEFAULT_MEMORY_BUDGET).k
            plain = plain_forward(model, args.samples, k)
            extra = (("plain forward passes", lambda: plain(x)),
                     ("mc_predict bfloat16", lambda: mcbridge.mc_predict(
                         model, x, args.samples, seed=1234, precision="bfloat16")))  # fmt: skip
        res = run_target(title, model, x, args.samples, repeats, extra)
        best = res["rates"][res["best_naive"]]
        flops = gflops_figures(model, res["rates"]["mc_predict"], best)
        ref = res["outputs"]["naive eager model(x) loop"]
        check = exactness(model, x[: min(n, 256)], args.samples, ref[: min(n, 256)])
        exact_ok = check["max_abs_diff_same_masks"] < 1e-5 and check["frac_abs_z_gt_4"] < 0.01
        passed = res["ratio"] >= goal and exact_ok
        failed |= not passed
        print(f"== {title}")
        for label, rate in res["rates"].items():
            mark = "  <- best naive" if label == res["best_naive"] else ""
            print(f"   {label:28s} {_common.fmt_rate(rate):>10s} image-samples/s"
                  f"  ({res['seconds'][label]:.2f} s){mark}")
        print(f"   ratio mc_predict / best naive: {res['ratio']:.1f}x  (target >= {goal:g}x)"
              f"  {'PASS' if res['ratio'] >= goal else 'FAIL'}")
        if "plain forward passes" in res["rates"]:
            r = res["rates"]
            res["ratio_plain"] = r["mc_predict"] / r["plain forward passes"]
            res["ratio_bfloat16"] = r["mc_predict bfloat16"] / r["mc_predict"]
            print(f"   mc_predict / plain forward passes (no dropout, same n x S, one tf.function): "
                  f"{res['ratio_plain']:.2f}x  (goal >= 1.0x)")
            print(f"   mc_predict bfloat16 / float32: {res['ratio_bfloat16']:.2f}x  (goal >= 1.5x with bfloat16 instructions)")
        print(f"   model: {flops['mflop_per_forward']:.2f} MFLOP per forward; mc_predict runs "
              f"{flops['mflop_prefix']:.2f} MFLOP once per input and {flops['mflop_suffix']:.2f} per sample")
        print(f"   GFLOP/s: mc_predict {flops['effective_gflops_mc']:.1f} effective "
              f"({flops['executed_gflops_mc_per_sample_work']:.1f} executed), best naive "
              f"{flops['effective_gflops_naive']:.1f}; NumPy float32 matmul {ceiling:.1f}"
              f" -> mc_predict at {flops['effective_gflops_mc'] / ceiling:.0%} of matmul")
        print(f"   exactness: prefix path vs full replication, same masks: max |diff| = "
              f"{check['max_abs_diff_same_masks']:.2e}; vs naive loop in distribution: "
              f"rms z = {check['z_rms']:.2f}, |z| > 4 in {check['frac_abs_z_gt_4']:.2%} "
              f"of {check['cells']} cells  {'OK' if exact_ok else 'FAIL'}\n")
        res.pop("outputs")
        report["targets"].append({**res, "goal": goal, **flops, "exactness": check, "passed": passed})

    cold_n = x[: min(n, 1000)]
    first, second = cold_call(args.samples, cold_n, max(1, repeats))
    report["cold_call"] = {"n": int(cold_n.shape[0]), "first_s": first, "second_s": second, "ratio": first / second}
    print(f"== cold call: seed CNN, {cold_n.shape[0]} x {args.samples}: first call on a new model {first:.2f} s, "
          f"second {second:.2f} s: {first / second:.2f}x  (goal <= 1.3x)")
    load = os.getloadavg()
    print(f"load average at end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    report["load_end"] = load

    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
        print(f"figures written to {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
