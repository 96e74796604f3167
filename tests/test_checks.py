"""Tests for mcbridge._checks: one phrasing and one rule for every argument check."""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from mcbridge import _checks as C


# scalars -------------------------------------------------------------------


@pytest.mark.parametrize("value", [1, 128, np.int64(7), np.uint8(3), 2**31 - 1])
def test_check_int_accepts_integers(value):
    out = C.check_int("batch_size", value)
    assert out == int(value) and type(out) is int


@pytest.mark.parametrize(
    "value,hint",
    [("128", "Pass the number itself: batch_size=128"), (128.0, "Pass an int: batch_size=128"),
     (2.5, ""), (float("nan"), ""), (True, ""), (np.bool_(False), ""), (None, ""), ([1], ""),
     (np.array([3]), "")],
    ids=["str", "float-integral", "fraction", "nan", "bool", "np-bool", "none", "list", "array"],
)
def test_check_int_wrong_type_is_type_error(value, hint):
    with pytest.raises(TypeError, match=r"Invalid value received for argument `batch_size`. "
                                        r"Expected a positive integer. Received: batch_size=") as info:
        C.check_int("batch_size", value)
    assert hint in str(info.value)


@pytest.mark.parametrize("value", [0, -3, 2**31, 2**70, np.int64(-1)])
def test_check_int_wrong_value_is_value_error(value):
    with pytest.raises(ValueError, match=r"argument `n_samples`. Expected a positive integer"):
        C.check_int("n_samples", value)


def test_check_int_other_ranges():
    assert C.check_int("dense_units", 0, minimum=0) == 0
    with pytest.raises(ValueError, match="non-negative integer"):
        C.check_int("dense_units", -1, minimum=0)
    assert C.check_int("limit", None, allow_none=True) is None
    with pytest.raises(TypeError, match="Expected None or a positive integer"):
        C.check_int("limit", "x", allow_none=True)


def test_check_seed():
    assert C.check_seed(None) is None and C.check_seed(0) == 0 and C.check_seed(2**63 - 1) == 2**63 - 1
    with pytest.raises(ValueError, match="Expected None or a non-negative integer"):
        C.check_seed(-1)
    with pytest.raises(ValueError, match="of at most 9223372036854775807"):
        C.check_seed(2**64)
    for bad in ("1", 1.0, True):
        with pytest.raises(TypeError, match="`seed`"):
            C.check_seed(bad)


@pytest.mark.parametrize("value", [1, 0, "true", None, 1.0])
def test_check_bool_refuses_look_alikes(value):
    with pytest.raises(TypeError, match=r"argument `from_logits`. Expected True or False"):
        C.check_bool("from_logits", value)


def test_check_bool_and_choice_accept():
    assert C.check_bool("x", np.bool_(True)) is True
    assert C.check_choice("padding", "same", ("valid", "same")) == "same"
    with pytest.raises(ValueError, match="Expected one of 'valid', 'same'"):
        C.check_choice("padding", "full", ("valid", "same"))
    with pytest.raises(TypeError, match="`padding`"):
        C.check_choice("padding", 1, ("valid", "same"))


def test_all_entry_points_treat_a_string_count_alike():
    """`batch_size="128"` is the same TypeError wherever it is passed (the rule of the issue)."""
    from mcbridge import arrow

    messages = []
    for call in (lambda: C.positive_int("batch_size", "128"),
                 lambda: arrow.to_arrow(np.zeros((2, 2)), rows_per_batch="128"),
                 lambda: arrow.write_arrow(np.zeros((2, 2)), "unused.arrow", rows_per_batch="128")):
        with pytest.raises(TypeError) as info:
            call()
        text = str(info.value)
        messages.append(text.replace("rows_per_batch", "NAME").replace("batch_size", "NAME"))
    assert len(set(messages)) == 1


# inputs --------------------------------------------------------------------


def test_check_x_shape_message_names_the_expected_shape():
    with pytest.raises(ValueError, match=r"shape \(n, 8, 8, 1\) for this model. Received: x.shape=\(2, 8, 8\). "
                                         r"Add the channel axis"):
        C.check_x(np.zeros((2, 8, 8)), (None, 8, 8, 1))
    with pytest.raises(ValueError, match=r"shape \(n, 4\).*without the batch axis: add it with x\[None\]"):
        C.check_x(np.zeros(4), (None, 4))
    with pytest.raises(ValueError, match=r"without the batch axis: add it with x\[None\]"):  # not the channel hint
        C.check_x(np.zeros((28, 28, 1)), (None, 28, 28, 1))


def test_check_x_counts_nan_and_inf():
    x = np.zeros((3, 4), np.float32)
    x[0, 0], x[1, 2], x[2, 3] = np.nan, np.inf, -np.inf
    with pytest.raises(ValueError, match=r"holds 3 NaN or infinite values \(of 12\)"):
        C.check_x(x, (None, 4))


@pytest.mark.parametrize("dtype", [np.float16, np.float64, np.float32, np.uint8, np.int32, np.bool_])
def test_check_x_casts_to_the_model_dtype(dtype):
    out = C.check_x(np.ones((2, 4), dtype), (None, 4), "float32")
    assert out.dtype == np.float32 and out.shape == (2, 4)


def test_check_x_empty_is_fine():
    assert C.check_x(np.zeros((0, 4)), (None, 4)).shape == (0, 4)
    assert C.check_x([], (None,)).shape == (0,)


@pytest.mark.parametrize(
    "x,match",
    [("abc", "Expected a numeric array"), (None, "Expected a numeric array"),
     ([[1, 2], [3]], "Expected a numeric array of one shape"), (np.array(["a", "b"]), "dtype=<U1"),
     (np.array([object(), 1]), "dtype=object"), (np.ones(3, complex), "dtype=complex128"),
     ({"x": 1}, "Expected a numeric array")],
    ids=["str", "none", "ragged", "strings", "objects", "complex", "dict"],
)
def test_check_x_refuses_non_numeric(x, match):
    with pytest.raises(TypeError, match=match):
        C.check_x(x, (None, 2))


def test_unscaled_integer_images_warn_unless_the_model_rescales():
    img = np.full((2, 3, 3, 1), 200, np.uint8)
    with pytest.warns(C.UnscaledInputWarning, match="look unscaled.*divide by 255"):
        C.check_x(img, (None, 3, 3, 1), rescales=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        C.check_x(img, (None, 3, 3, 1), rescales=True)
        C.check_x(np.ones((2, 3, 3, 1), np.uint8), (None, 3, 3, 1), rescales=False)  # 0/1 masks
        C.check_x(img.astype(np.float32) / 255, (None, 3, 3, 1), rescales=False)


def test_check_labels():
    np.testing.assert_array_equal(C.check_labels([0, 2, 1], 3, 3), [0, 2, 1])
    np.testing.assert_array_equal(C.check_labels(np.array([[1.0], [0.0]]), 2, 3), [1, 0])
    assert C.check_labels(np.array([2.0, 0.0]), 2, 3).dtype == np.int64
    assert C.check_labels([], 0, 3).shape == (0,)
    np.testing.assert_array_equal(C.check_labels([0, 70], 2, None), [0, 70])  # classes unknown
    with pytest.raises(ValueError, match=r"Expected class labels in 0..2. Received: 2 label\(s\) outside"):
        C.check_labels([0, 3, -1], 3, 3)
    with pytest.raises(ValueError, match="look counted from 1: pass y - 1"):
        C.check_labels([1, 2, 3], 3, 3)
    with pytest.raises(ValueError, match="Expected class labels counted from 0"):
        C.check_labels([0, -1], 2, None)
    with pytest.raises(ValueError, match=r"Expected 4 labels \(shape \(4,\)\)"):
        C.check_labels([0, 1], 4, 3)
    with pytest.raises(ValueError, match=r"one-hot encoded: pass y.argmax\(axis=1\)"):
        C.check_labels(np.eye(3), 3, 3)
    with pytest.raises(TypeError, match="integer class labels .* e.g. 0.5"):
        C.check_labels([0.5, 1], 2, 3)
    with pytest.raises(ValueError, match="1 NaN or infinite labels"):
        C.check_labels([0, np.nan], 2, 3)
    with pytest.raises(TypeError, match=r"dtype=bool. .* pass y.astype\(int\)"):
        C.check_labels([True, False], 2, 3)
    with pytest.raises(ValueError, match="labels given by name .* need the result's class names"):
        C.check_labels(["a", "b"], 2, 3)
    np.testing.assert_array_equal(C.check_labels(["b", "c", "a"], 3, 3, class_names=("c", "a", "b")), [2, 0, 1])
    with pytest.raises(TypeError, match="numeric"):
        C.check_labels([{"a": 1}, None], 2, 3)


def _label_entry_points():
    """Every public function that takes class labels, as `f(y)` on 6 inputs of 3 classes."""
    from mcbridge import conformal, evaluation, metrics
    from mcbridge.calibration import TemperatureScaler

    p = np.random.default_rng(0).dirichlet(np.ones(3), size=(6, 4)).transpose(0, 2, 1)  # (6, 3, 4)
    sets = np.ones((6, 3), dtype=bool)
    return {
        "accuracy": lambda y: metrics.accuracy(p, y),
        "nll": lambda y: metrics.nll(p.mean(axis=2), y),
        "brier_score": lambda y: metrics.brier_score(p, y),
        "expected_calibration_error": lambda y: metrics.expected_calibration_error(p, y, n_bins=3),
        "calibration_bins": lambda y: metrics.calibration_bins(p, y, n_bins=3)["accuracy"],
        "misclassification_auroc": lambda y: metrics.misclassification_auroc(p, y),
        "aurc": lambda y: metrics.aurc(p, y),
        "augrc": lambda y: metrics.augrc(p, y),
        "risk_coverage": lambda y: metrics.risk_coverage(p, y)["risk"],
        "evaluate": lambda y: list(evaluation.evaluate(p, y, n_bins=3).values()),
        "TemperatureScaler.fit": lambda y: TemperatureScaler().fit(p, y).temperature_,
        "ConformalClassifier.fit": lambda y: conformal.ConformalClassifier().fit(p, y).qhat_,
        "coverage": lambda y: conformal.coverage(sets, y),
    }


BAD_LABELS = {
    "outside": [0, 1, 2, 3, 0, 1],
    "negative": [0, 1, 2, -1, 0, 1],
    "too-few": [0, 1],
    "fraction": [0, 1.5, 2, 0, 1, 2],
    "nan": [0, np.nan, 2, 0, 1, 2],
    "bool": [True, False, True, False, True, False],
    "strings": ["0", "1", "2", "0", "1", "2"],
    "one-hot": np.eye(3)[[0, 1, 2, 0, 1, 2]],
}


@pytest.mark.parametrize("entry", list(_label_entry_points()))
def test_every_label_check_is_the_one_rule(entry):
    """Labels mean the same everywhere: check_labels' errors, word for word, and its whole-number floats."""
    call = _label_entry_points()[entry]
    for name, bad in BAD_LABELS.items():
        with pytest.raises((TypeError, ValueError)) as rule:
            C.check_labels(bad, 6, 3)
        with pytest.raises(type(rule.value)) as got:
            call(bad)
        assert str(got.value) == str(rule.value), name
    y = np.array([0, 1, 2, 2, 1, 0])
    np.testing.assert_array_equal(call(y.astype(np.float64)), call(y))
    np.testing.assert_array_equal(call(y.astype(np.uint8)[:, None]), call(y))


# numbers and tasks ---------------------------------------------------------


def test_check_number():
    assert C.check_number("alpha", np.float32(0.25), minimum=0, maximum=1, min_open=True) == 0.25
    assert C.check_number("eps", 0, minimum=0) == 0.0
    with pytest.raises(ValueError, match=r"`alpha`. Expected a number in \(0, 1\). Received: alpha=1"):
        C.check_number("alpha", 1, minimum=0, maximum=1, min_open=True, max_open=True)
    with pytest.raises(ValueError, match="Expected a positive number. Received: temperature=0"):
        C.check_number("temperature", 0, minimum=0, min_open=True)
    with pytest.raises(ValueError, match="Expected a non-negative number. Received: lam=nan"):
        C.check_number("lam", float("nan"), minimum=0)
    with pytest.raises(ValueError, match="Received: x=inf"):
        C.check_number("x", float("inf"))
    with pytest.raises(TypeError, match="Pass the number itself: alpha=0.1"):
        C.check_number("alpha", "0.1", minimum=0, maximum=1)
    for value in (True, None, [0.5]):
        with pytest.raises(TypeError, match="`alpha`"):
            C.check_number("alpha", value, minimum=0, maximum=1)


def test_check_task():
    from mcbridge.result import TASKS

    assert C.TASKS is TASKS
    assert C.check_task("regression", np.bool_(False), True) == ("regression", False, True)
    with pytest.raises(ValueError, match="Expected one of 'classification', 'regression'. Received: task='tabular'"):
        C.check_task("tabular", False, False)
    with pytest.raises(TypeError, match="`task`"):
        C.check_task(None, False, False)
    with pytest.raises(TypeError, match="`from_logits`. Expected True or False"):
        C.check_task("classification", 1, False)
    with pytest.raises(ValueError, match="Expected False for task='regression'.*classification only"):
        C.check_task("regression", True, False)
    with pytest.raises(ValueError, match="`heteroscedastic`. Expected False unless task='regression'"):
        C.check_task("classification", False, True)


def test_check_probabilities():
    C.check_probabilities(np.full((2, 4, 3), 0.25, np.float32))
    C.check_probabilities(np.zeros((0, 4, 3), np.float32))
    with pytest.raises(ValueError, match="from_logits=True"):
        C.check_probabilities(np.full((2, 4, 3), 2.0, np.float32))


# size ----------------------------------------------------------------------


def test_result_size_is_refused_with_bytes_and_the_way_out():
    assert C.check_result_size(10, 10, 10, available=10**6) == 4000
    with pytest.raises(MemoryError, match=r"\(1000000, 10, 1000\) needs 40,000,000,000 bytes \(37.3 GiB\).*"
                                          r"1.0 GiB is available; nothing was allocated.*fewer samples.*"
                                          r"ArrowWriter"):
        C.check_result_size(1_000_000, 10, 1000, available=2**30)
    with pytest.raises(MemoryError, match="needs"):
        C.check_result_size(2**40, 2**20, 2**20)  # beyond int64 whatever the machine


def test_available_memory_is_plausible():
    mem = C.available_memory()
    assert mem is None or 2**20 < mem < 2**60


# files ---------------------------------------------------------------------


def test_check_output_path(tmp_path):
    assert C.check_output_path(tmp_path / "a.arrow") == tmp_path / "a.arrow"
    with pytest.raises(FileNotFoundError, match="does not exist. Create it first"):
        C.check_output_path(tmp_path / "missing" / "a.arrow")
    with pytest.raises(IsADirectoryError):
        C.check_output_path(tmp_path)
    with pytest.raises(ValueError, match="ending in .npz or .arrow"):
        C.check_output_path(tmp_path / "a.csv", "--output", (".npz", ".arrow"))
    with pytest.raises(TypeError, match="file path"):
        C.check_output_path(3)
    assert not (tmp_path / "missing").exists()


def test_checks_import_no_tensorflow():
    code = ("import sys, mcbridge._checks, mcbridge.arrow; "
            "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_check_result_size_names_a_dense_output():
    with pytest.raises(MemoryError, match=r"\(n, \*dims, classes, samples\) = \(1000, 512, 512, 3, 50\) needs "
                                          r"157,286,400,000 bytes"):
        C.check_result_size(1000, 512 * 512 * 3, 50, available=2**30, shapes=[(512, 512, 3)])


def test_finished_files_get_the_permissions_of_new_files(tmp_path, cnn, x_small):
    """Arrow files, predict_to_file outputs, ensembles, saved models and exports are readable by the team.

    They are written to private temporary files (`0600`, folders `0700`) and
    renamed; the result must get what `open()` would give under the umask.
    """
    import keras

    import mcbridge
    from mcbridge.arrow import write_arrow
    from mcbridge.ensemble import Ensemble
    from mcbridge.models import save_model_with_class_names

    old = os.umask(0o027)
    try:
        write_arrow(np.zeros((2, 3, 4), np.float32), tmp_path / "a.arrow")
        mcbridge.predict_to_file(cnn, x_small[:4], tmp_path / "p.parquet", n_samples=2, progress=False)
        Ensemble([cnn, keras.models.clone_model(cnn)]).save(tmp_path / "e.ensemble")
        save_model_with_class_names(cnn, tmp_path / "m.keras")
        mcbridge.export(cnn, tmp_path / "served", n_samples=2)
    finally:
        os.umask(old)
    for name in ("a.arrow", "p.parquet", "e.ensemble", "m.keras"):
        assert oct((tmp_path / name).stat().st_mode & 0o777) == oct(0o640), name
    assert oct((tmp_path / "served").stat().st_mode & 0o777) == oct(0o750)
