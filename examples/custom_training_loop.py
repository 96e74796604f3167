"""MC dropout with a custom `train_on_batch` loop, then uncertainty per item.

Run: .venv/bin/python examples/custom_training_loop.py [--dataset digits] [--limit N]
"""

import argparse

import numpy as np

import mcbridge
from mcbridge import datasets

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--dataset", choices=["fashion-mnist", "digits"], default="fashion-mnist")
parser.add_argument("--limit", type=int, default=10000, help="training images to use")
parser.add_argument("--epochs", type=int, default=2)
args = parser.parse_args()

load = datasets.load_fashion_mnist if args.dataset == "fashion-mnist" else datasets.load_digits
(x_train, y_train), (x_test, y_test) = load()
x_train, y_train = x_train[: args.limit], y_train[: args.limit]
x_test, y_test = x_test[:1000], y_test[:1000]

model = mcbridge.build_cnn(
    input_shape=x_train.shape[1:], padding="same" if x_train.shape[1] < 16 else "valid", seed=0
)

# 1. Train with mini-batches. Dropout is applied in training whatever the
#    MC switch says, so there is nothing to toggle here.
batch_size = 128
rng = np.random.default_rng(0)
for epoch in range(args.epochs):
    order = rng.permutation(len(x_train))
    losses = []
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        logs = model.train_on_batch(x_train[idx], y_train[idx], return_dict=True)
        losses.append(logs["loss"])
    print(f"epoch {epoch + 1}: mean loss {np.mean(losses):.4f}, accuracy {logs['accuracy']:.3f}")

# 2. MC prediction: 30 stochastic passes per test image, in batches of 128.
result = mcbridge.mc_predict(model, x_test, n_samples=30, batch_size=128, seed=1)
mi = result.mutual_information()
print(f"MC mean accuracy: {np.mean(result.predicted_class == y_test):.4f}")
print(f"first item: class {result.predicted_class[0]} (true {y_test[0]}), "
      f"max variance {result.variance[0].max():.4f}, mutual information {mi[0]:.4f} nats")

# 3. The same model, one stochastic pass at a time, through the switch.
with mcbridge.mc_dropout(model):
    a, b = model.predict(x_test[:1], verbose=0), model.predict(x_test[:1], verbose=0)
print("two MC passes differ:", not np.array_equal(a, b))
