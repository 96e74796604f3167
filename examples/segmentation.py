"""Per-pixel uncertainty of a small U-Net on synthetic shapes (no download).

Each image holds a filled disc and a filled square on a noisy background;
the task labels every pixel as background (0), disc (1) or square (2). A small
U-Net with dropout at the bottleneck is trained for a few epochs, then
`mcbridge.mc_predict` returns samples `(n, H, W, classes, samples)`: the
per-pixel mean, predicted class and mutual information `(n, H, W)`. The
uncertain pixels sit on the shapes' edges, and the errors gather among the
most uncertain pixels. With `--picture` it saves input, prediction and uncertainty
side by side.

Run: .venv/bin/python examples/segmentation.py [--images 600] [--epochs 8] [--picture seg.png]
(about a minute on 2 CPU cores with the defaults; the tests run a smaller one).
"""

import argparse

import keras
import numpy as np

import mcbridge

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--images", type=int, default=600, help="training images (another 100 are the test set)")
parser.add_argument("--size", type=int, default=24, help="image height and width")
parser.add_argument("--epochs", type=int, default=15)
parser.add_argument("--n-samples", type=int, default=30)
parser.add_argument("--picture", default=None, help="save input, prediction and uncertainty to this PNG")
args = parser.parse_args()


def shapes(n: int, size: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """`n` images `(size, size, 1)` in [0, 1] and their pixel labels `(size, size)`."""
    yy, xx = np.mgrid[:size, :size]
    x = rng.normal(0.2, 0.1, (n, size, size)).astype("float32")
    y = np.zeros((n, size, size), "int64")
    for i in range(n):
        r = rng.integers(3, size // 4)
        cy, cx = rng.integers(r, size - r, 2)
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2
        s = rng.integers(3, size // 3)
        top, left = rng.integers(0, size - s, 2)
        square = (yy >= top) & (yy < top + s) & (xx >= left) & (xx < left + s)
        y[i][disc], y[i][square] = 1, 2
        x[i][disc | square] += rng.uniform(0.4, 0.7)
    return np.clip(x, 0, 1)[..., None], y


def unet(size: int) -> keras.Model:
    """Two levels, `Dropout(0.5)` at the bottleneck, a skip connection, softmax per pixel."""
    inputs = keras.Input((size, size, 1))
    c1 = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    c2 = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(keras.layers.MaxPooling2D()(c1))
    b = keras.layers.Dropout(0.5)(c2)
    u = keras.layers.Conv2DTranspose(8, 2, strides=2, activation="relu")(b)
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(keras.layers.Concatenate()([u, c1]))
    return keras.Model(inputs, keras.layers.Conv2D(3, 1, activation="softmax")(h))


rng = np.random.default_rng(0)
x_train, y_train = shapes(args.images, args.size, rng)
x_test, y_test = shapes(100, args.size, rng)
keras.utils.set_random_seed(0)
model = unet(args.size)
model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
model.fit(x_train, y_train, epochs=args.epochs, batch_size=32, verbose=0)

result = mcbridge.mc_predict(model, x_test, n_samples=args.n_samples, seed=0)
print(f"samples {result.samples.shape} (n, H, W, classes, samples)")
mi = result.mutual_information()  # (n, H, W)
wrong = result.predicted_class != y_test
print(f"pixel accuracy {1 - wrong.mean():.3f}")
entropy = result.predictive_entropy()  # (n, H, W)
top = entropy >= np.quantile(entropy, 0.9)
print(f"error rate of the 10% most uncertain pixels (predictive entropy) {wrong[top].mean():.3f}, "
      f"of the others {wrong[~top].mean():.3f}")
edges = np.zeros_like(wrong)
edges[:, 1:, :] |= y_test[:, 1:, :] != y_test[:, :-1, :]
edges[:, :, 1:] |= y_test[:, :, 1:] != y_test[:, :, :-1]
print(f"mean mutual information on shape edges {mi[edges].mean():.4f}, elsewhere {mi[~edges].mean():.4f}")

if args.picture:
    from mcbridge import plots

    plots.uncertainty_map(result, x_test, 0, y=y_test, class_names=("background", "disc", "square"), path=args.picture)
    print(f"Wrote {args.picture}")
