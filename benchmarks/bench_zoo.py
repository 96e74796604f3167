"""`mc_predict` on a U-Net and a text model against the best naive loop and plain forward passes.

For each model, three ways to get `S` samples of `n` inputs, timed side by side
in one run (best of `--rounds`):

(a) `mcbridge.mc_predict(model, x, n_samples=S)`;
(b) the best naive loop: `model(x_tiled, training=True)` in one compiled
    `tf.function` per chunk of inputs tiled `S` times (Keras draws each row's
    masks independently, so this is the naive loop batched);
(c) plain forward passes of the same `n x S` rows: the same compiled call with
    `training=False` (no masks), the work without Monte Carlo's extras;
(d) U-Net only: its decoder alone (dropout on) on the encoder's outputs
    tiled `S` times: the work left per sample when the encoder and skips run
    once per input, i.e. the floor of (a) for this model.

Ratios above 1 mean `mc_predict` is faster. In the U-Net (dropout at the
bottleneck) the encoder and the skip connections run once per input in (a)
and once per sample in (b) and (c); in the text model (`Embedding` then
`LSTM(dropout, recurrent_dropout)`) nearly everything depends on a dropout.

Run: .venv/bin/python benchmarks/bench_zoo.py [--n 200] [--samples 20]
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import mcbridge  # noqa: E402
from _common import cpu_extensions, machine  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--n", type=int, default=200, help="inputs")
parser.add_argument("--samples", type=int, default=20, help="MC samples per input")
parser.add_argument("--rounds", type=int, default=3)
parser.add_argument("--chunk", type=int, default=16, help="inputs per call in (b) and (c)")
args = parser.parse_args()


def unet(size=64):
    """The U-Net, and its decoder alone as a model of `[bottleneck input, skip 2, skip 1]` (the same layers)."""
    conv = lambda f, k=3: keras.layers.Conv2D(f, k, padding="same", activation="relu")  # noqa: E731
    i = keras.Input((size, size, 1))
    c1 = conv(16)(conv(16)(i))
    c2 = conv(32)(conv(32)(keras.layers.MaxPooling2D()(c1)))
    c3 = conv(64)(keras.layers.MaxPooling2D()(c2))
    decoder = [keras.layers.Dropout(0.5), keras.layers.Conv2DTranspose(32, 2, strides=2, activation="relu"),
               keras.layers.Concatenate(), conv(32), keras.layers.Conv2DTranspose(16, 2, strides=2, activation="relu"),
               keras.layers.Concatenate(), conv(16), keras.layers.Conv2D(3, 1, activation="softmax")]

    def decode(b, s2, s1):
        drop, up2, cat2, d2, up1, cat1, d1, out = decoder
        return out(d1(cat1([up1(d2(cat2([up2(drop(b)), s2]))), s1])))

    model = keras.Model(i, decode(c3, c2, c1), name="unet")
    parts = [keras.Input(t.shape[1:]) for t in (c3, c2, c1)]
    model.decoder = keras.Model(parts, decode(*parts), name="unet_decoder")
    model.encoder = keras.Model(i, [c3, c2, c1], name="unet_encoder")
    return model


def text():
    return keras.Sequential([
        keras.Input((40,), dtype="int32"), keras.layers.Embedding(5000, 64, mask_zero=True),
        keras.layers.LSTM(64, dropout=0.2, recurrent_dropout=0.2), keras.layers.Dropout(0.3),
        keras.layers.Dense(4, activation="softmax"),
    ], name="text_lstm")


def batched(model, training):
    """Runs `model` on chunks of `args.chunk` inputs tiled `args.samples` times (`x` an array or a list)."""
    fn = tf.function(lambda xb: model(xb, training=training), reduce_retracing=True)

    def run(x):
        xs = x if isinstance(x, list) else [x]
        outs = []
        for i in range(0, len(xs[0]), args.chunk):
            xb = [np.concatenate([a[i : i + args.chunk]] * args.samples) for a in xs]
            outs.append(fn(xb if isinstance(x, list) else xb[0]).numpy())
        return outs

    return run


def best(fn):
    fn()  # warm: tracing and compilation are not timed
    times = []
    for _ in range(args.rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


print(f"# {machine()}")
print(f"# {cpu_extensions()}")
print(f"# n={args.n} inputs, S={args.samples} samples, best of {args.rounds}; chunk {args.chunk} inputs for (b), (c)")
rng = np.random.default_rng(0)
for make, x in ((unet, rng.random((args.n, 64, 64, 1)).astype("float32")),
                (text, rng.integers(1, 5000, (args.n, 40)).astype("int32"))):
    keras.utils.set_random_seed(0)
    model = make()
    if x.dtype == np.int32:
        x[:, 30:] = 0  # padding
    t_mc = best(lambda: mcbridge.mc_predict(model, x, n_samples=args.samples, seed=0, progress=False))
    t_naive = best(lambda: batched(model, True)(x))
    t_plain = best(lambda: batched(model, False)(x))
    print(f"{model.name:10s} (a) mc_predict {t_mc:7.3f} s | (b) naive loop {t_naive:7.3f} s ({t_naive / t_mc:4.2f}x) | "
          f"(c) plain forward {t_plain:7.3f} s ({t_plain / t_mc:4.2f}x)")
    if hasattr(model, "decoder"):  # (d): what runs per sample once the encoder runs once per input
        parts = [keras.ops.convert_to_numpy(t) for t in model.encoder.predict(x, batch_size=64, verbose=0)]
        t_dec = best(lambda: batched(model.decoder, True)(parts))
        print(f"{'':10s} (d) its decoder alone on the encoder's outputs (dropout on, chunks of {args.chunk} inputs "
              f"x {args.samples}): {t_dec:7.3f} s = {t_dec / t_plain:4.2f} of (c): mc_predict's floor for this model")
