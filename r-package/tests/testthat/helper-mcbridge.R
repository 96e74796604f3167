# Shared helpers. Tests that need the Python engine skip (one by one, with the
# reason) only when it is truly absent; with MCBRIDGE_TESTS_REQUIRE_PYTHON=true
# (set by the project's test command) they fail instead.

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

.fixtures <- new.env()

digits <- function() {
  if (is.null(.fixtures$digits)) .fixtures$digits <- mc_dataset_digits()
  .fixtures$digits
}

# A tiny CNN for 8x8 digits, trained for one epoch (cached per test run).
tiny_model <- function() {
  skip_if_no_engine()
  if (is.null(.fixtures$model)) {
    d <- digits()
    m <- mc_cnn(input_shape = c(8, 8, 1), filters = 4, dense_units = 8,
                dropout = c(0.25, 0.5), seed = 7)
    mc_fit(m, d$train$x / 16, d$train$y, epochs = 1, verbose = 0)
    .fixtures$model <- m
  }
  .fixtures$model
}

# Known non-symmetric array: value encodes its (0-based) index.
index_array <- function(d = c(4, 3, 5)) {
  idx <- arrayInd(seq_len(prod(d)), d) - 1
  array(as.vector(idx %*% c(100, 10, 1)), d)
}

fake_model <- function() {
  structure(list(), class = c("keras.src.models.model.Model", "python.builtin.object"))
}

# expect_error() for mcbridge's classed conditions: class mcbridge_error_<kind>.
expect_mcb_error <- function(object, kind, regexp = NULL, ...) {
  expect_error(object, regexp, class = paste0("mcbridge_error_", kind), ...)
}

# Calls into mcbridge._rbridge so far, by function name.
bridge_calls <- function() {
  unlist(reticulate::py_eval("dict(__import__('mcbridge._rbridge', fromlist=['calls']).calls)"))
}

py_to_r_c <- function(obj) mcbridge:::.py_to_r(obj)

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

as_f32_vec <- function(v) readBin(writeBin(as.double(v), raw(), size = 4), "double", size = 4, n = length(v))

# Runs an R script in a fresh Rscript with this engine; returns its output.
run_rscript <- function(script, ...) {
  withr::local_envvar(MCBRIDGE_PYTHON = engine_python(), PYTHONHOME = NA,
                      TF_CPP_MIN_LOG_LEVEL = "3")
  out <- suppressWarnings(system2(file.path(R.home("bin"), "Rscript"), c(script, ...),
                                  stdout = TRUE, stderr = TRUE))
  status <- attr(out, "status")
  if (!is.null(status) && status != 0) stop("Rscript failed:\n", paste(out, collapse = "\n"), call. = FALSE)
  out
}
