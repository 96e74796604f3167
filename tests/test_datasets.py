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


def test_corrupt_idx_headers_and_gzip(tmp_path):
    import gzip

    (tmp_path / "dims").write_bytes(b"\x00\x00\x08\x03\x00\x00")  # 3 dimensions named, 2 bytes given
    with pytest.raises(ValueError, match="its header names 3 dimensions"):
        datasets.read_idx(tmp_path / "dims")
    # 2**32-1 x 2**32-1 x ... would overflow an int64 product; Python ints do not.
    huge = b"\x00\x00\x08\x04" + b"\xff\xff\xff\xff" * 4 + b"\x00" * 16
    (tmp_path / "huge").write_bytes(huge)
    with pytest.raises(ValueError, match="truncated or corrupt"):
        datasets.read_idx(tmp_path / "huge")
    whole = gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x05abcde")
    (tmp_path / "cut.gz").write_bytes(whole[:-6])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        datasets.read_idx(tmp_path / "cut.gz")
    with pytest.raises(TypeError, match="`path`"):
        datasets.read_idx(3)


@pytest.mark.parametrize(
    "call,error,match",
    [(lambda: datasets.load_digits(test_fraction=0), ValueError, "test_fraction"),
     (lambda: datasets.load_digits(test_fraction="0.2"), TypeError, "test_fraction"),
     (lambda: datasets.load_digits(normalize=1), TypeError, "normalize"),
     (lambda: datasets.load_fashion_mnist(path=5), TypeError, "path"),
     (lambda: datasets.load_fashion_mnist(normalize="yes"), TypeError, "normalize")],
)
def test_bad_arguments(call, error, match):
    with pytest.raises(error, match=f"Invalid value received for argument `{match}`"):
        call()
