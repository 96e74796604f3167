"""Python side of the R package's calls (not part of the public Python API).

Everything returned to R is either a plain Python value (int, float, str,
list, dict) or is handed over through the Arrow C data interface with
`mcbridge.arrow`, because reticulate < 1.38 cannot convert NumPy 2 arrays.
"""

from __future__ import annotations

import numpy as np

import mcbridge
from mcbridge import arrow


def from_r(array_addr, schema_addr):
    """Imports an array exported by R as a C-ordered NumPy array (a copy)."""
    x = arrow.import_from_c(array_addr, schema_addr, copy=False)
    return np.array(x, order="C", copy=True)


def to_r(obj, array_addr, schema_addr):
    """Exports an MCResult or array for R (zero-copy when Fortran-ordered)."""
    arrow.export_to_c(obj, array_addr, schema_addr)


def to_r_field(obj, array_addr, schema_addr, name):
    """Exports `obj[name]` (dict item) for R."""
    arrow.export_to_c(obj[name], array_addr, schema_addr)


def input_rank(model):
    """Rank of the model's (first) input including the batch axis, or None."""
    try:
        inputs = model.inputs
        if inputs:
            return int(len(inputs[0].shape))
    except Exception:
        pass
    try:
        return int(len(model.input_shape))
    except Exception:
        return None


def _plain(logs):
    return {str(k): float(np.asarray(v)) for k, v in dict(logs).items()}


def fit(model, x, y, batch_size, epochs, validation_split, verbose):
    history = model.fit(
        x,
        y,
        batch_size=int(batch_size),
        epochs=int(epochs),
        validation_split=float(validation_split),
        verbose=verbose,
    )
    return {
        str(k): [float(np.asarray(v)) for v in values]
        for k, values in history.history.items()
    }


def train_on_batch(model, x, y):
    return _plain(model.train_on_batch(x, y, return_dict=True))


def evaluate(model, x, y, batch_size, verbose):
    return _plain(
        model.evaluate(x, y, batch_size=int(batch_size), verbose=verbose, return_dict=True)
    )


def predict(model, x, n_samples, batch_size, seed):
    return mcbridge.mc_predict(
        model,
        x,
        n_samples=int(n_samples),
        batch_size=int(batch_size),
        seed=None if seed is None else int(seed),
    )


def n_classes(result):
    return int(result.samples.shape[1])


def load_model(path):
    return mcbridge.load_model(path)


def dataset(name, path=None):
    """Raw (unnormalised) integer images without the channel axis, and labels."""
    if name == "fashion_mnist":
        (x_tr, y_tr), (x_te, y_te) = mcbridge.datasets.load_fashion_mnist(
            path=path, normalize=False
        )
    elif name == "digits":
        (x_tr, y_tr), (x_te, y_te) = mcbridge.datasets.load_digits(normalize=False)
    else:
        raise ValueError(f"Unknown dataset: {name!r}")

    def prep(x):
        x = np.asarray(x)
        if x.ndim == 4 and x.shape[-1] == 1:
            x = x[..., 0]
        return np.asfortranarray(x)

    return {
        "x_train": prep(x_tr),
        "y_train": np.asarray(y_tr, dtype=np.int32),
        "x_test": prep(x_te),
        "y_test": np.asarray(y_te, dtype=np.int32),
    }
