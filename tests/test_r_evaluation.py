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
