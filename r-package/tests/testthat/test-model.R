test_that("mc_cnn() builds a Keras model and checks its arguments", {
  skip_if_no_engine()
  m <- mc_cnn(input_shape = c(8, 8, 1), filters = 4, dense_units = 8, dropout = c(0.1, 0.2))
  expect_true(mcbridge:::.is_keras_model(m))
  expect_false(mc_dropout_enabled(m))
  # padding = "same" makes the small input work, as the error suggests
  m2 <- mc_cnn(input_shape = c(8, 8, 1), filters = c(4, 4), dense_units = 8, padding = "same")
  expect_true(mcbridge:::.is_keras_model(m2))
  expect_identical(mcbridge:::.cnn_side(8, 2, 3, "same"), 2)
})

test_that("mc_set_dropout() switches and pipes", {
  skip_if_no_engine()
  m <- mc_cnn(input_shape = c(8, 8, 1), filters = 4, dense_units = 8, dropout = c(0.25, 0.5))
  expect_invisible(mc_set_dropout(m, TRUE))
  expect_true(mc_dropout_enabled(m))
  m2 <- m |> mc_set_dropout(FALSE)
  expect_false(mc_dropout_enabled(m2))
  expect_mcb_error(mc_set_dropout(m, NA), "argument", "TRUE or FALSE")
})

test_that("models saved in Python load in R and the other way round", {
  skip_if_no_engine()
  dir <- withr::local_tempdir()
  m <- tiny_model()
  r_file <- file.path(dir, "from_r.keras")
  mc_save_model(m, r_file)
  expect_mcb_error(mc_save_model(m, file.path(dir, "x.h5")), "input", "\\.keras")
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
  expect_mcb_error(mc_load_model(file.path(dir, "missing.keras")), "input", "does not exist")
})

test_that("mc_load_model() refuses code in a .keras file unless safe_mode = FALSE", {
  skip_if_no_engine()
  dir <- withr::local_tempdir()
  run_python(c(
    "import sys, keras",
    "m = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda t: t * 2), keras.layers.Dense(2, activation='softmax')])",
    "m.save(sys.argv[1] + '/lambda.keras')"
  ), dir)
  f <- file.path(dir, "lambda.keras")
  expect_mcb_error(mc_load_model(f), "model", "Cannot load")
  expect_true(mcbridge:::.is_keras_model(mc_load_model(f, safe_mode = FALSE)))
  expect_mcb_error(mc_load_model(f, safe_mode = NA), "argument", "safe_mode")
  bad <- file.path(dir, "bad.keras")
  writeBin(as.raw(1:100), bad)
  expect_mcb_error(mc_load_model(bad), "model", "Cannot load")
})
