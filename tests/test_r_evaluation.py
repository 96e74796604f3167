"""R's native evaluation measures agree with Python's to 1e-6 (Rscript, installed R package)."""

import numpy as np
import pytest

import mcbridge
from mcbridge import metrics
from test_r import run_r

R_CODE = """
args <- commandArgs(trailingOnly = TRUE)
d <- as.integer(strsplit(args[3], ",")[[1]])
read <- function(path, n) readBin(path, "double", n = n, endian = "little")
s <- array(read(args[1], prod(d)), d)
out_s <- array(read(args[4], prod(d)), d)
y <- as.integer(round(read(args[2], d[1])))
ev <- mcbridge::mc_evaluate_uncertainty(s, y)
more <- c(
  ece_l2 = mcbridge::mc_expected_calibration_error(s, y, norm = "l2"),
  ece_max = mcbridge::mc_expected_calibration_error(s, y, norm = "max"),
  ece_adaptive_max = mcbridge::mc_expected_calibration_error(s, y, 7, TRUE, "max"),
  augrc_vr = mcbridge::mc_augrc(s, y, "variation_ratio"),
  aurc_mi = mcbridge::mc_aurc(s, y, "mutual_information"),
  ood_auroc = mcbridge::mc_ood_auroc(s, out_s, "max_probability"),
  fpr95 = mcbridge::mc_fpr_at_95_tpr(s, out_s, "predictive_entropy")
)
vals <- c(unlist(ev), more)
cat(sprintf("%s=%.17g", names(vals), vals), sep = "\\n")
cat(sprintf("select=%s\\n", paste(mcbridge::mc_select_uncertain(s, 10, "variation_ratio"), collapse = ",")))
"""


def _samples(n, c, s, seed):
    rng = np.random.default_rng(seed)
    e = np.exp(2 * rng.normal(size=(n, c, s)))
    p = (e / e.sum(axis=1, keepdims=True)).astype(np.float32).astype(np.float64)
    return p / p.sum(axis=1, keepdims=True)


def test_r_and_python_evaluation_agree(tmp_path):
    n, c, s = 120, 4, 5
    p = _samples(n, c, s, 0)
    p[:5] = 0
    p[:5, 1] = 1  # certain inputs: 0 log 0, tied scores
    y = np.random.default_rng(1).integers(0, c, size=n)
    out = 0.5 * _samples(n, c, s, 2) + 0.125
    files = [tmp_path / "s.bin", tmp_path / "y.bin", tmp_path / "out.bin"]
    p.ravel(order="F").astype("<f8").tofile(files[0])
    y.astype("<f8").tofile(files[1])
    out.ravel(order="F").astype("<f8").tofile(files[2])
    lines = run_r(R_CODE, files[0], files[1], f"{n},{c},{s}", files[2]).split()
    r = dict(line.split("=") for line in lines)
    py = mcbridge.evaluate(p, y)
    py.update(
        ece_l2=metrics.expected_calibration_error(p, y, norm="l2"),
        ece_max=metrics.expected_calibration_error(p, y, norm="max"),
        ece_adaptive_max=metrics.expected_calibration_error(p, y, 7, True, "max"),
        augrc_vr=metrics.augrc(p, y, "variation_ratio"),
        aurc_mi=metrics.aurc(p, y, "mutual_information"),
        ood_auroc=metrics.ood_auroc(p, out, "max_probability"),
        fpr95=metrics.fpr_at_95_tpr(p, out, "predictive_entropy"),
    )
    assert set(py) == set(r) - {"select"}
    for key, value in py.items():
        assert float(r[key]) == pytest.approx(value, abs=1e-6), key
    select = [int(i) - 1 for i in r["select"].split(",")]
    assert select == list(mcbridge.select_uncertain(p, 10, "variation_ratio"))


R_DENSE = """
args <- commandArgs(trailingOnly = TRUE)
d <- as.integer(strsplit(args[3], ",")[[1]])
read <- function(path, n) readBin(path, "double", n = n, endian = "little")
s <- array(read(args[1], prod(d)), d)
out_s <- array(read(args[4], prod(d)), d)
lead <- d[seq_len(length(d) - 2)]
y <- array(as.integer(round(read(args[2], prod(lead)))), lead)
ev <- mcbridge::mc_evaluate_uncertainty(s, y, ignore = 255)
cp <- mcbridge::mc_conformal(s, y, alpha = 0.3, method = "aps", randomized = TRUE, seed = 3, ignore = 255)
more <- c(
  ece_l2 = mcbridge::mc_expected_calibration_error(s, y, norm = "l2", ignore = 255),
  augrc_vr = mcbridge::mc_augrc(s, y, "variation_ratio", ignore = 255),
  mis_mi = mcbridge::mc_misclassification_auroc(s, y, "mutual_information", ignore = 255),
  ood_auroc = mcbridge::mc_ood_auroc(s, out_s, "max_probability"),
  fpr95 = mcbridge::mc_fpr_at_95_tpr(s, out_s, "predictive_entropy"),
  temperature = mcbridge::mc_temperature_scaling(s, y, ignore = 255)$temperature,
  qhat = cp$qhat
)
vals <- c(unlist(ev), more)
cat(sprintf("%s=%.17g", names(vals), vals), sep = "\\n")
cat(sprintf("sets=%s\\n", paste(as.integer(predict(cp, s)), collapse = "")))
"""


def test_r_and_python_pool_dense_outputs_alike(tmp_path):
    """A dense output with void labels: R's measures, temperature and conformal sets equal Python's."""
    from mcbridge.calibration import TemperatureScaler
    from mcbridge.conformal import ConformalClassifier

    n, h, w, c, s = 8, 3, 4, 3, 5
    p = _samples(n * h * w, c, s, 3).reshape((n, h, w, c, s), order="F")
    out = 0.5 * _samples(n * h * w, c, s, 4).reshape((n, h, w, c, s), order="F") + 0.5 / c
    y = np.random.default_rng(5).integers(0, c, size=(n, h, w))
    y[0, 0] = 255
    y[:, 2, 3] = 255
    files = [tmp_path / "s.bin", tmp_path / "y.bin", tmp_path / "out.bin"]
    p.ravel(order="F").astype("<f8").tofile(files[0])
    y.ravel(order="F").astype("<f8").tofile(files[1])
    out.ravel(order="F").astype("<f8").tofile(files[2])
    lines = run_r(R_DENSE, files[0], files[1], f"{n},{h},{w},{c},{s}", files[2]).split()
    r = dict(line.split("=") for line in lines)
    cp = ConformalClassifier("aps", 0.3, randomized=True, seed=3).fit(p, y, ignore=255)
    py = mcbridge.evaluate(p, y, ignore=255)
    py.update(
        ece_l2=metrics.expected_calibration_error(p, y, norm="l2", ignore=255),
        augrc_vr=metrics.augrc(p, y, "variation_ratio", ignore=255),
        mis_mi=metrics.misclassification_auroc(p, y, "mutual_information", ignore=255),
        ood_auroc=metrics.ood_auroc(p, out, "max_probability"),
        fpr95=metrics.fpr_at_95_tpr(p, out, "predictive_entropy"),
    )
    for key, value in py.items():
        assert float(r[key]) == pytest.approx(value, abs=1e-6), key
    assert float(r["temperature"]) == pytest.approx(TemperatureScaler().fit(p, y, ignore=255).temperature_, abs=1e-4)
    assert float(r["qhat"]) == pytest.approx(cp.qhat_, abs=1e-12)
    sets = cp.predict_sets(p)
    assert sets.shape == (n, h, w, c) and 0.3 < sets.mean() < 0.9
    assert r["sets"] == "".join(map(str, sets.ravel(order="F").astype(int)))  # R's array order
