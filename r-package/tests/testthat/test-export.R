# mc_export(): a TensorFlow SavedModel that answers with mc_predict()'s numbers.

# The SavedModel's "seeded" answer for R array `x` c(n, 8, 8), through
# reticulate and TensorFlow only (lists, not NumPy arrays: any reticulate).
seeded_answer <- function(path, x, seed) {
  tf <- reticulate::import("tensorflow")
  m <- tf$saved_model$load(path)
  n <- dim(x)[1]
  flat <- as.vector(aperm(x, rev(seq_along(dim(x)))))  # row-major, as TensorFlow reads it
  xt <- tf$reshape(tf$constant(flat, dtype = tf$float32), as.integer(c(n, 8, 8, 1)))
  out <- m$signatures[["seeded"]](x = xt, seed = tf$constant(as.integer(seed), dtype = tf$int64),
                                  key = tf$range(as.integer(n), dtype = tf$int64))
  from_tf <- function(t) {
    d <- unlist(t$shape$as_list())
    v <- unlist(tf$reshape(t, -1L)$numpy()$tolist())
    if (length(d) < 2) return(v)
    aperm(array(v, rev(d)), rev(seq_along(d)))
  }
  list(samples = from_tf(out$samples), mean = from_tf(out$mean),
       mutual_information = from_tf(out$mutual_information))
}

test_that("mc_export() writes a SavedModel whose seeded signature gives mc_predict()'s samples", {
  model <- tiny_model()
  path <- file.path(withr::local_tempdir(), "served")
  expect_invisible(out <- mc_export(model, path, n_samples = 5, include_samples = TRUE))
  expect_identical(out, normalizePath(path))
  expect_true(file.exists(file.path(path, "saved_model.pb")))
  x <- scaled_digits(1:3)
  res <- mc_predict(model, x, n_samples = 5, seed = 7)
  got <- seeded_answer(path, x, seed = 7)
  expect_identical(dim(got$samples), c(3L, 10L, 5L))
  expect_identical(got$samples, res$all_samples)
  expect_equal(got$mean, res$mean, tolerance = 1e-12)
  expect_equal(got$mutual_information, unname(mc_mutual_information(res)), tolerance = 1e-10)
})

test_that("mc_export() refuses bad arguments, an existing directory and a missing folder", {
  model <- tiny_model()
  dir <- withr::local_tempdir()
  expect_mcb_error(mc_export(model, file.path(dir, "a"), n_samples = 0), "argument")
  expect_mcb_error(mc_export(model, file.path(dir, "a"), outputs = 1), "argument")
  expect_mcb_error(mc_export(model, file.path(dir, "a"), task = "ranking"), "argument")
  expect_mcb_error(mc_export("model.keras", file.path(dir, "a")), "model")
  expect_mcb_error(mc_export(model, file.path(dir, "no", "a")), "io", "create it first")
  writeLines("keep", file.path(dir, "notes.txt"))
  expect_mcb_error(mc_export(model, dir), "io", "not empty")
  expect_mcb_error(mc_export(model, file.path(dir, "b"), outputs = "entropy"), "model",
                   "'entropy' is not a summary")
  expect_identical(sort(list.files(dir, all.files = TRUE, no.. = TRUE)), "notes.txt")
})

test_that("mc_export() exports an ensemble as one SavedModel", {
  ens <- tiny_ensemble()
  path <- file.path(withr::local_tempdir(), "ens")
  mc_export(ens, path, n_samples = 1, include_samples = TRUE)
  x <- scaled_digits(1:2)
  got <- seeded_answer(path, x, seed = 0)
  expect_identical(got$samples, mc_predict(ens, x)$all_samples)
})
