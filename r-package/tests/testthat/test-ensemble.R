# Deep ensembles in R: training, printing, prediction (member-major), saving
# and loading, and the same bits as Python's mcbridge.mc_predict. The tiny
# ensemble (tiny_ensemble()) is trained once, in helper-mcbridge.R.

test_that("mc_train_ensemble() trains k members in one crossing, one line each, and prints", {
  ens <- tiny_ensemble()
  expect_s3_class(ens, "mc_ensemble")
  expect_identical(ens$k, 2L)
  expect_identical(ens$input_shape, c(8L, 8L, 1L))
  expect_identical(ens$outputs, 10L)
  expect_match(.fixtures$ensemble_out, "^Ensemble member [12]/2: 1 epoch\\(s\\) in ")
  expect_length(.fixtures$ensemble_out, 2)
  expect_output(print(ens), "<mc_ensemble> 2 members, input shape c(8, 8, 1), 10 outputs",
                fixed = TRUE)
  d <- digits()
  before <- bridge_calls()
  quiet <- capture.output(e1 <- mc_train_ensemble(d$train$x[1:16, , ] / 16, d$train$y[1:16],
                                                  k = 1, progress = FALSE,
                                                  input_shape = c(8, 8, 1), filters = 4,
                                                  dense_units = 0, dropout = c(0, 0)))
  expect_length(quiet, 0)
  after <- bridge_calls()
  expect_identical(sum(after) - sum(before), 1L)
  expect_identical(unname(after["train_ensemble"] - (before["train_ensemble"] %||% 0L)), 1L)
})

test_that("mc_predict() on an ensemble: one sample per member by default, member-major", {
  ens <- tiny_ensemble()
  x <- scaled_digits(1:5)
  res <- mc_predict(ens, x)
  expect_s3_class(res, "mc_prediction")
  expect_identical(dim(res$all_samples), c(5L, 10L, 2L))
  expect_equal(rowSums(res$mean), rep(1, 5), tolerance = 1e-5)
  expect_identical(mc_predict(ens, x), res)       # deterministic: dropout off
  both <- mc_predict(ens, x, n_samples = 3, seed = 9, batch_size = 4)
  expect_identical(dim(both$all_samples), c(5L, 10L, 6L))
  # member-major: samples 1-3 are member 1's MC samples, 4-6 member 2's; the
  # member means differ from each other (different initial weights)
  m1 <- apply(both$all_samples[, , 1:3], c(1, 2), mean)
  m2 <- apply(both$all_samples[, , 4:6], c(1, 2), mean)
  expect_gt(max(abs(m1 - m2)), 1e-3)
  # ... and member j's block is near its deterministic prediction (tolerance:
  # 3 dropout samples vs the mean network)
  expect_lt(mean(abs(m1 - res$all_samples[, , 1])), mean(abs(m1 - res$all_samples[, , 2])))
  expect_identical(mc_predict(ens, x, n_samples = 3, seed = 9, batch_size = 4), both)
})

test_that("ensembles save to one file, load with identical predictions, and match Python's bits", {
  ens <- tiny_ensemble()
  dir <- withr::local_tempdir()
  f <- file.path(dir, "tiny.ensemble")
  expect_identical(mc_save_ensemble(ens, f), f)
  expect_identical(list.files(dir), "tiny.ensemble")
  loaded <- mc_load_ensemble(f)
  expect_s3_class(loaded, "mc_ensemble")
  # A fresh Python loaded the same ensemble (saved by R) and predicted these 9
  # digits, exact in float32 (python_reads_r() in helper-mcbridge.R).
  py_side <- python_reads_r()
  x <- py_side$x
  r_one <- mc_predict(ens, x)
  r_both <- mc_predict(ens, x, n_samples = 2, seed = 4, batch_size = 4)
  expect_identical(mc_predict(loaded, x), r_one)
  expect_identical(mc_predict(loaded, x, n_samples = 2, seed = 4, batch_size = 4), r_both)
  expect_identical(r_one$all_samples,
                   mc_read_arrow(file.path(py_side$dir, "ensemble_one.arrow"))$all_samples)
  expect_identical(r_both$all_samples,
                   mc_read_arrow(file.path(py_side$dir, "ensemble_both.arrow"))$all_samples)
})

test_that("an ensemble from an R builder function", {
  calls <- 0
  build <- function() {
    calls <<- calls + 1
    m <- dense_model(c(8, 8), dropout = 0)   # Flatten, Dense(3, softmax)
    m$compile(optimizer = "adam", loss = "sparse_categorical_crossentropy")
    m
  }
  d <- digits()
  y <- d$train$y[1:12] %% 3
  ens <- mc_train_ensemble(d$train$x[1:12, , ] / 16, y, k = 2, seed = 1, build = build,
                           progress = FALSE)
  expect_identical(calls, 3)                # one probe for the shapes, then k members
  expect_identical(ens$input_shape, c(8L, 8L))
  expect_identical(dim(mc_predict(ens, scaled_digits(1:2))$all_samples), c(2L, 3L, 2L))
  expect_mcb_error(mc_train_ensemble(d$train$x[1:4, , ] / 16, 0:3, build = function() 42,
                                     progress = FALSE),
                   "model", "`build` must return a compiled Keras model")
})

test_that("mc_train_ensemble(), mc_save_ensemble() and mc_load_ensemble() reject bad arguments", {
  x <- array(0, c(4, 8, 8)); y <- 0:3
  expect_mcb_error(mc_train_ensemble(x, y, k = 0), "argument", "`k` must be a whole number >= 1, not 0")
  expect_mcb_error(mc_train_ensemble(x, y, epochs = 1.5), "argument", "`epochs`")
  expect_mcb_error(mc_train_ensemble(x, y, seed = -1), "argument", "`seed`")
  expect_mcb_error(mc_train_ensemble(x, y, progress = NA), "argument", "`progress`")
  expect_mcb_error(mc_train_ensemble(x, y, build = "cnn"), "argument",
                   "`build` must be NULL or a function returning a compiled Keras model")
  expect_mcb_error(mc_train_ensemble(x, y, build = function() NULL, filters = 4), "argument",
                   "applies only with `build = NULL`")
  expect_mcb_error(mc_train_ensemble(x, y, input_shape = c(8, 8, 1), units = 3), "argument",
                   "`...` takes named arguments of mc_cnn\\(\\) .*, not `units`")
  expect_mcb_error(mc_train_ensemble(x, y, input_shape = c(8, 8)), "argument",
                   "`input_shape` must be c\\(height, width, channels\\)")
  expect_mcb_error(mc_train_ensemble(x, 0:2, input_shape = c(8, 8, 1), filters = 4,
                                     dropout = c(0, 0)), "input", "`y` has 3 labels but `x` has 4")
  expect_mcb_error(mc_train_ensemble(replace(x, 1, NA), y), "input", "finite numbers")
  expect_mcb_error(mc_save_ensemble(list(), tempfile()), "model", "must be an mc_ensemble")
  expect_mcb_error(mc_predict(structure(list(ensemble = NULL), class = "mc_ensemble"), x),
                   "model", "no longer holds its Python models")
  expect_mcb_error(mc_load_ensemble(tempfile()), "input", "does not exist")
  expect_mcb_error(mc_load_ensemble(tempfile(), safe_mode = NA), "input")
  skip_if_no_engine()
  ens <- tiny_ensemble()
  expect_mcb_error(mc_save_ensemble(ens, file.path(tempfile(), "e.ensemble")), "io",
                   "the directory .* does not exist")
  expect_mcb_error(mc_predict(ens, x, n_samples = 0), "argument", "`n_samples`")
  expect_mcb_error(mc_predict(ens, array(0, c(2, 7, 8))), "input",
                   "`x` has dim c\\(2, 7, 8, 1\\) but the model expects c\\(n, 8, 8, 1\\)")
  bad <- withr::local_tempfile(fileext = ".ensemble")
  writeBin(as.raw(1:100), bad)
  expect_mcb_error(mc_load_ensemble(bad), "model", "Cannot load .*not an mcbridge ensemble")
  expect_mcb_error(mc_train_ensemble(x, c(0, 1, 2, 12), k = 1, progress = FALSE,
                                     input_shape = c(8, 8, 1), filters = 4, dense_units = 0,
                                     dropout = c(0, 0)),
                   "input", "holds class codes up to 12, but the model has 10 classes")
})

test_that("mc_train_ensemble() has Python's argument names and defaults", {
  skip_if_no_engine()
  mcb <- reticulate::import("mcbridge", convert = FALSE)
  params <- reticulate::py_eval(paste(
    "lambda f: {k: repr(p.default) for k, p in __import__('inspect').signature(f).parameters.items()",
    "if p.default is not p.empty}"))(mcb$train_ensemble)
  f <- formals(mc_train_ensemble)
  for (arg in c("k", "epochs", "batch_size", "seed", "progress")) {
    r <- eval(f[[arg]])
    r <- if (is.null(r)) "None" else if (is.logical(r)) (if (r) "True" else "False") else format(r)
    expect_identical(r, params[[arg]], info = arg)
  }
  expect_identical(names(f)[1:7], c("x", "y", "k", "epochs", "batch_size", "seed", "build"))
})

# Argument errors come before mcbridge looks at the CPU: the same with and
# without bfloat16 instructions (local_bf16_cpu() in helper-mcbridge.R).
for (bf16_cpu in c(FALSE, TRUE)) {
  test_that(sprintf("mc_predict() on an ensemble takes precision as Python does (CPU with bfloat16: %s)",
                    bf16_cpu), {
    local_bf16_cpu(bf16_cpu)
    ens <- tiny_ensemble()
    x <- scaled_digits(1:3)
    expect_no_warning(f32 <- mc_predict(ens, x, precision = "float32"))
    expect_identical(f32, mc_predict(ens, x))
    expect_mcb_error(mc_predict(ens, x, precision = "bfloat16"), "python", "applies to MC sampling")
    ref <- mc_predict(ens, x, n_samples = 2, seed = 1)
    if (!bf16_cpu) {
      expect_warning(both <- mc_predict(ens, x, n_samples = 2, seed = 1, precision = "bfloat16"),
                     "no bfloat16 instructions", class = "mcbridge_warning")
      expect_identical(both, ref)                                # float32 instead
    } else {
      skip_unless_cpu_computes_bf16()
      expect_no_warning(both <- mc_predict(ens, x, n_samples = 2, seed = 1, precision = "bfloat16"))
      expect_identical(dim(both$all_samples), c(3L, 10L, 4L))
      expect_false(identical(both$all_samples, ref$all_samples))  # computed in bfloat16
      expect_lt(max(abs(both$all_samples - ref$all_samples)), 0.05)
    }
  })
}

test_that("an ensemble of two-input, two-output members: x a list by input name, results named by output, Python's bits", {
  skip_if_no_engine()
  reticulate::py_run_string(paste(
    "import keras, mcbridge",
    "from keras import layers",
    "def _ens_two_heads(seed):",
    "    keras.utils.set_random_seed(seed)",
    "    a, t = keras.Input((4, 4, 1), name='image'), keras.Input((3,), name='table')",
    "    h = layers.Concatenate()([layers.Flatten()(a), t])",
    "    h = layers.Dropout(0.5)(layers.Dense(8, activation='relu')(h))",
    "    label = layers.Dense(3, activation='softmax', name='label')(h)",
    "    return keras.Model([a, t], [label, layers.Dense(2, name='value')(h)])",
    "_ens_two = mcbridge.Ensemble([_ens_two_heads(1), _ens_two_heads(2)])",
    sep = "\n"))
  f <- file.path(withr::local_tempdir(), "two.ensemble")
  reticulate::import_main(convert = FALSE)$`_ens_two`$save(f)
  ens <- mc_load_ensemble(f)
  image <- array((seq_len(4 * 16) %% 16) / 16, c(4, 4, 4, 1))
  table <- matrix((seq_len(12) %% 8) / 8, 4, 3)
  tasks <- c("classification", "regression")
  res <- mc_predict(ens, list(table = table, image = image), n_samples = 3, seed = 5, task = tasks)
  expect_named(res, c("label", "value"))
  expect_identical(dim(res$label$all_samples), c(4L, 3L, 6L))
  expect_identical(dim(res$value$all_samples), c(4L, 2L, 6L))
  expect_identical(mc_predict(ens, list(image, table), n_samples = 3, seed = 5, task = tasks), res)
  mcb <- reticulate::import("mcbridge", convert = FALSE)
  xs <- reticulate::dict(image = mcbridge:::.r_to_py(image), table = mcbridge:::.r_to_py(table))
  py <- mcb$mc_predict(mcb$load_ensemble(f), xs, n_samples = 3L, seed = 5L, task = as.list(tasks))
  for (i in 1:2) {
    expect_identical(res[[i]]$all_samples,
                     mcbridge:::.py_to_r(reticulate::py_get_item(py, as.integer(i - 1))$samples))
  }
  one <- mc_predict(ens, list(image = image, table = table), task = tasks)   # one sample per member
  expect_identical(dim(one$value$all_samples), c(4L, 2L, 2L))
})
