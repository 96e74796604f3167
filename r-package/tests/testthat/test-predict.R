test_that("mc_predict() returns list(mean, variance, all_samples)", {
  skip_if_no_engine()
  m <- tiny_model()
  x <- digits()$test$x[1:7, , ] / 16
  res <- mc_predict(m, x, n_samples = 6, batch_size = 3, seed = 11)
  expect_s3_class(res, "mc_prediction")
  expect_named(res, c("mean", "variance", "all_samples"))
  expect_identical(dim(res$all_samples), c(7L, 10L, 6L))
  expect_equal(res$mean, apply(res$all_samples, c(1, 2), mean))
  expect_equal(res$variance, apply(res$all_samples, c(1, 2), var))
  expect_equal(rowSums(res$mean), rep(1, 7), tolerance = 1e-5)
  expect_gt(max(res$variance), 0)          # dropout is on while sampling
  expect_false(mc_dropout_enabled(m))      # ... and off again afterwards
  # same seed, same samples; another seed, other samples
  expect_identical(mc_predict(m, x, n_samples = 6, batch_size = 3, seed = 11), res)
  expect_false(identical(mc_predict(m, x, n_samples = 6, seed = 12)$all_samples,
                         res$all_samples))
})

test_that("R mc_predict() is bit-identical to Python mc_predict() in another process", {
  skip_if_no_engine()
  dir <- withr::local_tempdir()
  m <- tiny_model()
  mc_save_model(m, file.path(dir, "m.keras"))
  x <- digits()$test$x[1:9, , ] / 16      # exact in float32
  write_mc_arrow(array(x, c(dim(x), 1)), file.path(dir, "x.arrow"))
  run_python(c(
    "import sys, keras, numpy as np, mcbridge, mcbridge.arrow",
    "d = sys.argv[1]",
    "m = keras.models.load_model(d + '/m.keras')",
    "x = mcbridge.arrow.read_arrow(d + '/x.arrow').astype('float32')",
    "res = mcbridge.mc_predict(m, x, n_samples=5, batch_size=4, seed=123)",
    "mcbridge.arrow.write_arrow(res, d + '/py.arrow')"
  ), dir)
  py <- read_mc_arrow(file.path(dir, "py.arrow"))
  r <- mc_predict(mc_load_model(file.path(dir, "m.keras")), x, n_samples = 5,
                  batch_size = 4, seed = 123)
  expect_identical(r$all_samples, py$all_samples)
  expect_identical(r$all_samples[2, 3, 4], py$all_samples[2, 3, 4])
})

test_that("a plain Keras model with ordinary Dropout layers works", {
  skip_if_no_engine()
  keras <- reticulate::import("keras", convert = FALSE)
  m <- keras$Sequential(list(
    keras$Input(shape = list(8L, 8L, 1L)),
    keras$layers$Flatten(),
    keras$layers$Dense(16L, activation = "relu"),
    keras$layers$Dropout(0.5),
    keras$layers$Dense(3L, activation = "softmax")
  ))
  res <- mc_predict(m, digits()$test$x[1:4, , ] / 16, n_samples = 8, seed = 1)
  expect_identical(dim(res$all_samples), c(4L, 3L, 8L))
  expect_gt(max(res$variance), 0)
})

test_that("print, summary and plot methods", {
  s <- array(c(0.9, 0.2, 0.1, 0.8, 0.6, 0.3, 0.4, 0.7), c(2, 2, 2))
  res <- as_mc_prediction(s)
  expect_output(print(res), "2 inputs x 2 classes x 2 samples")
  sm <- summary(res)
  expect_s3_class(sm, "summary.mc_prediction")
  expect_identical(sm$class, c(0L, 1L))
  expect_equal(sm$prob, c(0.75, 0.75))
  expect_output(print(sm), "Uncertainty")
  pdf(NULL)
  on.exit(dev.off())
  expect_invisible(plot(res, item = 2))
  expect_error(plot(res, item = 3), "at most 2")
  expect_error(as_mc_prediction(matrix(0, 2, 2)), "dim c\\(n, classes, samples\\)")
})

test_that("as_mc_prediction() gives mean() and var() over the samples", {
  set.seed(3)
  s <- array(runif(5 * 4 * 7), c(5, 4, 7))
  s[2, 3, 4] <- NA
  res <- as_mc_prediction(s)
  expect_identical(res$all_samples, s)
  expect_equal(res$mean, apply(s, c(1, 2), mean), tolerance = 1e-14)
  expect_equal(res$variance, apply(s, c(1, 2), var), tolerance = 1e-12)
  expect_true(is.na(res$mean[2, 3]) && is.na(res$variance[2, 3]))
  one <- as_mc_prediction(s[, , 1, drop = FALSE])
  expect_equal(one$mean, s[, , 1])
  expect_true(all(is.na(one$variance)))
  ints <- as_mc_prediction(array(1:8, c(2, 2, 2)))
  expect_identical(ints$mean, matrix(c(3, 4, 5, 6), 2, 2))
  expect_identical(ints$variance, matrix(8, 2, 2))
})
