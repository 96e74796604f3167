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
    write_mc_arrow(x, f)
    expect_identical(read_mc_arrow(f), x)
  }
})

test_that("several record batches keep the row order", {
  f <- withr::local_tempfile(fileext = ".arrow")
  x <- index_array(c(7, 3, 2))
  write_mc_arrow(x, f, rows_per_batch = 3)
  stream <- nanoarrow::read_nanoarrow(f)
  n_batches <- 0
  while (!is.null(stream$get_next())) n_batches <- n_batches + 1
  expect_equal(n_batches, 3)
  expect_identical(read_mc_arrow(f), x)
})

test_that("mc_prediction files round-trip as float32 with the mcbridge schema", {
  f <- withr::local_tempfile(fileext = ".arrow")
  p <- array(c(0.25, 0.75, 0.5, 0.5, 0.125, 0.875), c(1, 2, 3))
  res <- as_mc_prediction(p)
  write_mc_arrow(res, f)
  back <- read_mc_arrow(f)
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

test_that("writes are atomic: a failed write leaves no file behind", {
  dir <- withr::local_tempdir()
  f <- file.path(dir, "x.arrow")
  write_mc_arrow(1:3, f)
  expect_error(write_mc_arrow(c(1, NA), f), "NA")
  expect_error(write_mc_arrow("a", f), "numeric")
  expect_identical(read_mc_arrow(f), 1:3)
  expect_identical(list.files(dir, all.files = TRUE, no.. = TRUE), "x.arrow")
})

test_that("JSON metadata helpers parse what they write", {
  expect_identical(mcbridge:::.parse_json_numbers(mcbridge:::.json_numbers(c(NA, 10, 100))),
                   c(NA, 10, 100))
  expect_identical(mcbridge:::.parse_json_numbers("[]"), numeric(0))
  nm <- c("n", "classes", 'we"ird')
  expect_identical(mcbridge:::.parse_json_strings(mcbridge:::.json_strings(nm)), nm)
})

test_that("Python -> R in memory (C data interface) keeps index semantics", {
  skip_if_no_engine()
  np <- reticulate::import("numpy", convert = FALSE)
  a <- reticulate::py_eval(
    "__import__('numpy').fromfunction(lambda i, j, k: 100 * i + 10 * j + k, (4, 3, 5), dtype='float32')",
    convert = FALSE)
  x <- mcbridge:::.py_to_r(a)
  expect_identical(dim(x), c(4L, 3L, 5L))
  expect_identical(x, index_array())
  expect_identical(x[3, 2, 5], 100 * 2 + 10 * 1 + 4)
  ints <- reticulate::py_eval("__import__('numpy').arange(6, dtype='uint8').reshape(2, 3)",
                              convert = FALSE)
  expect_identical(mcbridge:::.py_to_r(ints), matrix(c(0L, 3L, 1L, 4L, 2L, 5L), 2, 3))
})

test_that("float32 values arrive as the exact doubles, whatever the array offset", {
  skip_if_no_engine()
  vals <- c(0.1, -0, 1e-45, 3.4e38, -Inf, 1 / 3, 2^-126)
  as_f32 <- function(v) readBin(writeBin(v, raw(), size = 4), "double", size = 4, n = length(v))
  a <- reticulate::py_eval(sprintf("__import__('numpy').array([%s], dtype='float32')",
                                   "0.1, -0.0, 1e-45, 3.4e38, float('-inf'), 1 / 3, 2.0**-126"),
                           convert = FALSE)
  x <- mcbridge:::.py_to_r(a)
  expect_identical(x, as_f32(vals))
  expect_identical(1 / x[2], -Inf)  # the sign of zero survives
  # A sliced Arrow array (offset 2) converts only its own elements.
  arr <- nanoarrow::as_nanoarrow_array(vals, schema = nanoarrow::na_float())
  sliced <- nanoarrow::nanoarrow_array_modify(arr, list(offset = 2, length = 3))
  batch <- nanoarrow::nanoarrow_array_modify(
    nanoarrow::nanoarrow_array_init(nanoarrow::na_struct(list(values = nanoarrow::na_float()))),
    list(length = 3, children = list(values = sliced)))
  schema <- nanoarrow::infer_nanoarrow_schema(batch)
  expect_identical(mcbridge:::.from_arrow_batches(schema, list(batch)), as_f32(vals[3:5]))
})

test_that("R -> Python in memory keeps index semantics", {
  skip_if_no_engine()
  x <- index_array()
  py <- mcbridge:::.r_to_py(x)
  get <- function(i, j, k) reticulate::py_to_r(reticulate::py_call(
    reticulate::py_get_attr(py, "item"), as.integer(i), as.integer(j), as.integer(k)))
  expect_identical(get(2, 1, 4), x[3, 2, 5])
  expect_identical(get(3, 2, 0), 320)
  shape <- reticulate::py_to_r(reticulate::py_get_attr(py, "shape"))
  expect_identical(unlist(shape), c(4L, 3L, 5L))
  expect_true(reticulate::py_to_r(py$flags$c_contiguous))
})

test_that("Python-written files read in R and R-written files read in Python", {
  skip_if_no_engine()
  dir <- withr::local_tempdir()
  out <- run_python(c(
    "import sys, numpy as np, pyarrow as pa, mcbridge, mcbridge.arrow",
    "d = sys.argv[1]",
    "a = np.fromfunction(lambda i, j, k: 100 * i + 10 * j + k, (4, 3, 5), dtype='float32')",
    "mcbridge.arrow.write_arrow(mcbridge.MCResult(a), d + '/py_res.arrow', rows_per_batch=3)",
    "mcbridge.arrow.write_arrow(a.astype('int32'), d + '/py_int.arrow')",
    "b = mcbridge.arrow.to_arrow(a.astype('float64'))",
    "with pa.OSFile(d + '/py_file_format.arrow', 'wb') as f:",
    "    with pa.ipc.new_file(f, b.schema) as w: w.write_batch(b)"
  ), dir)
  res <- read_mc_arrow(file.path(dir, "py_res.arrow"))
  expect_s3_class(res, "mc_prediction")
  expect_identical(res$all_samples, index_array())
  expect_identical(read_mc_arrow(file.path(dir, "py_int.arrow")),
                   array(as.integer(index_array()), c(4, 3, 5)))
  expect_identical(read_mc_arrow(file.path(dir, "py_file_format.arrow")), index_array())

  write_mc_arrow(as_mc_prediction(index_array() / 1000), file.path(dir, "r_res.arrow"),
                 rows_per_batch = 2)
  write_mc_arrow(index_array(), file.path(dir, "r_dbl.arrow"))
  out <- run_python(c(
    "import sys, numpy as np, pyarrow as pa, mcbridge, mcbridge.arrow",
    "d = sys.argv[1]",
    "a = np.fromfunction(lambda i, j, k: 100 * i + 10 * j + k, (4, 3, 5))",
    "r = mcbridge.arrow.read_arrow(d + '/r_res.arrow')",
    "assert isinstance(r, mcbridge.MCResult) and r.samples.dtype == np.float32",
    "assert np.array_equal(r.samples, (a / 1000).astype('float32'))",
    "x = mcbridge.arrow.read_arrow(d + '/r_dbl.arrow')",
    "assert x.dtype == np.float64 and np.array_equal(x, a)",
    "t = pa.ipc.open_stream(d + '/r_dbl.arrow').read_all()",
    "print(t.schema.metadata[b'mcbridge:shape'].decode())"
  ), dir)
  expect_identical(out[length(out)], "[4, 3, 5]")
})
