test_that("mc_predict() returns list(mean, variance, all_samples)", {
  skip_if_no_engine()
  m <- tiny_model()
  x <- scaled_digits(1:7)
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
  # A fresh Python loaded the model R saved and predicted the same 9 digits
  # (exact in float32) with seed 123 (python_reads_r() in helper-mcbridge.R).
  py_side <- python_reads_r()
  py <- mc_read_arrow(file.path(py_side$dir, "model.arrow"))
  r <- mc_predict(mc_load_model(file.path(py_side$dir, "from_r.keras")), py_side$x, n_samples = 5,
                  batch_size = 4, seed = 123)
  expect_identical(r$all_samples, py$all_samples)
  expect_identical(r$all_samples[2, 3, 4], py$all_samples[2, 3, 4])
})

test_that("a model built through reticulate::import(\"keras\") in R works", {
  m <- dense_model(hidden = 16)   # Flatten, Dense(16), Dropout(0.5), Dense(3, softmax)
  res <- mc_predict(m, scaled_digits(1:4), n_samples = 8, seed = 1)
  expect_identical(dim(res$all_samples), c(4L, 3L, 8L))
  expect_gt(max(res$variance), 0)
})


test_that("one mc_predict() call crosses into Python once", {
  skip_if_no_engine()
  m <- tiny_model()
  x <- scaled_digits(1:5)
  mc_predict(m, x, n_samples = 2)          # warm: module loaded, sampler built
  before <- bridge_calls()
  res <- mc_predict(m, x, n_samples = 3, seed = 1)
  after <- bridge_calls()
  diff <- after - before[names(after)]
  diff[is.na(diff)] <- after[is.na(diff)]
  expect_identical(sum(diff), 1L)
  expect_identical(names(diff)[diff == 1], "predict")
  # bad input: no crossing at all
  before <- bridge_calls()
  expect_mcb_error(mc_predict(m, x, n_samples = 0), "argument")
  expect_mcb_error(mc_predict(m, replace(x, 3, NA)), "input", "1 of its 320 values")
  expect_identical(sum(bridge_calls()), sum(before))
})

test_that("the input shape is checked against the model in the same call", {
  skip_if_no_engine()
  m <- tiny_model()
  expect_mcb_error(mc_predict(m, array(0, c(2, 7, 8))), "input",
                   "`x` has dim c\\(2, 7, 8, 1\\) but the model expects c\\(n, 8, 8, 1\\) \\(or c\\(n, 8, 8\\) for one channel\\)")
  expect_mcb_error(mc_predict(m, matrix(0, 2, 64)), "input", "dim c\\(2, 64\\)")
})

test_that("from_logits and memory_budget reach Python; the chunking changes nothing", {
  m <- dense_model(activation = NULL)   # logits
  x <- scaled_digits(1:6)
  expect_mcb_error(mc_predict(m, x, n_samples = 4), "python", "from_logits")
  res <- mc_predict(m, x, n_samples = 4, seed = 3, from_logits = TRUE)
  expect_equal(rowSums(res$mean), rep(1, 6), tolerance = 1e-5)
  small <- mc_predict(m, x, n_samples = 4, seed = 3, from_logits = TRUE, memory_budget = 1024)
  # Another budget chunks differently, but each input's masks are keyed by the
  # seed and its row: the same samples up to float32 rounding (rows of another
  # batch shape may round differently), and the same budget gives the same bits.
  expect_equal(small$all_samples, res$all_samples, tolerance = 1e-6)
  expect_equal(rowSums(small$mean), rep(1, 6), tolerance = 1e-5)
  expect_identical(mc_predict(m, x, n_samples = 4, seed = 3, from_logits = TRUE,
                              memory_budget = 1024), small)
})

test_that("R formals match the Python signatures (names and defaults)", {
  skip_if_no_engine()
  inspect <- reticulate::import("inspect", convert = FALSE)
  mcb <- reticulate::import("mcbridge", convert = FALSE)
  py_params <- function(f) {
    sig <- inspect$signature(f)
    names <- reticulate::py_eval("lambda s: [p for p in s.parameters]")(sig)
    defaults <- reticulate::py_eval(
      "lambda s: {k: (None if p.default is p.empty else repr(p.default)) for k, p in s.parameters.items()}")(sig)
    list(names = unlist(names), defaults = defaults)
  }
  `%||%` <- function(a, b) if (is.null(a)) b else a
  # R value -> Python repr, for the defaults that are literals
  py_repr <- function(v) {
    if (is.null(v)) return("None")
    if (is.logical(v)) return(if (v) "True" else "False")
    if (is.character(v)) return(sprintf("'%s'", v))
    if (is.numeric(v) && length(v) > 1) return(sprintf("(%s)", paste(vapply(v, format, "", scientific = FALSE), collapse = ", ")))
    format(v, scientific = FALSE)
  }
  pairs <- list(
    list(r = "mc_predict", py = mcb$mc_predict, r_only = "progress", py_only = c("progress")),
    list(r = "mc_cnn", py = mcb$build_cnn, r_only = character(0), py_only = character(0)),
    list(r = "mc_load_model", py = mcb$load_model, r_only = character(0), py_only = character(0)),
    # R names the input `x` as mc_predict does (Python: `data`), and leaves out
    # from_logits and first_index; Python's memory_budget default is None
    # (meaning the same 256 MiB), so R's literal is not compared.
    list(r = "mc_predict_to_file", py = mcb$predict_to_file, r_only = c("progress", "memory_budget"),
         py_only = "progress", renamed = c(data = "x"), py_absent = c("from_logits", "first_index"))
  )
  for (p in pairs) {
    py <- py_params(p$py)
    py$names <- setdiff(py$names, p$py_absent)
    for (old in names(p$renamed)) py$names[py$names == old] <- p$renamed[[old]]
    r_formals <- formals(get(p$r, envir = asNamespace("mcbridge")))
    missing_in_r <- setdiff(py$names, names(r_formals))
    missing_in_py <- setdiff(names(r_formals), py$names)
    expect(length(missing_in_r) == 0,
           sprintf("%s() lacks Python's argument(s): %s", p$r, paste(missing_in_r, collapse = ", ")))
    expect(length(missing_in_py) == 0,
           sprintf("%s() has argument(s) Python lacks: %s", p$r, paste(missing_in_py, collapse = ", ")))
    common <- intersect(setdiff(py$names, p$py_only), names(r_formals))
    expect_identical(common, intersect(names(r_formals), common), info = p$r)  # same order
    for (arg in setdiff(common, c("model", "x", "path", p$r_only))) {
      py_default <- py$defaults[[arg]] %||% "<none>"
      r_default <- eval(r_formals[[arg]])
      expect_identical(py_repr(r_default), py_default,
                       info = sprintf("%s(%s): R default %s, Python default %s", p$r, arg,
                                      deparse(r_formals[[arg]]), py_default))
    }
  }
})

test_that("progress = TRUE draws R's own bar up to 100%; FALSE draws nothing", {
  skip_if_no_engine()
  m <- tiny_model()
  x <- scaled_digits(1:6)
  out <- capture.output(res <- mc_predict(m, x, n_samples = 4, batch_size = 2,
                                          memory_budget = 1, progress = TRUE, seed = 1))
  text <- paste(out, collapse = "")
  expect_match(text, "100%", fixed = TRUE)       # utils::txtProgressBar (not interactive)
  expect_identical(res, mc_predict(m, x, n_samples = 4, batch_size = 2, memory_budget = 1,
                                   progress = FALSE, seed = 1))
  expect_length(capture.output(quiet <- mc_predict(m, x, n_samples = 2, progress = FALSE)), 0)
})

test_that("task = 'regression' gives real-valued samples; heteroscedastic adds the noise variance", {
  # 2 means, then 2 log-variances
  model <- dense_model(c(8, 8), units = 4, activation = NULL, dropout = 0.3)
  x <- scaled_digits(1:5)
  res <- mc_predict(model, x, n_samples = 6, seed = 2, task = "regression")
  expect_identical(mc_task(res), "regression")
  expect_identical(dim(res$all_samples), c(5L, 4L, 6L))
  expect_output(print(res), "regression: 5 inputs x 4 outputs x 6 samples")
  expect_output(print(summary(res)), "MC dropout regression")
  het <- mc_predict(model, x, n_samples = 6, seed = 2, task = "regression", heteroscedastic = TRUE)
  expect_identical(dim(het$all_samples), c(5L, 2L, 6L))
  expect_identical(dim(het$noise_variance), c(5L, 2L, 6L))
  expect_equal(het$all_samples, res$all_samples[, 1:2, , drop = FALSE])
  expect_equal(het$noise_variance, exp(res$all_samples[, 3:4, , drop = FALSE]), tolerance = 1e-6)
  expect_error(mc_predict(model, x, task = "regresion"), class = "mcbridge_error_argument")
  expect_error(mc_predict(model, x, heteroscedastic = TRUE), class = "mcbridge_error_argument")
})

# Whether the CPU has bfloat16 instructions decides what precision = "bfloat16"
# does: each answer is tested on any CPU (local_bf16_cpu() in helper-mcbridge.R).
for (bf16_cpu in c(FALSE, TRUE)) {
  test_that(sprintf("precision reaches Python: bfloat16 samples agree with float32 within bfloat16 rounding (CPU with bfloat16: %s)",
                    bf16_cpu), {
    local_bf16_cpu(bf16_cpu)
    m <- tiny_model()
    x <- scaled_digits(1:6)
    f32 <- mc_predict(m, x, n_samples = 5, seed = 4)
    # Argument errors, in R or in Python, whatever the CPU.
    expect_mcb_error(mc_predict(m, x, precision = "float16"), "argument", "precision")
    expect_mcb_error(mc_predict(m, array(0, c(2, 7, 8)), n_samples = 2, precision = "bfloat16"),
                     "input", "but the model expects")
    if (!bf16_cpu) {
      expect_warning(low <- mc_predict(m, x, n_samples = 5, seed = 4, precision = "bfloat16"),
                     "no bfloat16 instructions.*float32 instead", class = "mcbridge_warning")
      expect_identical(low, f32)
    } else {
      skip_unless_cpu_computes_bf16()
      expect_no_warning(bf16 <- mc_predict(m, x, n_samples = 5, seed = 4, precision = "bfloat16"))
      expect_identical(dim(bf16$all_samples), dim(f32$all_samples))
      expect_true(is.double(bf16$all_samples))
      expect_false(identical(bf16$all_samples, f32$all_samples))  # computed in bfloat16
      # Same masks; bfloat16 keeps 8 significant bits: probabilities within a few 2^-8.
      expect_lt(max(abs(bf16$all_samples - f32$all_samples)), 0.05)
    }
  })
}

test_that("integer images cross to Python as floats in mc_predict()", {
  m <- tiny_model()
  xi <- digits()$test$x[1:4, , ]
  expect_true(is.integer(xi))
  # Integers up to 16 for a model without a Rescaling layer: Python's warning, as an R warning.
  expect_warning(res <- mc_predict(m, xi, n_samples = 3, seed = 5), "look unscaled",
                 class = "mcbridge_warning")
  expect_identical(res, mc_predict(m, xi + 0, n_samples = 3, seed = 5))   # same as the doubles
  # (mc_fit() with integer images: test-train.R, on a model of its own.)
})

test_that("n_samples = 1 warns that the spread measures need at least 2 samples", {
  skip_if_no_engine()
  m <- tiny_model()
  x <- scaled_digits(1:3)
  expect_warning(res <- mc_predict(m, x, n_samples = 1, seed = 1),
                 "spread measures need at least 2 samples", class = "mcbridge_warning")
  expect_true(all(is.na(res$variance)))
  expect_no_warning(mc_predict(m, x, n_samples = 2, seed = 1))
})

test_that("the engine's messages reach R in R's spelling", {
  skip_if_no_engine()
  m <- tiny_model()   # ends in a softmax
  expect_warning(mc_predict(m, scaled_digits(1:2), n_samples = 2, from_logits = TRUE),
                 "from_logits = TRUE.*from_logits = FALSE", class = "mcbridge_warning")
})

# ---- the model zoo from R: dense outputs, several inputs and outputs (issue 21),
# adaptive sampling (issue 25). Tiny models built in Python with fixed weights;
# each is compared bit for bit with Python's mc_predict() in this process.

zoo_model <- function(name) {
  skip_if_no_engine()
  cached(paste0("zoo_", name), function() {
    reticulate::py_run_string(paste(
      "import keras",
      "from keras import layers",
      "def _zoo_unet():",
      "    keras.utils.set_random_seed(1)",
      "    i = keras.Input((8, 8, 1), name='image')",
      "    c1 = layers.Conv2D(4, 3, padding='same', activation='relu')(i)",
      "    b = layers.Conv2D(8, 3, padding='same', activation='relu')(layers.MaxPooling2D()(c1))",
      "    b = layers.SpatialDropout2D(0.3)(b)",
      "    c = layers.Concatenate()([layers.UpSampling2D()(b), c1])",
      "    return keras.Model(i, layers.Conv2D(3, 1, activation='softmax')(c))",
      "def _zoo_two_inputs():",
      "    keras.utils.set_random_seed(2)",
      "    a, t = keras.Input((8, 8, 1), name='image'), keras.Input((5,), name='table')",
      "    h = layers.Concatenate()([layers.Flatten()(a), t])",
      "    h = layers.Dropout(0.5)(layers.Dense(16, activation='relu')(h))",
      "    return keras.Model([a, t], layers.Dense(3, activation='softmax')(h))",
      "def _zoo_two_outputs():",
      "    keras.utils.set_random_seed(3)",
      "    i = keras.Input((6,), name='features')",
      "    h = layers.Dropout(0.5)(layers.Dense(16, activation='relu')(i))",
      "    label = layers.Dense(3, activation='softmax', name='label')(h)",
      "    return keras.Model(i, [label, layers.Dense(2, name='value')(h)])",
      "def _zoo_any_size():",
      "    keras.utils.set_random_seed(4)",
      "    i = keras.Input((None, None, 1), name='image')",
      "    h = layers.Dropout(0.3)(layers.Conv2D(4, 3, padding='same', activation='relu')(i))",
      "    return keras.Model(i, layers.Conv2D(3, 1, activation='softmax')(h))",
      sep = "\n"))
    reticulate::py_eval(sprintf("_zoo_%s()", name), convert = FALSE)
  })
}

# Python's mc_predict() of the same model on the same inputs (R arrays,
# exact in float32, crossed into Python as R's bridge crosses them).
py_predict <- function(model, x, ...) {
  mcb <- reticulate::import("mcbridge", convert = FALSE)
  xs <- if (is.list(x)) lapply(x, mcbridge:::.r_to_py) else mcbridge:::.r_to_py(x)
  if (is.list(x) && !is.null(names(x))) xs <- reticulate::dict(xs)
  mcb$mc_predict(model, xs, ...)
}

py_item <- function(obj, i) reticulate::py_get_item(obj, as.integer(i))
py_array <- function(obj) mcbridge:::.py_to_r(obj)

test_that("a U-Net's dense output: samples c(n, H, W, classes, samples), measures per position, Python's bits", {
  m <- zoo_model("unet")
  x <- array((seq_len(5 * 64) %% 16) / 16, c(5, 8, 8, 1))
  res <- mc_predict(m, x, n_samples = 4, seed = 2)
  expect_identical(dim(res$all_samples), c(5L, 8L, 8L, 3L, 4L))
  expect_identical(dim(res$mean), c(5L, 8L, 8L, 3L))
  expect_identical(dim(res$variance), c(5L, 8L, 8L, 3L))
  expect_equal(res$mean, apply(res$all_samples, 1:4, mean))
  expect_equal(res$variance, apply(res$all_samples, 1:4, var))
  py <- py_predict(m, x, n_samples = 4L, seed = 2L)
  expect_identical(res$all_samples, py_array(py$samples))
  for (f in c("predictive_entropy", "mutual_information", "variation_ratio", "expected_entropy")) {
    r <- get(paste0("mc_", f))(res)
    expect_identical(dim(r), c(5L, 8L, 8L))
    expect_equal(r, py_array(reticulate::py_call(reticulate::py_get_attr(py, f))), tolerance = 1e-6,
                 info = f)
  }
  cls <- mc_predicted_class(res)
  expect_identical(cls, array(as.integer(py_array(py$predicted_class)), c(5L, 8L, 8L)))
  # position (i, h, w) of the dense result is the 3-d measure of its own samples
  expect_equal(mc_mutual_information(res)[2, 3, 7],
               mc_mutual_information(array(res$all_samples[2, 3, 7, , ], c(1, 3, 4))))
  expect_identical(dim(res[2:3, ]$all_samples), c(2L, 8L, 8L, 3L, 4L))
  expect_output(print(res), "5 inputs x 8 x 8 positions x 3 classes x 4 samples")
  expect_mcb_error(mc_write_arrow(res, tempfile()), "input", "dense output")
})

test_that("a model built on inputs of any size predicts each size given, with Python's bits", {
  m <- zoo_model("any_size")
  for (hw in list(c(6L, 6L), c(4L, 10L))) {
    x <- array((seq_len(2 * prod(hw)) %% 7) / 7, c(2L, hw, 1L))
    res <- mc_predict(m, x, n_samples = 3, seed = 1)
    expect_identical(dim(res$all_samples), c(2L, hw, 3L, 3L))
    expect_identical(res$all_samples, py_array(py_predict(m, x, n_samples = 3L, seed = 1L)$samples))
  }
})

test_that("two inputs: a list by input name or in order, Python's bits; mismatches are input errors", {
  m <- zoo_model("two_inputs")
  image <- array((seq_len(4 * 64) %% 16) / 16, c(4, 8, 8, 1))
  table <- matrix((seq_len(20) %% 8) / 8, 4, 5)
  res <- mc_predict(m, list(image, table), n_samples = 5, seed = 3)
  expect_identical(dim(res$all_samples), c(4L, 3L, 5L))
  expect_identical(mc_predict(m, list(table = table, image = image), n_samples = 5, seed = 3), res)
  py <- py_predict(m, list(image, table), n_samples = 5L, seed = 3L)
  expect_identical(res$all_samples, py_array(py$samples))
  expect_mcb_error(mc_predict(m, list(image), n_samples = 2), "input", "list of 1 arrays but the model has 2 inputs")
  expect_mcb_error(mc_predict(m, list(image = image, tabel = table), n_samples = 2), "input",
                   'lacks "table"')
  expect_mcb_error(mc_predict(m, list(image, table[1:3, ]), n_samples = 2), "input", "same number of rows")
  expect_mcb_error(mc_predict(m, list(image, replace(table, 2, NA)), n_samples = 2), "input", "x\\[\\[2\\]\\]")
})

test_that("two outputs: a list of mc_predictions named by output, a task per output, Python's bits", {
  m <- zoo_model("two_outputs")
  x <- matrix((seq_len(30) %% 8) / 8, 5, 6)
  res <- mc_predict(m, x, n_samples = 4, seed = 5, task = c("classification", "regression"))
  expect_named(res, c("label", "value"))
  expect_s3_class(res$label, "mc_prediction")
  expect_identical(mc_task(res$value), "regression")
  expect_identical(dim(res$label$all_samples), c(5L, 3L, 4L))
  expect_identical(dim(res$value$all_samples), c(5L, 2L, 4L))
  py <- py_predict(m, x, n_samples = 4L, seed = 5L, task = list("classification", "regression"))
  expect_identical(res$label$all_samples, py_array(py_item(py, 0)$samples))
  expect_identical(res$value$all_samples, py_array(py_item(py, 1)$samples))
  # the regression head is no probability: one task for both is refused by Python's check
  expect_mcb_error(mc_predict(m, x, n_samples = 2), "python", "regression")
  expect_mcb_error(mc_predict(m, x, n_samples = 2, task = c("regression", "regression", "regression")),
                   "argument", "one per model output \\(2\\)")
  expect_mcb_error(mc_predict(m, x, task = c("classification", "regresion")), "argument", "task\\[2\\]")
})

test_that("adaptive sampling: n_used and every measure as Python's; the padding never leaks", {
  m <- tiny_model()
  x <- scaled_digits(1:12)
  args <- list(n_samples = 40, seed = 9, tolerance = 0.03, min_samples = 5)
  res <- do.call(mc_predict, c(list(m, x), args))
  expect_type(res$n_used, "integer")
  py <- py_predict(m, array(x, c(dim(x), 1)), n_samples = 40L, seed = 9L, tolerance = 0.03,
                   min_samples = 5L)
  expect_identical(res$n_used, as.integer(py_array(py$n_used)))
  expect_true(length(unique(res$n_used)) > 1)        # inputs stopped at different counts
  expect_identical(res$all_samples, py_array(py$samples))
  expect_false(anyNA(res$mean) || anyNA(res$variance))
  for (f in c("predictive_entropy", "mutual_information", "variation_ratio", "expected_entropy")) {
    r <- get(paste0("mc_", f))(res)
    expect_false(anyNA(r), info = f)
    expect_equal(r, py_array(reticulate::py_call(reticulate::py_get_attr(py, f))), tolerance = 1e-6,
                 info = f)
  }
  expect_equal(res$mean, py_array(py$mean), tolerance = 1e-6)
  expect_equal(res$variance, py_array(py$variance), tolerance = 1e-6)
  for (measure in c("mean", "predictive_entropy", "expected_entropy", "mutual_information")) {
    expect_equal(mc_standard_error(res, measure), py_array(py$mc_standard_error(measure)),
                 tolerance = 1e-6, info = measure)
  }
  # where inputs stopped, their error is at most the tolerance (or they got n_samples)
  worst <- apply(mc_standard_error(res), 1, max)
  expect_true(all(worst <= 0.03 + 1e-9 | res$n_used == 40))
  # rows keep their counts; printing says how many samples each input got
  expect_identical(res[3:4, ]$n_used, res$n_used[3:4])
  expect_output(print(res), "samples per input: [0-9]+ to [0-9]+")
  expect_output(print(res), "prob_se")
  expect_mcb_error(mc_predict(m, x, tolerance = -1), "argument", "tolerance")
  expect_mcb_error(mc_predict(m, x, n_samples = 4, tolerance = 0.1, min_samples = 10), "argument",
                   "at most `n_samples`")
  expect_mcb_error(mc_write_arrow(res, tempfile()), "input", "adaptive")
})

test_that("adaptive sampling by class_margin: the counts and bits of Python's; one rule at a time", {
  m <- tiny_model()
  x <- scaled_digits(1:12)
  res <- mc_predict(m, x, n_samples = 40, seed = 9, class_margin = 2, min_samples = 5)
  py <- py_predict(m, array(x, c(dim(x), 1)), n_samples = 40L, seed = 9L, class_margin = 2,
                   min_samples = 5L)
  expect_identical(res$n_used, as.integer(py_array(py$n_used)))
  expect_true(length(unique(res$n_used)) > 1)
  expect_identical(res$all_samples, py_array(py$samples))
  # where an input stopped early, its top two classes are more than 2 summed standard errors apart
  se <- mc_standard_error(res)
  for (i in which(res$n_used < 40)) {
    top <- order(res$mean[i, ], decreasing = TRUE)[1:2]
    expect_gt(diff(rev(res$mean[i, top])), 2 * sum(se[i, top]))
  }
  expect_mcb_error(mc_predict(m, x, class_margin = 0), "argument", "class_margin")
  expect_mcb_error(mc_predict(m, x, tolerance = 0.01, class_margin = 2), "argument", "one stopping rule")
  f <- tempfile(fileext = ".arrow")
  mc_predict_to_file(m, x, f, n_samples = 40, seed = 9, class_margin = 2, min_samples = 5)
  expect_identical(mc_read_predictions(f)$n_used, res$n_used)
})
