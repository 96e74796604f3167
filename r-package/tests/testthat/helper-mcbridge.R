# Shared helpers and fixtures. Tests that need the Python engine skip (one by
# one, with the reason) only when it is truly absent; with
# MCBRIDGE_TESTS_REQUIRE_PYTHON=true (set by the project's test command) they
# fail instead.
#
# What is slow to make is made once per test run and cached in `.fixtures`
# (helpers are sourced once for the whole run): the digits, the trained tiny
# model and ensemble, one fresh R session and one fresh Python process whose
# output several tests read. Tests must not change a cached model.

skip_if_no_engine <- function() {
  if (mcbridge_available()) return(invisible(TRUE))
  reason <- "the mcbridge Python engine is not available (run scripts/setup.sh)"
  if (identical(tolower(Sys.getenv("MCBRIDGE_TESTS_REQUIRE_PYTHON")), "true")) {
    stop(reason, call. = FALSE)
  }
  skip(reason)
}

# The Python executable running the engine (for separate-process checks).
engine_python <- function() {
  skip_if_no_engine()
  reticulate::py_config()$python
}

.fixtures <- new.env()

# Caches the value of `make` under `name`, or the error it raised (so that a
# failing fixture fails each test that needs it once, not again and again).
cached <- function(name, make) {
  if (!exists(name, envir = .fixtures, inherits = FALSE)) {
    assign(name, tryCatch(make(), error = identity), envir = .fixtures)
  }
  value <- get(name, envir = .fixtures)
  if (inherits(value, "error")) stop(value)
  value
}

# ---- data ------------------------------------------------------------------------

digits <- function() {
  skip_if_no_engine()
  cached("digits", mc_dataset_digits)
}

# Digits images `rows` of a split, scaled to [0, 1] (exact in float32).
scaled_digits <- function(rows, split = "test") digits()[[split]]$x[rows, , , drop = FALSE] / 16

# Known non-symmetric array: value encodes its (0-based) index.
index_array <- function(d = c(4, 3, 5)) {
  idx <- arrayInd(seq_len(prod(d)), d) - 1
  array(as.vector(idx %*% c(100, 10, 1)), d)
}

# Positive values c(n, classes, samples) scaled to sum to 1 over the classes.
as_probs <- function(raw) sweep(raw, c(1, 3), apply(raw, c(1, 3), sum), "/")

# softmax over the classes (2nd dimension) of logits c(n, classes, samples).
softmax_classes <- function(z) {
  e <- exp(z)
  total <- e[, 1, ]
  for (k in 2:dim(z)[2]) total <- total + e[, k, ]
  for (k in 1:dim(z)[2]) e[, k, ] <- e[, k, ] / total
  e
}

# MC logits `z` c(n, k, s) (a value per input and class, `sd`, plus noise per
# sample, `noise`) and labels `y` drawn from the MC mean of their softmax `p`:
# probabilities calibrated by construction.
calibrated_samples <- function(n, k, s, sd = 1.5, noise = 0.7, seed = 1) {
  set.seed(seed)
  z <- array(rnorm(n * k, sd = sd), c(n, k, s)) + array(rnorm(n * k * s, sd = noise), c(n, k, s))
  p <- softmax_classes(z)
  cum <- rowMeans(p, dims = 2)
  for (j in 2:k) cum[, j] <- cum[, j - 1] + cum[, j]
  y <- max.col(cum > runif(n), ties.method = "first") - 1L
  list(z = z, p = p, y = y)
}

as_f32_vec <- function(v) readBin(writeBin(as.double(v), raw(), size = 4), "double", size = 4, n = length(v))

# Replaces the first occurrence of `from` by `to` (same length) in raw bytes.
raw_replace <- function(bytes, from, to) {
  from <- charToRaw(from); to <- charToRaw(to)
  stopifnot(length(from) == length(to))
  n <- length(from)
  for (i in seq_len(length(bytes) - n + 1)) {
    if (identical(bytes[i:(i + n - 1)], from)) {
      bytes[i:(i + n - 1)] <- to
      return(bytes)
    }
  }
  stop("pattern not found")
}

# ---- models ----------------------------------------------------------------------

fake_model <- function() {
  structure(list(), class = c("keras.src.models.model.Model", "python.builtin.object"))
}

# A new, untrained tiny CNN for 8x8 digits.
digits_cnn <- function(seed) {
  mc_cnn(input_shape = c(8, 8, 1), filters = 4, dense_units = 8, dropout = c(0.25, 0.5), seed = seed)
}

# A tiny CNN for 8x8 digits, trained for one epoch (cached per test run).
tiny_model <- function() {
  skip_if_no_engine()
  cached("model", function() {
    d <- digits()
    m <- digits_cnn(seed = 7)
    mc_fit(m, d$train$x / 16, d$train$y, epochs = 1, verbose = 0)
    m
  })
}

# A tiny k = 2 ensemble for 8x8 digits (a handful of images, 1 epoch), cached;
# what training printed is in .fixtures$ensemble_out.
tiny_ensemble <- function() {
  skip_if_no_engine()
  cached("ensemble", function() {
    d <- digits()
    out <- capture.output(ens <- mc_train_ensemble(
      d$train$x[1:40, , ] / 16, d$train$y[1:40], k = 2, epochs = 1, batch_size = 8,
      seed = 3, input_shape = c(8, 8, 1), filters = 4, dense_units = 8, dropout = c(0.25, 0.5)))
    .fixtures$ensemble_out <- out
    ens
  })
}

# A small Keras Sequential built through reticulate::import("keras") (as a
# user of keras3 or reticulate would): Input, Flatten, an optional relu layer
# of `hidden` units, Dropout(`dropout`) unless 0, Dense(`units`, `activation`).
dense_model <- function(input_shape = c(8, 8, 1), units = 3, activation = "softmax",
                        dropout = 0.5, hidden = NULL) {
  skip_if_no_engine()
  keras <- reticulate::import("keras", convert = FALSE)
  layers <- c(
    list(keras$Input(shape = as.list(as.integer(input_shape))), keras$layers$Flatten()),
    if (!is.null(hidden)) list(keras$layers$Dense(as.integer(hidden), activation = "relu")),
    if (dropout > 0) list(keras$layers$Dropout(dropout)),
    list(keras$layers$Dense(as.integer(units), activation = activation))
  )
  keras$Sequential(layers)
}

# Replaces mcbridge._engine.plan.bfloat16_instructions() until the calling
# test (or function) ends: the CPU answers that it has bfloat16 instructions
# (`bf16 = TRUE`) or none. What mcbridge decides from the CPU is tested under
# both answers, whatever CPU runs the suite.
local_bf16_cpu <- function(bf16, .local_envir = parent.frame()) {
  skip_if_no_engine()
  plan <- reticulate::import("mcbridge._engine.plan", convert = FALSE)
  real <- reticulate::py_get_attr(plan, "bfloat16_instructions")
  if (is.null(.fixtures$cpu_bf16)) {  # the real answer, before any replacement
    .fixtures$cpu_bf16 <- length(reticulate::py_to_r(reticulate::py_call(real))) > 0
  }
  answer <- if (bf16) "lambda: ['avx512_bf16']" else "lambda: []"
  reticulate::py_set_attr(plan, "bfloat16_instructions", reticulate::py_eval(answer, convert = FALSE))
  withr::defer(reticulate::py_set_attr(plan, "bfloat16_instructions", real), envir = .local_envir)
}

# Computing in bfloat16 needs a CPU that has the instructions: with AVX2 only,
# TensorFlow's oneDNN convolutions refuse it (whatever the patched answer says).
skip_unless_cpu_computes_bf16 <- function() {
  stopifnot(is.logical(.fixtures$cpu_bf16))  # set by local_bf16_cpu()
  if (!.fixtures$cpu_bf16) skip("this CPU has no bfloat16 instructions to compute with")
}

# ---- conditions and the bridge ------------------------------------------------

# expect_error() for mcbridge's classed conditions: class mcbridge_error_<kind>.
expect_mcb_error <- function(object, kind, regexp = NULL, ...) {
  expect_error(object, regexp, class = paste0("mcbridge_error_", kind), ...)
}

# Calls into mcbridge._rbridge so far, by function name.
bridge_calls <- function() {
  unlist(reticulate::py_eval("dict(__import__('mcbridge._rbridge', fromlist=['calls']).calls)"))
}

py_to_r_c <- function(obj) mcbridge:::.py_to_r(obj)

# ---- fresh processes ---------------------------------------------------------------
# Each one costs seconds (R, Python and TensorFlow start); a test that needs
# another process reads the output of a shared one where it can.

# Runs a Python script in a fresh process; returns its stdout.
run_python <- function(code, ...) {
  script <- tempfile(fileext = ".py")
  writeLines(code, script)
  # reticulate sets PYTHONHOME for the embedded interpreter; a child Python
  # must not inherit it.
  withr::local_envvar(PYTHONHOME = NA, PYTHONPATH = NA)
  out <- system2(engine_python(), c(script, ...), stdout = TRUE, stderr = TRUE,
                 env = "TF_CPP_MIN_LOG_LEVEL=3")
  status <- attr(out, "status")
  if (!is.null(status) && status != 0) {
    stop("Python failed:\n", paste(out, collapse = "\n"), call. = FALSE)
  }
  out
}

rscript <- function() file.path(R.home("bin"), "Rscript")

# Writes `dir`/run.R: library(mcbridge), then the lines in `...`; returns its path.
mcbridge_script <- function(dir, ...) {
  script <- file.path(dir, "run.R")
  writeLines(c("library(mcbridge)", ...), script)
  script
}

# The environment of a fresh Rscript with this engine, until the caller ends.
# `tf_log_level`: TF_CPP_MIN_LOG_LEVEL (NA: unset, as most users have it).
local_rscript_env <- function(tf_log_level = "3", .local_envir = parent.frame()) {
  withr::local_envvar(MCBRIDGE_PYTHON = engine_python(), PYTHONHOME = NA,
                      TF_CPP_MIN_LOG_LEVEL = tf_log_level, .local_envir = .local_envir)
}

# Runs an R script in a fresh Rscript with this engine; returns its output
# (stdout and stderr).
run_rscript <- function(script, ..., tf_log_level = "3") {
  local_rscript_env(tf_log_level)
  out <- suppressWarnings(system2(rscript(), c(script, ...), stdout = TRUE, stderr = TRUE))
  status <- attr(out, "status")
  if (!is.null(status) && status != 0) stop("Rscript failed:\n", paste(out, collapse = "\n"), call. = FALSE)
  out
}

# The console (stdout and stderr) of one fresh R session as a user starts it,
# for the tests that need a new session and mcbridge to start Python
# (test-engine.R, test-train.R): TF_CPP_MIN_LOG_LEVEL unset, a folder named
# mcbridge in the working directory (e.g. an R library holding this package);
# mc_cnn(), mc_predict() and mc_fit() for 3 epochs.
fresh_session <- function() {
  skip_if_no_engine()
  cached("fresh_session", function() {
    dir <- tempfile("session-")
    dir.create(file.path(dir, "mcbridge"), recursive = TRUE)
    script <- mcbridge_script(dir,
      "m <- mc_cnn(input_shape = c(8, 8, 1), filters = 4, dense_units = 8, dropout = c(0.25, 0.5),",
      "            seed = 1)",
      "cat('classes:', ncol(mc_predict(m, array(0.5, c(2, 8, 8)), n_samples = 2)$mean), '\\n')",
      "d <- mc_dataset_digits()",
      "h <- mc_fit(m, d$train$x[1:64, , ] / 16, d$train$y[1:64], epochs = 3, batch_size = 32)",
      "cat('done\\n')"
    )
    withr::local_dir(dir)
    run_rscript(script, tf_log_level = NA)
  })
}

# One fresh Python process reads what R saved (the tiny model, the tiny
# ensemble, 9 digits as an Arrow file) and writes what it computes from them:
# for the tests that compare R with Python in another process. Returns the
# folder (from_py.keras, model.arrow, ensemble_one.arrow, ensemble_both.arrow),
# the process's output and the inputs.
python_reads_r <- function() {
  skip_if_no_engine()
  cached("python_reads_r", function() {
    dir <- tempfile("python-")
    dir.create(dir)
    mc_save_model(tiny_model(), file.path(dir, "from_r.keras"))
    mc_save_ensemble(tiny_ensemble(), file.path(dir, "tiny.ensemble"))
    x <- scaled_digits(1:9)
    mc_write_arrow(array(x, c(dim(x), 1)), file.path(dir, "x.arrow"))
    out <- run_python(c(
      "import sys, keras, mcbridge, mcbridge.arrow",
      "d = sys.argv[1]",
      "x = mcbridge.arrow.read_arrow(d + '/x.arrow').astype('float32')",
      "m = keras.models.load_model(d + '/from_r.keras')",
      "print('params:', m.count_params())",
      "m.save(d + '/from_py.keras')",
      "res = mcbridge.mc_predict(m, x, n_samples=5, batch_size=4, seed=123)",
      "mcbridge.arrow.write_arrow(res, d + '/model.arrow')",
      "ens = mcbridge.load_ensemble(d + '/tiny.ensemble')",
      "mcbridge.arrow.write_arrow(mcbridge.mc_predict(ens, x), d + '/ensemble_one.arrow')",
      "res = mcbridge.mc_predict(ens, x, n_samples=2, seed=4, batch_size=4)",
      "mcbridge.arrow.write_arrow(res, d + '/ensemble_both.arrow')"
    ), dir)
    list(dir = dir, out = out, x = x)
  })
}

# ---- dense outputs (issue 21): fixtures and Python's numbers ----------------------

# Probabilities of a dense output c(lead, k, s) (positions before the classes),
# some rows certain (0 log 0) and some tied, and labels c(lead) from 0.
dense_probs <- function(lead = c(6, 4, 3), k = 3, s = 5, seed = 11) {
  set.seed(seed)
  rows <- prod(lead)
  raw <- array(rexp(rows * k * s), c(rows, k, s))
  raw[1:2, , ] <- 0; raw[1:2, 1, ] <- 1        # certain
  raw[3, , ] <- 1                              # ties
  p <- as_probs(raw)
  dim(p) <- c(lead, k, s)
  p
}
dense_labels <- function(lead = c(6, 4, 3), k = 3, seed = 12) {
  set.seed(seed)
  array(sample(0:(k - 1), prod(lead), replace = TRUE), lead)
}

# Python functions for the dense comparisons (defined once per test run in
# Python's __main__): each takes arrays as .r_to_py() gives them (labels as
# doubles, masks as 0/1) and pools a dense output's positions with
# mcbridge.metrics._common.pooled() (order "F", R's array order), so R's
# pooled results are checked against Python's on the same rows.
py_dense <- function() {
  skip_if_no_engine()
  cached("py_dense", function() {
    reticulate::py_run_string("
import numpy as _np
import mcbridge as _mcb
from mcbridge.metrics import calibration as _cal, detection as _det
from mcbridge.metrics._common import pooled as _pooled
from mcbridge.calibration import TemperatureScaler as _TS
from mcbridge.conformal import ConformalClassifier as _CC, ConformalRegressor as _CR

def _mcbt_codes(y):
    return _np.asarray(y).astype(_np.int64)

def _mcbt_ignore(ignore):
    if ignore is None or isinstance(ignore, float):
        return ignore
    return _np.asarray(ignore) != 0

def _mcbt_rows(p):
    p = _np.asarray(p)
    return p.reshape((-1,) + p.shape[-2:], order='F')

def _mcbt_pooled(p, y, ignore=None):
    return _pooled(_np.asarray(p), _mcbt_codes(y), _mcbt_ignore(ignore))

def _mcbt_evaluate(p, y, ignore=None, n_bins=15):
    out = _mcb.evaluate(_np.asarray(p), _mcbt_codes(y), n_bins=n_bins, ignore=_mcbt_ignore(ignore))
    return {k: float(v) for k, v in out.items()}

def _mcbt_calibration(p, y):
    p, y = _np.asarray(p), _mcbt_codes(y)
    out = {'accuracy': _cal.accuracy(p, y), 'nll': _cal.negative_log_likelihood(p, y),
           'brier': _cal.brier_score(p, y)}
    for norm in ('l1', 'l2', 'max'):
        for adaptive in (False, True):
            out['ece_%s_%s' % (norm, adaptive)] = _cal.expected_calibration_error(
                p, y, n_bins=7, adaptive=adaptive, norm=norm)
    return {k: float(v) for k, v in out.items()}

def _mcbt_detection(p, y, ignore, p_out):
    pp, yy = _mcbt_pooled(p, y, ignore)
    out = {'auroc_' + s: _det.misclassification_auroc(pp, yy, s)
           for s in ('predictive_entropy', 'mutual_information', 'variation_ratio', 'max_probability')}
    out['aurc'] = _det.aurc(pp, yy, 'mutual_information')
    out['augrc'] = _det.augrc(pp, yy, 'variation_ratio')
    out['ood_auroc'] = _det.ood_auroc(_mcbt_rows(p), _mcbt_rows(p_out), 'mutual_information')
    out['fpr_at_95_tpr'] = _det.fpr_at_95_tpr(_mcbt_rows(p), _mcbt_rows(p_out))
    return {k: float(v) for k, v in out.items()}

def _mcbt_temperature(p, y, ignore, p_new, from_logits=False):
    pp, yy = _mcbt_pooled(p, y, ignore)
    ts = _TS(from_logits=from_logits).fit(pp, yy)
    new = _np.asarray(p_new)
    out = _np.asarray(ts.transform(_mcbt_rows(new)).samples, dtype=_np.float64)
    return [float(ts.temperature_), float(ts.nll_before_), float(ts.nll_after_),
            out.reshape(new.shape, order='F')]

def _mcbt_conformal(p, y, ignore, p_new, method, mc_score, randomized, seed):
    pp, yy = _mcbt_pooled(p, y, ignore)
    cc = _CC(alpha=0.1, method=method, mc_score=mc_score, randomized=randomized,
             seed=int(seed)).fit(pp, yy)
    new = _np.asarray(p_new)
    sets = cc.predict_sets(_mcbt_rows(new)).astype(_np.float64)
    return [float(cc.qhat_), sets.reshape(new.shape[:-1], order='F')]

def _mcbt_interval(s, y, s_new):
    rows = _mcbt_rows(s)
    cr = _CR(alpha=0.2).fit(rows, _np.asarray(y, dtype=_np.float64).reshape(rows.shape[0], -1, order='F'))
    lo, hi = cr.predict_interval(_mcbt_rows(s_new))
    return [[float(q) for q in cr.qhat_], _np.asarray(lo, dtype=_np.float64), _np.asarray(hi, dtype=_np.float64)]
", convert = FALSE)
  })
}

# Calls Python function `name` of py_dense() on R values (arrays cross by
# Arrow as doubles); plain Python numbers, lists and dicts come back as R
# values, arrays (as list items) through .py_to_r().
py_dense_call <- function(name, ...) {
  main <- py_dense()
  args <- lapply(list(...), function(a) {
    if (!(is.array(a) || is.matrix(a))) return(a)
    storage.mode(a) <- "double"   # labels and masks too: Python reads them back as codes
    mcbridge:::.r_to_py(a, type = nanoarrow::na_double())
  })
  out <- do.call(reticulate::py_call, c(list(reticulate::py_get_item(main, name)), args))
  if (inherits(out, "python.builtin.list")) {
    n <- reticulate::py_len(out)
    return(lapply(seq_len(n) - 1L, function(i) {
      item <- reticulate::py_get_item(out, i)
      if (inherits(item, "numpy.ndarray")) mcbridge:::.py_to_r(item) else reticulate::py_to_r(item)
    }))
  }
  reticulate::py_to_r(out)
}
