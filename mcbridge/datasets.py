"""Offline dataset loaders. Nothing is downloaded at run time."""

from __future__ import annotations

import gzip
import math
import os
from pathlib import Path

import numpy as np

from mcbridge._checks import check_bool, invalid

__all__ = [
    "load_fashion_mnist",
    "load_digits",
    "read_idx",
    "FASHION_MNIST_DIRS",
    "FASHION_MNIST_CLASSES",
    "DIGITS_CLASSES",
]

#: Names of the Fashion-MNIST classes, label 0 first (for `MCResult(class_names=...)`).
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip

#: Names of the digits classes, label 0 first.
DIGITS_CLASSES = tuple(str(i) for i in range(10))

#: Where `load_fashion_mnist()` looks when no path is given (after the
#: `MCBRIDGE_FASHION_MNIST` environment variable).
FASHION_MNIST_DIRS = (
    "/usr/share/datasets/fashion-mnist",
    "~/.keras/datasets/fashion-mnist",
)

_FASHION_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (optionally gzipped), as in the original MNIST files.

    Raises:
        ValueError: the file is not a valid IDX file.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(invalid("path", "a file path (str or os.PathLike)", path))
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (gzip.BadGzipFile, EOFError) as err:
        raise ValueError(f"{path} is truncated or corrupt: {err}.") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number).")
    ndim = data[3]
    dtype = np.dtype(_IDX_TYPES[data[2]])
    offset = 4 + 4 * ndim
    if len(data) < offset:
        raise ValueError(f"{path} is truncated or corrupt: its header names {ndim} dimensions.")
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    # Python integers: a corrupt header cannot overflow into a matching size.
    expected = offset + math.prod(dims) * dtype.itemsize
    if len(data) != expected:
        raise ValueError(
            f"{path} is truncated or corrupt: {len(data)} bytes, expected {expected}."
        )
    return np.frombuffer(data, dtype=dtype, offset=offset).reshape(dims).astype(dtype.newbyteorder("="))


def _find(directory: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (directory / name).is_file():
            return directory / name
    return None


def load_fashion_mnist(path: str | os.PathLike | None = None, normalize: bool = True):
    """Fashion-MNIST from the original IDX files (60,000 train, 10,000 test, 28x28).

    Args:
        path: Directory holding `train-images-idx3-ubyte[.gz]` and the three
            other files. None searches `$MCBRIDGE_FASHION_MNIST`, then
            `FASHION_MNIST_DIRS` (the Debian package `dataset-fashion-mnist`
            installs to the first).
        normalize: True gives `float32` images in [0, 1]; False the raw `uint8`.

    Returns:
        `((x_train, y_train), (x_test, y_test))`; `x` of shape
        `(n, 28, 28, 1)`, `y` `int64` labels 0-9.

    Raises:
        FileNotFoundError: the files were not found; the message says how to
            get them.
    """
    check_bool("normalize", normalize)
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise TypeError(invalid("path", "None or a directory path (str or os.PathLike)", path))
    if path is not None:
        candidates = [Path(path).expanduser()]
    else:
        env = os.environ.get("MCBRIDGE_FASHION_MNIST")
        candidates = [Path(p).expanduser() for p in ([env] if env else []) + list(FASHION_MNIST_DIRS)]
    for directory in candidates:
        files = {key: _find(directory, stem) for key, stem in _FASHION_FILES.items()}
        if all(files.values()):
            break
    else:
        raise FileNotFoundError(
            "Fashion-MNIST not found in "
            + ", ".join(str(c) for c in candidates)
            + ". Install it with `sudo apt-get install dataset-fashion-mnist` "
            "(Debian/Ubuntu), or download the four *-ubyte.gz files from "
            "https://github.com/zalandoresearch/fashion-mnist into a directory "
            "and pass it as `path` (or set MCBRIDGE_FASHION_MNIST). "
            "`mcbridge.datasets.load_digits()` works offline with no download."
        )
    arrays = {key: read_idx(p) for key, p in files.items()}
    return _finish(arrays, normalize, scale=255.0)


def load_digits(normalize: bool = True, test_fraction: float = 0.2):
    """The 1,797 8x8 handwritten digits shipped with scikit-learn, split in two.

    The split is a fixed shuffle (the same on every machine).

    Args:
        normalize: True gives `float32` images in [0, 1]; False the raw `uint8`
            values 0-16.
        test_fraction: Fraction of images in the test split.

    Returns:
        `((x_train, y_train), (x_test, y_test))`; `x` of shape `(n, 8, 8, 1)`,
        `y` `int64` labels 0-9.
    """
    check_bool("normalize", normalize)
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float, np.integer, np.floating)):
        raise TypeError(invalid("test_fraction", "a number in (0, 1)", test_fraction))
    if not 0 < test_fraction < 1:
        raise ValueError(
            "Invalid value received for argument `test_fraction`. Expected a "
            f"number in (0, 1). Received: test_fraction={test_fraction!r}"
        )
    from sklearn.datasets import load_digits as _sk_digits

    bunch = _sk_digits()
    order = np.random.default_rng(0).permutation(len(bunch.target))
    images = bunch.images[order].astype(np.uint8)
    labels = bunch.target[order]
    n_test = int(round(len(labels) * test_fraction))
    arrays = {
        "x_train": images[n_test:],
        "y_train": labels[n_test:],
        "x_test": images[:n_test],
        "y_test": labels[:n_test],
    }
    return _finish(arrays, normalize, scale=16.0)


def _finish(arrays: dict, normalize: bool, scale: float):
    out = []
    for split in ("train", "test"):
        x = arrays["x_" + split][..., None]
        x = (x.astype(np.float32) / np.float32(scale)) if normalize else x.astype(np.uint8)
        out.append((x, arrays["y_" + split].astype(np.int64)))
    return tuple(out)
