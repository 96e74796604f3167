# mc_export(): a TensorFlow SavedModel that answers with mc_predict()'s numbers.

# The SavedModel's "seeded" answer for R array `x` c(n, ...), through
# reticulate and TensorFlow only (lists, not NumPy arrays: any reticulate):
# every signature output, as R arrays (dim as in R, first index the input).
seeded_answer <- function(path, x, seed, input_shape = c(8, 8, 1)) {
  tf <- reticulate::import("tensorflow")
  m <- tf$saved_model$load(path)
  n <- dim(x)[1]
  flat <- as.vector(aperm(x, rev(seq_along(dim(x)))))  # row-major, as TensorFlow reads it
  xt <- tf$reshape(tf$constant(flat, dtype = tf$float32), as.integer(c(n, input_shape)))
  out <- m$signatures[["seeded"]](x = xt, seed = tf$constant(as.integer(seed), dtype = tf$int64),
                                  key = tf$range(as.integer(n), dtype = tf$int64))
  from_tf <- function(t) {
    d <- unlist(t$shape$as_list())
    v <- unlist(tf$reshape(t, -1L)$numpy()$tolist())
    if (length(d) < 2) return(v)
    aperm(array(v, rev(d)), rev(seq_along(d)))
  }
  lapply(out, from_tf)
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

test_that("mc_export() serves each output of a two-output model as '<output>/<summary>'", {
  skip_if_no_engine()
  keras <- reticulate::import("keras", convert = FALSE)
  apply <- reticulate::py_call  # (a layer applied to a tensor)
  inp <- keras$Input(shape = list(4L))
  h <- apply(keras$layers$Dropout(0.3), apply(keras$layers$Dense(8L, activation = "relu"), inp))
  label <- apply(keras$layers$Dense(3L, activation = "softmax", name = "label"), h)
  price <- apply(keras$layers$Dense(2L, name = "price"), h)  # a mean and a log-variance
  model <- keras$Model(inp, list(label, price))
  tasks <- list(task = c("classification", "regression"), heteroscedastic = c(FALSE, TRUE))
  path <- file.path(withr::local_tempdir(), "two")
  do.call(mc_export, c(list(model, path, n_samples = 4, include_samples = TRUE), tasks))
  x <- matrix(seq(-1, 1, length.out = 20), 5, 4)
  got <- seeded_answer(path, x, seed = 3, input_shape = 4)
  expect_setequal(names(got), c(
    "label/mean", "label/variance", "label/predictive_entropy", "label/mutual_information",
    "label/samples", "price/mean", "price/aleatoric_variance", "price/epistemic_variance",
    "price/predictive_variance", "price/samples", "price/noise_variance"))
  res <- do.call(mc_predict, c(list(model, x, n_samples = 4, seed = 3), tasks))
  expect_identical(got[["label/samples"]], res[[1]]$all_samples)
  expect_identical(got[["price/samples"]], res[[2]]$all_samples)
  expect_equal(got[["label/mean"]], res[[1]]$mean, tolerance = 1e-12)
  expect_equal(got[["price/noise_variance"]], res[[2]]$noise_variance, tolerance = 1e-6)
  expect_mcb_error(
    do.call(mc_export, c(list(model, file.path(dirname(path), "b"), outputs = "mutual_information"), tasks)),
    "model", "not a summary of output 'price'")
  expect_mcb_error(mc_export(model, file.path(dirname(path), "b"), heteroscedastic = TRUE), "argument",
                   "needs `task = \"regression\"`")
  only <- file.path(dirname(path), "only")
  do.call(mc_export, c(list(model, only, n_samples = 2, outputs = list(price = "predictive_std")), tasks))
  expect_true("price/predictive_std" %in% names(seeded_answer(only, x, seed = 1, input_shape = 4)))
})

test_that("a model built on inputs of any size exports the size asked for, as Python does", {
  skip_if_no_engine()
  reticulate::py_run_string(paste(
    "import keras",
    "keras.utils.set_random_seed(5)",
    "_i = keras.Input((None, None, 1))",
    "_h = keras.layers.Dropout(0.3)(keras.layers.Conv2D(2, 3, padding='same')(_i))",
    "_fcn = keras.Model(_i, keras.layers.Conv2D(3, 1, activation='softmax')(_h))",
    sep = "\n"))
  model <- reticulate::py_eval("_fcn", convert = FALSE)
  dir <- file.path(withr::local_tempdir(), "fcn")
  expect_mcb_error(mc_export(model, dir), "model", "input_shape")
  expect_mcb_error(mc_export(model, dir, input_shape = c(6, 0.5, 1)), "argument", "input_shape")
  expect_false(dir.exists(dir))
  mc_export(model, dir, n_samples = 3, input_shape = c(6, 5, 1))
  x <- array((seq_len(2 * 30) %% 7) / 7, c(2, 6, 5, 1))
  got <- seeded_answer(dir, x, seed = 2, input_shape = c(6, 5, 1))
  expect_identical(dim(got$mean), c(2L, 6L, 5L, 3L))
  expect_equal(got$mean, mc_predict(model, x, n_samples = 3, seed = 2)$mean, tolerance = 1e-6)
})
