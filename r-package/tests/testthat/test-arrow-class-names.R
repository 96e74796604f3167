# The optional mcbridge:class_names metadata (docs/ARROW.md): class names
# travel with an MC result through files and memory, in both languages.

named_prediction <- function(names = c("T-shirt/top", "Trouser", "Pull\u00f6ver")) {
  res <- as_mc_prediction(array(c(0.25, 0.75, 0, 0.5, 0.25, 0.25, 0.125, 0.5, 0.375,
                                  0.5, 0.5, 0, 0.25, 0.25, 0.5, 0.75, 0.125, 0.125),
                                c(2, 3, 3)))
  mc_class_names(res) <- names
  res
}

test_that("class names round-trip in R through files and memory", {
  res <- named_prediction()
  f <- withr::local_tempfile(fileext = ".arrow")
  mc_write_arrow(res, f, rows_per_batch = 1)
  back <- mc_read_arrow(f)
  expect_identical(mc_class_names(back), mc_class_names(res))
  expect_identical(back$all_samples, res$all_samples)
  meta <- nanoarrow::read_nanoarrow(f)$get_schema()$metadata
  expect_identical(jsonlite::fromJSON(meta[["mcbridge:class_names"]]), mc_class_names(res))
  expect_identical(mc_class_names(mc_from_arrow(mc_to_arrow(res))), mc_class_names(res))
  # One class: still a JSON list.
  one <- as_mc_prediction(array(1, c(2, 1, 2)))
  mc_class_names(one) <- "only"
  expect_identical(nanoarrow::infer_nanoarrow_schema(mc_to_arrow(one))$metadata[["mcbridge:class_names"]], '["only"]')
  expect_identical(mc_class_names(mc_from_arrow(mc_to_arrow(one))), "only")
  # Without names: no key, and NULL back.
  plain <- as_mc_prediction(res$all_samples)
  expect_null(nanoarrow::infer_nanoarrow_schema(mc_to_arrow(plain))$metadata[["mcbridge:class_names"]])
  expect_null(mc_class_names(mc_from_arrow(mc_to_arrow(plain))))
})

test_that("bad mcbridge:class_names metadata is an mcbridge_error_arrow", {
  write_with <- function(value) {
    meta <- mcbridge:::.arrow_meta("mc_samples", c(1, 2, 1), mcbridge:::.mc_dim_names)
    meta[["mcbridge:class_names"]] <- value
    f <- tempfile(fileext = ".arrow")
    nanoarrow::write_nanoarrow(nanoarrow::basic_array_stream(list(
      mcbridge:::.arrow_batch(c(0.5, 0.5), nanoarrow::na_float(), meta))), f)
    f
  }
  expect_identical(mc_class_names(mc_read_arrow(write_with('["a", "b"]'))), c("a", "b"))
  for (bad in c('["a"]', '["a", "b", "c"]', "[1, 2]", '"ab"', '["a", ', '{"x": "a", "y": "b"}',
                '[["a"], "b"]', '["a", null]')) {
    expect_mcb_error(mc_read_arrow(write_with(bad)), "arrow", "Invalid mcbridge:class_names")
  }
})

test_that("class names cross between Python and R (files both ways, and in memory)", {
  skip_if_no_engine()
  dir <- withr::local_tempdir()
  mc_write_arrow(named_prediction(), file.path(dir, "r_res.arrow"))
  # In the engine's interpreter (the mcbridge the R package uses).
  reticulate::py_run_string(paste(c(
    "import numpy as np, mcbridge, mcbridge.arrow",
    sprintf("d = %s", encodeString(dir, quote = "'")),
    "r = mcbridge.arrow.read_arrow(d + '/r_res.arrow')",
    "assert r.class_names == ('T-shirt/top', 'Trouser', 'Pull\\u00f6ver'), r.class_names",
    "s = np.asfortranarray(np.full((2, 3, 4), 1 / 3, dtype='float32'))",
    "mcbridge.arrow.write_arrow(mcbridge.MCResult(s, class_names=['cat', 'dog', 'bird']),",
    "                           d + '/py_res.arrow', rows_per_batch=1)"
  ), collapse = "\n"))
  back <- mc_read_arrow(file.path(dir, "py_res.arrow"))
  expect_identical(mc_class_names(back), c("cat", "dog", "bird"))
  expect_identical(dim(back$all_samples), c(2L, 3L, 4L))
  py <- reticulate::py_eval(
    "__import__('mcbridge').MCResult(__import__('numpy').full((1, 2, 2), 0.5, dtype='float32'), class_names=['yes', 'no'])",
    convert = FALSE)
  expect_identical(mc_class_names(py_to_r_c(py)), c("yes", "no"))
})
