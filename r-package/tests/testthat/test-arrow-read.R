test_that("R -> Arrow -> R round-trips arrays of every supported type", {
  f <- withr::local_tempfile(fileext = ".arrow")
  cases <- list(
    index_array(),
    array(c(TRUE, FALSE, TRUE, TRUE, FALSE, FALSE), c(3, 2)),
    array(seq_len(24L), c(2, 3, 4)),
    c(1.5, -2, 3e10),
    7L
  )
  for (x in cases) {
    mc_write_arrow(x, f)
    expect_identical(mc_read_arrow(f), x)
  }
})

test_that("several record batches keep the row order", {
  f <- withr::local_tempfile(fileext = ".arrow")
  x <- index_array(c(7, 3, 2))
  mc_write_arrow(x, f, rows_per_batch = 3)
  stream <- nanoarrow::read_nanoarrow(f)
  n_batches <- 0
  while (!is.null(stream$get_next())) n_batches <- n_batches + 1
  expect_equal(n_batches, 3)
  expect_identical(mc_read_arrow(f), x)
})

test_that("mc_prediction files round-trip as float32 with the mcbridge schema", {
  f <- withr::local_tempfile(fileext = ".arrow")
  p <- array(c(0.25, 0.75, 0.5, 0.5, 0.125, 0.875), c(1, 2, 3))
  res <- as_mc_prediction(p)
  mc_write_arrow(res, f)
  back <- mc_read_arrow(f)
  expect_s3_class(back, "mc_prediction")
  expect_identical(back$all_samples, p)
  # nanoarrow alone (no mcbridge) can read it; the metadata tells the shape
  stream <- nanoarrow::read_nanoarrow(f)
  schema <- stream$get_schema()
  expect_identical(schema$children$values$format, "f")
  expect_identical(schema$metadata[["mcbridge:kind"]], "mc_samples")
  expect_identical(schema$metadata[["mcbridge:shape"]], "[1, 2, 3]")
  expect_identical(schema$metadata[["mcbridge:dim_names"]], '["n", "classes", "samples"]')
  expect_identical(schema$metadata[["mcbridge:order"]], "F")
  vals <- nanoarrow::convert_array_stream(stream)$values
  expect_identical(array(vals, c(1, 2, 3)), p)
})

test_that("Python -> R in memory (C data interface) keeps index semantics", {
  skip_if_no_engine()
  np <- reticulate::import("numpy", convert = FALSE)
  a <- reticulate::py_eval(
    "__import__('numpy').fromfunction(lambda i, j, k: 100 * i + 10 * j + k, (4, 3, 5), dtype='float32')",
    convert = FALSE)
  x <- py_to_r_c(a)
  expect_identical(dim(x), c(4L, 3L, 5L))
  expect_identical(x, index_array())
  expect_identical(x[3, 2, 5], 100 * 2 + 10 * 1 + 4)
  ints <- reticulate::py_eval("__import__('numpy').arange(6, dtype='uint8').reshape(2, 3)",
                              convert = FALSE)
  expect_identical(py_to_r_c(ints), matrix(c(0L, 3L, 1L, 4L, 2L, 5L), 2, 3))
})

test_that("float32 values arrive as the exact doubles, whatever the array offset", {
  skip_if_no_engine()
  vals <- c(0.1, -0, 1e-45, 3.4e38, -Inf, 1 / 3, 2^-126)
  a <- reticulate::py_eval(sprintf("__import__('numpy').array([%s], dtype='float32')",
                                   "0.1, -0.0, 1e-45, 3.4e38, float('-inf'), 1 / 3, 2.0**-126"),
                           convert = FALSE)
  x <- py_to_r_c(a)
  expect_identical(x, as_f32_vec(vals))
  expect_identical(1 / x[2], -Inf)  # the sign of zero survives
  # A sliced Arrow array (offset 2) converts only its own elements.
  arr <- nanoarrow::as_nanoarrow_array(vals, schema = nanoarrow::na_float())
  sliced <- nanoarrow::nanoarrow_array_modify(arr, list(offset = 2, length = 3))
  batch <- nanoarrow::nanoarrow_array_modify(
    nanoarrow::nanoarrow_array_init(nanoarrow::nanoarrow_schema_modify(
      nanoarrow::na_struct(list(values = nanoarrow::na_float())),
      list(metadata = mcbridge:::.arrow_meta("array", 3)))),
    list(length = 3, children = list(values = sliced)))
  schema <- nanoarrow::infer_nanoarrow_schema(batch)
  expect_identical(mcbridge:::.from_arrow_batches(schema, list(batch)), as_f32_vec(vals[3:5]))
})

test_that("R -> Python in memory keeps index semantics", {
  skip_if_no_engine()
  x <- index_array()
  ex <- mcbridge:::.arrow_export_c(x, type = nanoarrow::na_float())
  bridge <- reticulate::import("mcbridge._rbridge", convert = FALSE)
  py <- bridge$import_array(ex$addr[[1]], ex$addr[[2]])
  get <- function(i, j, k) reticulate::py_to_r(reticulate::py_call(
    reticulate::py_get_attr(py, "item"), as.integer(i), as.integer(j), as.integer(k)))
  expect_identical(get(2, 1, 4), x[3, 2, 5])
  expect_identical(get(3, 2, 0), 320)
  shape <- reticulate::py_to_r(reticulate::py_get_attr(py, "shape"))
  expect_identical(unlist(shape), c(4L, 3L, 5L))
  expect_true(reticulate::py_to_r(py$flags$f_contiguous))  # R's buffer, read in place
})

test_that("Python-written files read in R and R-written files read in Python", {
  skip_if_no_engine()
  dir <- withr::local_tempdir()
  # In the engine's Python: files are the contract, not the process.
  in_python <- function(...) {
    reticulate::py_run_string(paste(c(sprintf("d = %s", encodeString(dir, quote = "'")), ...),
                                    collapse = "\n"), local = TRUE)
  }
  in_python(
    "import numpy as np, pyarrow as pa, mcbridge, mcbridge.arrow",
    "a = np.fromfunction(lambda i, j, k: 100 * i + 10 * j + k, (4, 3, 5), dtype='float32')",
    "mcbridge.arrow.write_arrow(mcbridge.MCResult(a), d + '/py_res.arrow', rows_per_batch=3)",
    "mcbridge.arrow.write_arrow(a.astype('int32'), d + '/py_int.arrow')",
    "b = mcbridge.arrow.to_arrow(a.astype('float64'))",
    "with pa.OSFile(d + '/py_file_format.arrow', 'wb') as f:",
    "    with pa.ipc.new_file(f, b.schema) as w: w.write_batch(b)"
  )
  res <- mc_read_arrow(file.path(dir, "py_res.arrow"))
  expect_s3_class(res, "mc_prediction")
  expect_identical(res$all_samples, index_array())
  expect_identical(mc_read_arrow(file.path(dir, "py_int.arrow")),
                   array(as.integer(index_array()), c(4, 3, 5)))
  expect_identical(mc_read_arrow(file.path(dir, "py_file_format.arrow")), index_array())

  mc_write_arrow(as_mc_prediction(index_array() / 1000), file.path(dir, "r_res.arrow"),
                 rows_per_batch = 2)
  mc_write_arrow(index_array(), file.path(dir, "r_dbl.arrow"))
  py <- in_python(
    "import numpy as np, pyarrow as pa, mcbridge, mcbridge.arrow",
    "a = np.fromfunction(lambda i, j, k: 100 * i + 10 * j + k, (4, 3, 5))",
    "r = mcbridge.arrow.read_arrow(d + '/r_res.arrow')",
    "assert isinstance(r, mcbridge.MCResult) and r.samples.dtype == np.float32",
    "assert np.array_equal(r.samples, (a / 1000).astype('float32'))",
    "x = mcbridge.arrow.read_arrow(d + '/r_dbl.arrow')",
    "assert x.dtype == np.float64 and np.array_equal(x, a)",
    "t = pa.ipc.open_stream(d + '/r_dbl.arrow').read_all()",
    "shape = t.schema.metadata[b'mcbridge:shape'].decode()"
  )
  expect_identical(py[["shape"]], "[4, 3, 5]")
})

# ---- bad files: every one is an mcbridge_error_arrow, never a crash --------

bad_file <- function(bytes) {
  f <- tempfile(fileext = ".arrow")
  writeBin(bytes, f)
  f
}

valid_bytes <- function(x, ...) {
  f <- tempfile(fileext = ".arrow")
  mc_write_arrow(x, f, ...)
  on.exit(unlink(f))
  readBin(f, "raw", file.size(f))
}

test_that("empty, random, truncated and non-mcbridge files give mcbridge_error_arrow", {
  expect_mcb_error(mc_read_arrow(bad_file(raw(0))), "arrow", "is empty, not an Arrow IPC file")
  set.seed(1)
  expect_mcb_error(mc_read_arrow(bad_file(as.raw(sample(0:255, 1000, TRUE)))), "arrow",
                   "is not a readable Arrow IPC file")
  good <- valid_bytes(index_array())
  expect_mcb_error(mc_read_arrow(bad_file(good[1:(length(good) %/% 2)])), "arrow")
  expect_mcb_error(mc_read_arrow(bad_file(good[1:7])), "arrow")
  # a valid Arrow stream that is not an mcbridge array
  plain <- tempfile(fileext = ".arrow")
  nanoarrow::write_nanoarrow(data.frame(a = 1:3), plain)
  expect_mcb_error(mc_read_arrow(plain), "arrow", "not an mcbridge array \\(no mcbridge:format")
  expect_mcb_error(mc_read_arrow(file.path(tempdir(), "nope.arrow")), "input", "does not exist")
  expect_mcb_error(mc_read_arrow(tempdir()), "input", "is a directory")
  expect_mcb_error(mc_read_arrow(42), "input", "single file path")
})

test_that("metadata that disagrees with the data is refused before allocation", {
  good <- valid_bytes(index_array())                               # shape [4, 3, 5]
  expect_mcb_error(mc_read_arrow(bad_file(raw_replace(good, "[4, 3, 5]", "[9, 3, 5]"))),
                   "arrow", "holds 60 values but its mcbridge:shape \\[9, 3, 5\\] needs 135")
  # a claimed shape of 1.35e11 values (1 TB as doubles): refused by the check, nothing allocated
  expect_mcb_error(mc_read_arrow(bad_file(raw_replace(good, "[4, 3, 5]", "[9e9,3,5]"))),
                   "arrow", "needs 135000000000")
  expect_mcb_error(mc_read_arrow(bad_file(raw_replace(good, "[4, 3, 5]", "[4,-3, 5]"))),
                   "arrow", "Invalid mcbridge:shape")
  expect_mcb_error(mc_read_arrow(bad_file(raw_replace(good, "[4, 3, 5]", "[4,3.5,5]"))),
                   "arrow", "Invalid mcbridge:shape")
  expect_mcb_error(mc_read_arrow(bad_file(raw_replace(good, "[4, 3, 5]", '["a",3,5]'))),
                   "arrow", "Invalid mcbridge:shape")
  meta <- mcbridge:::.arrow_meta("array", 3)
  meta[["mcbridge:format"]] <- "2"
  f <- tempfile(fileext = ".arrow")
  nanoarrow::write_nanoarrow(nanoarrow::basic_array_stream(list(
    mcbridge:::.arrow_batch(c(1, 2, 3), nanoarrow::na_double(), meta))), f)
  expect_mcb_error(mc_read_arrow(f), "arrow", "Unknown mcbridge:format version \"2\"")
  expect_mcb_error(mc_read_arrow(bad_file(raw_replace(good, "array", "graph"))),
                   "arrow", "Unknown mcbridge:kind 'graph'")
})

test_that("nulls and unsupported value types are refused", {
  meta <- mcbridge:::.arrow_meta("array", 3)
  with_nulls <- mcbridge:::.arrow_batch(c(1, NA, 3), nanoarrow::na_double(), meta)
  f <- tempfile(fileext = ".arrow")
  nanoarrow::write_nanoarrow(nanoarrow::basic_array_stream(list(with_nulls)), f)
  expect_mcb_error(mc_read_arrow(f), "arrow", "must not contain nulls \\(found 1\\)")
  strings <- mcbridge:::.arrow_batch(c("a", "b", "c"), nanoarrow::na_string(), meta)
  nanoarrow::write_nanoarrow(nanoarrow::basic_array_stream(list(strings)), f)
  expect_mcb_error(mc_read_arrow(f), "arrow", "Unsupported Arrow value type 'u'")
  samples <- mcbridge:::.arrow_batch(1:8, nanoarrow::na_int32(),
                                     mcbridge:::.arrow_meta("mc_samples", c(2, 2, 2)))
  nanoarrow::write_nanoarrow(nanoarrow::basic_array_stream(list(samples)), f)
  expect_mcb_error(mc_read_arrow(f), "arrow", "MC samples must be float32 values")
})

test_that("a few hundred mutated files never crash the R session", {
  # Each read runs in this process: a crash would end the test run.
  sources <- list(
    valid_bytes(index_array()),
    valid_bytes(as_mc_prediction(index_array(c(5, 3, 4)) / 1000), rows_per_batch = 2),
    valid_bytes(matrix(c(TRUE, FALSE), 3, 4)),
    valid_bytes(array(1:24, c(2, 3, 4)))
  )
  edits <- list(c("mcbridge:shape", "mcbridge:shapf"), c("[", "{"), c("]", ")"),
                c("F", "C"), c("values", "valuez"), c("mc_samples", "mc_sample_"))
  set.seed(20261204)
  outcomes <- character(0)
  for (case in 1:320) {
    bytes <- sources[[(case %% length(sources)) + 1]]
    kind <- case %% 4
    if (kind == 0) {                       # truncation at any point
      bytes <- bytes[seq_len(sample.int(length(bytes) - 1, 1))]
    } else if (kind == 1) {                # a few byte flips
      at <- sample.int(length(bytes), sample.int(8, 1))
      bytes[at] <- as.raw(bitwXor(as.integer(bytes[at]), sample.int(255, length(at), TRUE)))
    } else if (kind == 2) {                # a metadata edit (same length)
      e <- edits[[sample.int(length(edits), 1)]]
      bytes <- tryCatch(raw_replace(bytes, e[1], e[2]), error = function(err) bytes)
      at <- sample.int(length(bytes), 1)
      bytes[at] <- as.raw(sample(0:255, 1))
    } else {                               # a run of random bytes
      at <- sample.int(length(bytes), 1)
      len <- min(length(bytes) - at + 1, sample.int(64, 1))
      bytes[at:(at + len - 1)] <- as.raw(sample(0:255, len, TRUE))
    }
    res <- tryCatch({ mc_read_arrow(bad_file(bytes)); "read" },
                    mcbridge_error_arrow = function(e) "mcbridge_error_arrow",
                    error = function(e) paste("other error:", conditionMessage(e)))
    outcomes <- c(outcomes, res)
  }
  expect_length(outcomes, 320)
  expect_true(all(outcomes %in% c("read", "mcbridge_error_arrow")),
              info = paste(unique(outcomes[!outcomes %in% c("read", "mcbridge_error_arrow")]), collapse = "\n"))
  expect_gt(sum(outcomes == "mcbridge_error_arrow"), 100)
})
