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
