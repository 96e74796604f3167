# mc_predict_to_file() and mc_read_predictions(): Python's predict_to_file
# from R in one call, and its Arrow IPC stream output read back with nanoarrow.

test_that("mc_predict_to_file then mc_read_predictions gives mc_predict's mean and variance", {
  m <- tiny_model()
  x <- scaled_digits(1:7)
  f <- withr::local_tempfile(fileext = ".arrow")
  before <- bridge_calls()
  expect_identical(withVisible(mc_predict_to_file(m, x, f, n_samples = 5, batch_size = 3, seed = 4,
                                                  keep_samples = TRUE, progress = FALSE)),
                   list(value = f, visible = FALSE))
  expect_equal(bridge_calls()[["predict_to_file"]] - (if (is.na(before["predict_to_file"])) 0 else before[["predict_to_file"]]), 1)
  got <- mc_read_predictions(f)
  ref <- mc_predict(m, x, n_samples = 5, seed = 4, progress = FALSE)
  expect_identical(got$index, as.numeric(0:6))
  # samples are keyed per input: the same masks; float32 rounding of the file's values
  expect_equal(got$mean, ref$mean, tolerance = 1e-6, ignore_attr = TRUE)
  expect_equal(got$variance, ref$variance, tolerance = 1e-6, ignore_attr = TRUE)
  expect_identical(got$prediction, max.col(ref$mean, ties.method = "first") - 1L)
  expect_identical(dim(attr(got, "samples")), c(7L, 10L, 5L))
  expect_equal(attr(got, "samples"), ref$all_samples, tolerance = 1e-6, ignore_attr = TRUE)
  expect_identical(attr(got, "n_samples"), 5L)
  expect_identical(attr(got, "seed"), 4)
  expect_true(all(got$mutual_information >= -1e-6))
})

test_that("R writes the same bits as Python's predict_to_file, from an array or a .npy file", {
  m <- tiny_model()
  x <- scaled_digits(1:6)
  dir <- withr::local_tempdir()
  mc_predict_to_file(m, x, file.path(dir, "r.arrow"), n_samples = 4, batch_size = 2, seed = 11,
                     progress = FALSE)
  # The same inputs in Python (through an mcbridge Arrow file: reticulate 1.28
  # cannot convert R arrays to NumPy 2), as float32 (n, 8, 8, 1), C order.
  mc_write_arrow(x, file.path(dir, "x_in.arrow"))
  py <- reticulate::py_run_string(sprintf(paste(
    "import numpy as np, mcbridge",
    "_x = np.ascontiguousarray(mcbridge.read_arrow(%s), dtype=np.float32)[..., None]",
    "np.save(%s, _x)", sep = "\n"),
    shQuote(file.path(dir, "x_in.arrow")), shQuote(file.path(dir, "x.npy"))), convert = FALSE)
  mcb <- reticulate::import("mcbridge", convert = FALSE)
  mcb$predict_to_file(m, py[["_x"]], file.path(dir, "py.arrow"), n_samples = 4L, batch_size = 2L,
                      seed = 11L)
  mc_predict_to_file(m, file.path(dir, "x.npy"), file.path(dir, "npy.arrow"), n_samples = 4,
                     batch_size = 2, seed = 11, progress = FALSE)
  bytes <- function(name) readBin(file.path(dir, name), "raw", file.size(file.path(dir, name)))
  expect_identical(bytes("r.arrow"), bytes("py.arrow"))
  expect_identical(bytes("npy.arrow"), bytes("py.arrow"))
  expect_null(attr(mc_read_predictions(file.path(dir, "r.arrow")), "samples"))
  # The same table as an Arrow IPC *file* (earlier predict_to_file output) reads the same.
  reticulate::py_run_string(sprintf(paste(
    "import pyarrow as pa",
    "_t = pa.ipc.open_stream(pa.memory_map(%s)).read_all()",
    "with pa.ipc.new_file(%s, _t.schema) as _w: _w.write_table(_t)", sep = "\n"),
    shQuote(file.path(dir, "r.arrow")), shQuote(file.path(dir, "file.arrow"))))
  expect_identical(readBin(file.path(dir, "file.arrow"), "raw", 6), charToRaw("ARROW1"))
  expect_identical(mc_read_predictions(file.path(dir, "file.arrow")),
                   mc_read_predictions(file.path(dir, "r.arrow")))
})

test_that("mc_predict_to_file rejects bad arguments in R, before Python", {
  m <- fake_model()  # never reaches Python
  x <- array(0, c(2, 8, 8))
  f <- file.path(tempdir(), "out.arrow")
  expect_mcb_error(mc_predict_to_file(m, x, "out.csv"), "input", "\\.parquet or \\.arrow")
  expect_mcb_error(mc_predict_to_file(m, x, c("a.arrow", "b.arrow")), "input", "single file path")
  expect_mcb_error(mc_predict_to_file(m, x, file.path(tempdir(), "no-such-dir", "o.arrow")), "io",
                   "does not exist")
  expect_mcb_error(mc_predict_to_file(m, x, f, n_samples = 0), "argument", "n_samples")
  expect_mcb_error(mc_predict_to_file(m, x, f, keep_samples = NA), "argument", "keep_samples")
  expect_mcb_error(mc_predict_to_file(m, x, f, seed = -1), "argument", "seed")
  expect_mcb_error(mc_predict_to_file(m, x, f, precision = "half"), "argument", "precision")
  expect_mcb_error(mc_predict_to_file(m, "missing.npy", f), "input", "does not exist")
  csv <- withr::local_tempfile(fileext = ".csv", lines = "1,2")
  expect_mcb_error(mc_predict_to_file(m, csv, f), "input", "\\.npy")
  expect_mcb_error(mc_predict_to_file(m, array(NA_real_, c(2, 8, 8)), f), "input", "finite")
  expect_mcb_error(mc_predict_to_file("model", x, f), "model")
  expect_false(file.exists(f))
})

test_that("a failed mc_predict_to_file leaves no file, not even a temporary one", {
  m <- tiny_model()
  dir <- withr::local_tempdir()
  expect_mcb_error(mc_predict_to_file(m, array(0, c(3, 5, 5)), file.path(dir, "o.arrow"),
                                      n_samples = 2, progress = FALSE), "input", "expects")
  expect_identical(list.files(dir, all.files = TRUE, no.. = TRUE), character(0))
})

test_that("mc_read_predictions names what it cannot read", {
  pq <- withr::local_tempfile(fileext = ".parquet", lines = "x")
  expect_mcb_error(mc_read_predictions(pq), "arrow", "arrow package")
  txt <- withr::local_tempfile(fileext = ".arrow", lines = "not arrow")
  expect_mcb_error(mc_read_predictions(txt), "arrow", "not a readable Arrow IPC stream")
  empty <- withr::local_tempfile(fileext = ".arrow")
  file.create(empty)
  expect_mcb_error(mc_read_predictions(empty), "arrow", "empty")
  cube <- withr::local_tempfile(fileext = ".arrow")
  mc_write_arrow(array(1:6, c(2, 3)), cube)  # an mcbridge array, not predictions
  expect_mcb_error(mc_read_predictions(cube), "arrow", "not an mcbridge predictions file")
  expect_mcb_error(mc_read_predictions(file.path(tempdir(), "missing.arrow")), "input", "does not exist")
})

test_that("mc_predict_to_file(tolerance =) writes each input's n_used, as mc_predict()", {
  skip_if_no_engine()
  m <- tiny_model()
  x <- scaled_digits(1:10)
  path <- tempfile(fileext = ".arrow")
  mc_predict_to_file(m, x, path, n_samples = 30, seed = 4, tolerance = 0.03, min_samples = 5)
  got <- mc_read_predictions(path)
  res <- mc_predict(m, x, n_samples = 30, seed = 4, tolerance = 0.03, min_samples = 5)
  expect_identical(got$n_used, res$n_used)
  expect_equal(got$mutual_information, mc_mutual_information(res), tolerance = 1e-5)
  expect_mcb_error(mc_predict_to_file(m, x, path, tolerance = 0), "argument", "tolerance")
})
