import gzip
import struct

import numpy as np
import pytest

from mcbridge import datasets


def _write_idx(path, array, gz=True):
    codes = {np.dtype(np.uint8): 0x08}
    header = bytes([0, 0, codes[array.dtype], array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    opener = gzip.open if gz else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())


@pytest.fixture
def fake_fashion(tmp_path):
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    x_test = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", x_train)
    _write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.array([0, 1, 2, 9, 4], np.uint8))
    _write_idx(tmp_path / "t10k-images-idx3-ubyte", x_test, gz=False)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.array([3, 3, 7], np.uint8))
    return tmp_path, x_train, x_test


def test_fashion_mnist_from_idx_files(fake_fashion):
    path, x_train, x_test = fake_fashion
    (xt, yt), (xs, ys) = datasets.load_fashion_mnist(path)
    assert xt.shape == (5, 28, 28, 1) and xt.dtype == np.float32
    assert 0 <= xt.min() and xt.max() <= 1
    np.testing.assert_allclose(xt[..., 0] * 255, x_train, atol=1e-4)
    assert yt.tolist() == [0, 1, 2, 9, 4] and yt.dtype == np.int64
    assert ys.tolist() == [3, 3, 7]
    (rt, _), (rs, _) = datasets.load_fashion_mnist(path, normalize=False)
    assert rt.dtype == np.uint8 and np.array_equal(rs[..., 0], x_test)


def test_fashion_mnist_env_var(fake_fashion, monkeypatch):
    monkeypatch.setenv("MCBRIDGE_FASHION_MNIST", str(fake_fashion[0]))
    (xt, _), _ = datasets.load_fashion_mnist()
    assert xt.shape[0] == 5


def test_missing_dataset_says_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        datasets.load_fashion_mnist(tmp_path)


def test_corrupt_idx_file(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x05ab")
    with pytest.raises(ValueError, match="truncated"):
        datasets.read_idx(tmp_path / "bad")
    (tmp_path / "worse").write_bytes(b"hello")
    with pytest.raises(ValueError, match="not an IDX"):
        datasets.read_idx(tmp_path / "worse")


def test_digits():
    (xt, yt), (xs, ys) = datasets.load_digits()
    assert xt.shape[1:] == (8, 8, 1) and xt.dtype == np.float32
    assert len(xt) + len(xs) == 1797 and len(xs) == 359
    assert 0 <= xt.min() and xt.max() <= 1
    assert set(np.unique(yt)) == set(range(10))
    (rt, _), _ = datasets.load_digits(normalize=False)
    assert rt.dtype == np.uint8 and rt.max() == 16
    np.testing.assert_array_equal(datasets.load_digits()[1][1], ys)  # fixed split


def test_installed_fashion_mnist_when_present():
    try:
        (xt, yt), (xs, ys) = datasets.load_fashion_mnist()
    except FileNotFoundError:
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    assert xt.shape == (60000, 28, 28, 1) and xs.shape == (10000, 28, 28, 1)
    assert np.bincount(yt).tolist() == [6000] * 10
