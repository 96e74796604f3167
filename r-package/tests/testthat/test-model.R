test_that("mc_cnn() builds a Keras model and checks its arguments", {
  skip_if_no_engine()
  m <- mc_cnn(input_shape = c(8, 8, 1), filters = 4, dense_units = 8, dropout = c(0.1, 0.2))
  expect_true(mcbridge:::.is_keras_model(m))
  expect_false(mc_dropout_enabled(m))
  expect_error(mc_cnn(dropout = c(0.5, 0.5)), "3 rates")
  expect_error(mc_cnn(input_shape = c(28, 28)), "height, width, channels")
  expect_error(mc_cnn(n_classes = 1), "n_classes")
})

test_that("mc_fit(), mc_train_on_batch() and mc_evaluate() return R values", {
  skip_if_no_engine()
  d <- digits()
  m <- mc_cnn(input_shape = c(8, 8, 1), filters = 4, dense_units = 8,
              dropout = c(0.25, 0.5), seed = 2)
  h <- mc_fit(m, d$train$x / 16, d$train$y, epochs = 2, batch_size = 64,
              validation_split = 0.1, verbose = 0)
  expect_s3_class(h, "data.frame")
  expect_identical(nrow(h), 2L)
  expect_true(all(c("epoch", "loss", "accuracy", "val_loss", "val_accuracy") %in% names(h)))
  # the seed's custom loop over mini-batches
  losses <- c()
  for (b in 1:3) {
    idx <- ((b - 1) * 32 + 1):(b * 32)
    out <- mc_train_on_batch(m, d$train$x[idx, , ] / 16, factor(d$train$y[idx], levels = 0:9))
    losses <- c(losses, out[[1]])
  }
  expect_identical(names(out), c("loss", "accuracy"))
  expect_true(all(is.finite(losses)))
  e <- mc_evaluate(m, d$test$x / 16, d$test$y)
  expect_true(is.numeric(e) && all(c("loss", "accuracy") %in% names(e)))
  # 4-d input works as well as 3-d
  x4 <- array(d$test$x[1:8, , ] / 16, c(8, 8, 8, 1))
  expect_true(is.finite(mc_evaluate(m, x4, d$test$y[1:8])[["loss"]]))
  expect_error(mc_evaluate(m, array(0, c(2, 8, 8, 1, 1)), 1:2), "expects 4-d input")
})

test_that("set_mc_dropout() switches and pipes", {
  skip_if_no_engine()
  m <- mc_cnn(input_shape = c(8, 8, 1), filters = 4, dense_units = 8, dropout = c(0.25, 0.5))
  expect_invisible(set_mc_dropout(m, TRUE))
  expect_true(mc_dropout_enabled(m))
  m2 <- m |> set_mc_dropout(FALSE)
  expect_false(mc_dropout_enabled(m2))
  expect_error(set_mc_dropout(m, NA), "TRUE or FALSE")
})

test_that("models saved in Python load in R and the other way round", {
  skip_if_no_engine()
  dir <- withr::local_tempdir()
  m <- tiny_model()
  r_file <- file.path(dir, "from_r.keras")
  mc_save_model(m, r_file)
  expect_error(mc_save_model(m, file.path(dir, "x.h5")), "\\.keras")
  out <- run_python(c(
    "import sys, keras, mcbridge",
    "d = sys.argv[1]",
    "m = keras.models.load_model(d + '/from_r.keras')",
    "print(m.count_params())",
    "m.save(d + '/from_py.keras')"
  ), dir)
  n_params <- reticulate::py_to_r(reticulate::py_call(reticulate::py_get_attr(m, "count_params")))
  expect_identical(out[length(out)], as.character(n_params))
  m3 <- mc_load_model(file.path(dir, "from_py.keras"))
  x <- digits()$test$x[1:4, , ] / 16
  expect_identical(mc_predict(m3, x, n_samples = 3, seed = 5)$all_samples,
                   mc_predict(m, x, n_samples = 3, seed = 5)$all_samples)
  expect_error(mc_load_model(file.path(dir, "missing.keras")), "existing")
})
