"""Uncertainty of a text classifier (Embedding + LSTM with variational dropout), no download.

A synthetic corpus: each "sentence" is up to 12 word ids (0 pads), with
neutral words and a few sentiment words; the label is whether it holds more
positive than negative words. The standard text classifier,
`Embedding(mask_zero=True)` then `LSTM(dropout, recurrent_dropout)`, is
trained briefly; `mcbridge.mc_predict` samples its variational dropout (the
padding mask passes as in `model.predict()`). Sentences that mix both kinds
of words are the ambiguous ones: they get the higher uncertainty.

Run: .venv/bin/python examples/text_classification.py [--sentences 2000] [--epochs 6]
(about 30 seconds on 2 CPU cores with the defaults; the tests run a smaller one).
"""

import argparse

import keras
import numpy as np

import mcbridge

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--sentences", type=int, default=2000, help="training sentences")
parser.add_argument("--test", type=int, default=400, help="test sentences")
parser.add_argument("--epochs", type=int, default=6)
parser.add_argument("--n-samples", type=int, default=30)
args = parser.parse_args()

VOCAB, LENGTH = 60, 12
POSITIVE, NEGATIVE = np.arange(1, 6), np.arange(6, 11)  # word ids; the rest are neutral


def corpus(n: int, rng) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Word ids `(n, LENGTH)` (0 pads the end), labels `(n,)` and whether each sentence mixes both kinds."""
    x = np.zeros((n, LENGTH), "int32")
    y = np.zeros(n, "int64")
    mixed = np.zeros(n, bool)
    for i in range(n):
        length = rng.integers(4, LENGTH + 1)
        words = rng.integers(11, VOCAB, length)
        pos, neg = rng.integers(0, 3, 2)
        if pos == neg:
            pos += 1
        places = rng.choice(length, min(pos + neg, length), replace=False)
        words[places[:pos]] = rng.choice(POSITIVE, len(places[:pos]))
        words[places[pos:]] = rng.choice(NEGATIVE, len(places[pos:]))
        x[i, :length] = words
        y[i] = int(pos > neg)
        mixed[i] = pos > 0 and neg > 0
    return x, y, mixed


rng = np.random.default_rng(0)
x_train, y_train, _ = corpus(args.sentences, rng)
x_test, y_test, mixed = corpus(args.test, rng)
keras.utils.set_random_seed(0)
model = keras.Sequential([
    keras.Input((LENGTH,), dtype="int32"),
    keras.layers.Embedding(VOCAB, 16, mask_zero=True),
    keras.layers.LSTM(16, dropout=0.2, recurrent_dropout=0.2),
    keras.layers.Dropout(0.3),
    keras.layers.Dense(2, activation="softmax"),
])
model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
model.fit(x_train, y_train, epochs=args.epochs, batch_size=32, verbose=0)

result = mcbridge.mc_predict(model, x_test, n_samples=args.n_samples, seed=0)
result.class_names = ("negative", "positive")
print(f"samples {result.samples.shape} (n, classes, samples)")
print(f"accuracy {(result.predicted_class == y_test).mean():.3f}")
mi, entropy = result.mutual_information(), result.predictive_entropy()
print(f"mean mutual information: mixed sentences {mi[mixed].mean():.4f}, one-sided {mi[~mixed].mean():.4f}")
print(f"mean predictive entropy: mixed sentences {entropy[mixed].mean():.4f}, one-sided {entropy[~mixed].mean():.4f}")
i = int(np.argmax(mi))
print(f"most uncertain test sentence: words {x_test[i][x_test[i] > 0].tolist()}, "
      f"p(positive) = {result.mean[i, 1]:.2f} +- {result.std[i, 1]:.2f}, label {result.class_names[y_test[i]]}")
