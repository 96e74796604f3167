"""Memory over many models (issue 20): what stays in the process after each model is gone.

Run from the repository root:

    .venv/bin/python benchmarks/bench_many_models.py            # 4 rounds of 25 models
    .venv/bin/python benchmarks/bench_many_models.py --quick    # 3 rounds of 10 models

Each loop runs in a fresh process: build a small CNN (`mcbridge.build_cnn`,
8x8x1, 3 classes), predict 20 inputs once, delete the model (and, where
named, call `keras.backend.clear_session()`), `rounds` times `per_round`
models; the process's resident set after each round is printed, and the
growth per model over the rounds after the first (the first holds TensorFlow's
and the compiled functions' one-time cost):

* `mc_predict`: `mcbridge.mc_predict(model, x, n_samples=5)`;
* `model.predict`: Keras' own, for comparison;
* `one model's mc_predict`: no new model at all, the same model's
  `mc_predict` after each `clear_session()`: what grows is not per model;
* `XLA kernel only`: no Keras model and no mcbridge: TensorFlow's kernel
  cache cleared (what `clear_session()` does) and a function that calls one
  tiny `jit_compile=True` kernel called again: TensorFlow 2.21 keeps memory
  for every re-instantiation of an XLA kernel (a few KiB for this tiny one;
  mcbridge's mask kernels are larger, and one call holds six).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

CHILD = r"""
import gc, os, sys
sys.path.insert(0, sys.argv[4])
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np, keras, tensorflow as tf
import mcbridge

def rss():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS")) / 1024

mode, rounds, per_round = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
clear = mode.endswith("+clear")
x = np.random.default_rng(0).random((20, 8, 8, 1), dtype=np.float32)
kernel = tf.function(lambda a: tf.reduce_sum(tf.reshape(a, [-1, 8, 8]) * 2.0 + 1.0, axis=0), jit_compile=True)
outer = tf.function(lambda a: kernel(a) * 3.0)
for r in range(rounds):
    for _ in range(per_round):
        if mode.startswith("xla"):
            from tensorflow.python.eager import context
            context.context().clear_kernel_cache()
            outer(x)
            continue
        if mode.startswith("one"):  # the same model every time: nothing new per iteration but the cleared cache
            if r == 0 and _ == 0:
                one = mcbridge.build_cnn(input_shape=(8, 8, 1), n_classes=3, filters=(4, 8), dense_units=16, padding="same")
            mcbridge.mc_predict(one, x, n_samples=5, seed=1)
            keras.backend.clear_session()
            gc.collect()
            continue
        model = mcbridge.build_cnn(input_shape=(8, 8, 1), n_classes=3, filters=(4, 8), dense_units=16, padding="same")
        if mode.startswith("mc"):
            mcbridge.mc_predict(model, x, n_samples=5, seed=1)
        else:
            model.predict(x, verbose=0)
        del model
        if clear:
            keras.backend.clear_session()
        gc.collect()
    print(f"{rss():.1f}", flush=True)
"""

LOOPS = [
    ("mc", "mc_predict"),
    ("mc+clear", "mc_predict, clear_session()"),
    ("predict", "model.predict"),
    ("predict+clear", "model.predict, clear_session()"),
    ("one+clear", "one model's mc_predict, clear_session()"),
    ("xla+clear", "XLA kernel only, kernel cache cleared"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--per-round", type=int, default=25)
    parser.add_argument("--quick", action="store_true", help="3 rounds of 10 models")
    args = parser.parse_args()
    rounds, per_round = (3, 10) if args.quick else (args.rounds, args.per_round)
    print(f"machine: {_common.machine()}")
    print(f"CPU: {_common.cpu_extensions()}")
    print(f"{rounds} rounds of {per_round} models (or kernel-cache clears); RSS in MiB after each round\n")
    for mode, label in LOOPS:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, mode, str(rounds), str(per_round), str(_common.ROOT)],
            capture_output=True, text=True, check=True,
        ).stdout.split()
        rss = [float(v) for v in out]
        growth = (rss[-1] - rss[0]) / ((rounds - 1) * per_round) * 1024
        print(f"   {label:40s} {' -> '.join(f'{v:.0f}' for v in rss):32s} {growth:7.0f} KiB per model")


if __name__ == "__main__":
    main()
