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
  m <- tiny_model()
  withr::defer(mc_set_dropout(m, FALSE))  # the shared model as it was
  expect_invisible(mc_set_dropout(m, TRUE))
  expect_true(mc_dropout_enabled(m))
  m2 <- m |> mc_set_dropout(FALSE)
  expect_false(mc_dropout_enabled(m2))
  expect_mcb_error(mc_set_dropout(m, NA), "argument", "TRUE or FALSE")
})

test_that("models saved in Python load in R and the other way round", {
  m <- tiny_model()
  dir <- withr::local_tempdir()
  expect_mcb_error(mc_save_model(m, file.path(dir, "x.h5")), "input", "\\.keras")
  # A fresh Python loaded the model mc_save_model() wrote (from_r.keras),
  # printed its parameter count and saved it again (from_py.keras): see
  # python_reads_r() in helper-mcbridge.R.
  py_side <- python_reads_r()
  n_params <- reticulate::py_to_r(reticulate::py_call(reticulate::py_get_attr(m, "count_params")))
  expect_true(paste("params:", n_params) %in% py_side$out, info = paste(py_side$out, collapse = "\n"))
  m3 <- mc_load_model(file.path(py_side$dir, "from_py.keras"))
  x <- scaled_digits(1:4)
  expect_identical(mc_predict(m3, x, n_samples = 3, seed = 5)$all_samples,
                   mc_predict(m, x, n_samples = 3, seed = 5)$all_samples)
  expect_mcb_error(mc_load_model(file.path(dir, "missing.keras")), "input", "does not exist")
})

test_that("mc_load_model() refuses code in a .keras file unless safe_mode = FALSE", {
  skip_if_no_engine()
  dir <- withr::local_tempdir()
  f <- file.path(dir, "lambda.keras")
  # Saved by the engine's Python (keras cannot build a Lambda layer from R code).
  reticulate::py_run_string(paste(
    "import keras",
    "m = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda t: t * 2), keras.layers.Dense(2, activation='softmax')])",
    sprintf("m.save(%s)", encodeString(f, quote = "'")), sep = "\n"), local = TRUE)
  expect_mcb_error(mc_load_model(f), "model", "Cannot load")
  expect_true(mcbridge:::.is_keras_model(mc_load_model(f, safe_mode = FALSE)))
  expect_mcb_error(mc_load_model(f, safe_mode = NA), "argument", "safe_mode")
  bad <- file.path(dir, "bad.keras")
  writeBin(as.raw(1:100), bad)
  expect_mcb_error(mc_load_model(bad), "model", "Cannot load")
})

test_that("mc_mlp() builds Python's build_mlp() and checks its arguments in R", {
  skip_if_no_engine()
  m <- mc_mlp(input_dim = 4, n_outputs = 3, hidden_units = c(8, 6), dropout = c(0.2, 0), seed = 1)
  kinds <- unlist(reticulate::py_eval("lambda m: [type(l).__name__ for l in m.layers]")(m))
  expect_identical(kinds, c("Dense", "MCDropout", "Dense", "Dense"))
  expect_false(mc_dropout_enabled(m))
  h <- mc_mlp(input_dim = 2, n_outputs = 1, task = "regression", heteroscedastic = TRUE)
  expect_identical(reticulate::py_to_r(h$output_shape[[1]]), 2L)
  expect_mcb_error(mc_mlp(0), "argument", "`input_dim`")
  expect_mcb_error(mc_mlp(3, n_outputs = 1), "argument", "`n_outputs` must be a whole number >= 2")
  expect_mcb_error(mc_mlp(3, dropout = 0.5), "argument", "2 rates in \\[0, 1\\)")
  expect_mcb_error(mc_mlp(3, heteroscedastic = TRUE), "argument", "needs `task = \"regression\"`")
  expect_mcb_error(mc_mlp(3, task = "ranking"), "argument", "`task`")
})

test_that("mc_save_model() writes a file the rest of the team can read (the umask's mode, not 0600)", {
  m <- tiny_model()
  f <- file.path(withr::local_tempdir(), "shared.keras")
  old <- Sys.umask("027")
  withr::defer(Sys.umask(old))
  mc_save_model(m, f)
  expect_identical(file.mode(f), as.octmode("640"))
})
