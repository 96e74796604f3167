# Every check runs in R before any Python or C code: fake_model() is not a
# Python object, so reaching Python would give another error.

test_that("mc_predict() rejects bad x with mcbridge_error_input, saying what to do", {
  m <- fake_model()
  x <- array(0, c(2, 8, 8))
  expect_mcb_error(mc_predict(m, data.frame(a = 1:2, b = c("u", "v"))), "input",
                   "numeric columns only; \"b\" is not numeric \\(character\\)")
  # a list is one array per model input (several inputs): each is checked, by its name
  expect_mcb_error(mc_predict(m, list(x, x[1, , , drop = FALSE])), "input", "same number of rows")
  expect_mcb_error(mc_predict(m, list(image = x, table = "a")), "input",
                   "`x\\$table` must be a numeric array")
  expect_mcb_error(mc_predict(m, list(image = x, x)), "input", "all named .* or all unnamed")
  expect_mcb_error(mc_predict(m, array("a", c(2, 2, 2))), "input", "as.numeric\\(\\) first")
  expect_mcb_error(mc_predict(m, factor(c("a", "b"))), "input", "not a factor")
  expect_mcb_error(mc_predict(m, 1:10), "input", "not a vector of length 10")
  x_na <- x; x_na[1, 2, 3] <- NA; x_na[2, 2, 2] <- NA
  expect_mcb_error(mc_predict(m, x_na), "input", "2 of its 128 values are NA, NaN or infinite \\(2 NA/NaN, 0 infinite\\)")
  x_nan <- x; x_nan[2, 1, 1] <- NaN; x_nan[1, 1, 1] <- Inf; x_nan[1, 1, 2] <- -Inf
  expect_mcb_error(mc_predict(m, x_nan), "input", "3 of its 128 values .* \\(1 NA/NaN, 2 infinite\\)")
  expect_mcb_error(mc_predict(m, array(NA, c(2, 2))), "input", "4 of its 4 values are NA")
})

test_that("count arguments: type, logical, negative, zero, fraction, NA, range", {
  m <- fake_model()
  x <- array(0, c(2, 8, 8))
  for (arg in c("n_samples", "batch_size")) {
    # (no do.call(): a call with the fake model inlined cannot be printed)
    predict_with <- function(v) {
      if (arg == "n_samples") mc_predict(m, x, n_samples = v) else mc_predict(m, x, batch_size = v)
    }
    expect_mcb_error(predict_with("128"), "argument", sprintf("`%s` must be a whole number >= 1, not \"128\"", arg))
    expect_mcb_error(predict_with(TRUE), "argument", "TRUE/FALSE is not a number here")
    expect_mcb_error(predict_with(-3), "argument", sprintf("`%s` must be a whole number >= 1, not -3", arg))
    expect_mcb_error(predict_with(0), "argument", "not 0")
    expect_mcb_error(predict_with(2.5), "argument", "not 2.5")
    expect_mcb_error(predict_with(NA_real_), "argument", "not NA")
    expect_mcb_error(predict_with(NA_integer_), "argument", "not NA")
    expect_mcb_error(predict_with(Inf), "argument", "not Inf")
    expect_mcb_error(predict_with(c(1, 2)), "argument", "not a double vector of length 2")
    expect_mcb_error(predict_with(3e9), "argument", "at most 2147483647 \\(.Machine\\$integer.max\\), not 3000000000")
  }
  expect_mcb_error(mc_predict(m, x, seed = -1), "argument", "`seed` must be a non-negative whole number, not -1")
  expect_mcb_error(mc_predict(m, x, seed = "a"), "argument", "`seed`")
  expect_mcb_error(mc_predict(m, x, seed = 1.5), "argument", "`seed`")
  expect_mcb_error(mc_predict(m, x, seed = NA), "argument", "`seed`")
  expect_mcb_error(mc_predict(m, x, seed = 2^40), "argument", "at most")
  expect_mcb_error(mc_predict(m, x, memory_budget = 0), "argument", "`memory_budget` must be a whole number of bytes")
  expect_mcb_error(mc_predict(m, x, memory_budget = -5), "argument", "memory_budget")
  expect_mcb_error(mc_predict(m, x, memory_budget = 1.5), "argument", "memory_budget")
  expect_mcb_error(mc_predict(m, x, memory_budget = NA), "argument", "memory_budget")
  expect_mcb_error(mc_predict(m, x, memory_budget = TRUE), "argument", "memory_budget")
  expect_mcb_error(mc_predict(m, x, memory_budget = "1e6"), "argument", "memory_budget")
  expect_mcb_error(mc_predict(m, x, from_logits = 1), "argument", "`from_logits` must be TRUE or FALSE, not 1")
  expect_mcb_error(mc_predict(m, x, from_logits = NA), "argument", "from_logits")
  expect_mcb_error(mc_predict(m, x, progress = "yes"), "argument", "progress")
})

test_that("not a Keras model: mcbridge_error_model", {
  x <- array(0, c(2, 8, 8))
  expect_mcb_error(mc_predict(list(), x), "model", "must be a Keras model .* not a list of length 0")
  expect_mcb_error(mc_predict("model", x), "model", "not \"model\" \\(character\\)")
  expect_mcb_error(mc_fit(NULL, x, 1:2), "model", "not NULL")
  expect_mcb_error(mc_evaluate(42, x, 1:2), "model", "must be a Keras model")
  expect_mcb_error(mc_train_on_batch(data.frame(), x, 1:2), "model", "not a data.frame")
  expect_mcb_error(mc_set_dropout(list(), TRUE), "model")
  expect_mcb_error(mc_save_model(list(), tempfile(fileext = ".keras")), "model")
})

test_that("training labels: wrong length, NA, infinite, wrong type (checked in R)", {
  m <- fake_model()
  x <- array(0, c(3, 8, 8))
  expect_mcb_error(mc_fit(m, x, c(0, 1), verbose = 0), "input", "`y` has 2 labels but `x` has 3 inputs")
  expect_mcb_error(mc_train_on_batch(m, x, c(0, 1, NA)), "input", "NA labels \\(found 1\\)")
  expect_mcb_error(mc_evaluate(m, x, c(0, Inf, 2)), "input", "finite values \\(found 1 infinite\\)")
  expect_mcb_error(mc_fit(m, x, c("a", "b", "c"), verbose = 0), "input",
                   "holds class names .* but the classes have no names")
  expect_mcb_error(mc_fit(m, x, c(TRUE, FALSE, TRUE), verbose = 0), "input", "as.integer\\(y\\)")
  expect_mcb_error(mc_fit(m, x, list(1, 2, 3), verbose = 0), "input", "not a list of length 3")
  expect_mcb_error(mc_fit(m, x, 0:2, epochs = 0, verbose = 0), "argument", "`epochs`")
  expect_mcb_error(mc_fit(m, x, 0:2, validation_split = 1), "argument", "validation_split")
  expect_mcb_error(mc_fit(m, x, 0:2, verbose = 3), "argument", "`verbose`")
})

test_that("mc_cnn() argument checks (no Python needed)", {
  expect_mcb_error(mc_cnn(input_shape = c(28, 28)), "argument", "c\\(height, width, channels\\), not 2 numbers")
  expect_mcb_error(mc_cnn(n_classes = 1), "argument", "n_classes")
  expect_mcb_error(mc_cnn(dropout = c(0.5, 0.5)), "argument", "must be 3 rates")
  expect_mcb_error(mc_cnn(padding = "full"), "argument", "`padding` must be one of \"valid\", \"same\"")
  expect_mcb_error(mc_cnn(filters = "32"), "argument", "filters")
})

test_that("mc_cnn() too small for its layers says which size works, or padding = \"same\"", {
  e <- expect_mcb_error(mc_cnn(input_shape = c(8, 8, 1)), "model")
  msg <- conditionMessage(e)
  expect_match(msg, "c(8, 8, 1) is too small for 2 convolution blocks", fixed = TRUE)
  expect_match(msg, "at least 10", fixed = TRUE)
  expect_match(msg, "padding = \"same\"", fixed = TRUE)
  expect_false(grepl("\033", msg, fixed = TRUE))  # no ANSI codes
  expect_mcb_error(mc_cnn(input_shape = c(1, 5, 1), filters = 4, dropout = c(0, 0), padding = "same"),
                   "model", "at least 2")
  # the sizes named work (checked by the size rule, no Python)
  expect_true(is.na(mcbridge:::.cnn_side(9, 2, 3, "valid")))
  expect_identical(mcbridge:::.cnn_side(10, 2, 3, "valid"), 1)
})

test_that("conditions have the documented class hierarchy", {
  e <- tryCatch(mc_predict(fake_model(), 1:3), error = identity)
  expect_s3_class(e, c("mcbridge_error_input", "mcbridge_error", "error", "condition"), exact = TRUE)
  expect_identical(e$arg, "x")
})

test_that("check helpers", {
  expect_identical(mcbridge:::.check_count(3, "n"), 3L)
  expect_identical(mcbridge:::.check_seed(NULL), NULL)
  expect_identical(mcbridge:::.check_seed(0), 0L)
  expect_identical(mcbridge:::.check_y(factor(c("b", "a")), 2), c(1L, 0L))
  expect_identical(mcbridge:::.check_y(factor(c("2", "0")), 2), c(2L, 0L))  # numeric levels: codes
  expect_identical(mcbridge:::.check_y(c(1.5, 0, 2), 3), c(1.5, 0, 2))  # targets: the model decides
  expect_identical(mcbridge:::.check_y(data.frame(t = c(1.5, 2)), 2), c(1.5, 2))
  expect_false(mcbridge:::.is_keras_model(list()))
  expect_true(mcbridge:::.is_keras_model(fake_model()))
  expect_true(mcbridge:::.is_keras_model(structure(list(), class = c(
    "keras.models.sequential.Sequential", "python.builtin.object"))))
})

# ---- class labels: one rule for every function that takes them ---------------

# 40 inputs, 4 named classes, samples whose top class is the label for 30 of them.
named_result <- function() {
  set.seed(11)
  y <- rep(0:3, 10)
  raw <- array(runif(40 * 4 * 5), c(40, 4, 5))
  for (i in 1:30) raw[i, y[i] + 1, ] <- raw[i, y[i] + 1, ] + 3
  res <- as_mc_prediction(as_probs(raw))
  mc_class_names(res) <- c("T-shirt/top", "Trouser", "Pullover", "Ankle boot")
  list(res = res, y = y, names = mc_class_names(res))
}

test_that("a factor is matched to the class names by name, whatever the order of its levels", {
  d <- named_result()
  f <- factor(d$names[d$y + 1])                    # R's default: alphabetical levels
  expect_false(identical(levels(f), d$names))      # so its codes are not the classes
  shuffled <- factor(d$names[d$y + 1], levels = rev(d$names))
  chr <- d$names[d$y + 1]
  acc <- mc_accuracy(d$res, d$y)
  expect_equal(acc, 0.75 + mean(max.col(d$res$mean[31:40, ], "first") - 1 == d$y[31:40]) / 4)
  for (lab in list(f, shuffled, chr)) {
    expect_identical(mc_accuracy(d$res, lab), acc)
    expect_identical(mc_evaluate_uncertainty(d$res, lab), mc_evaluate_uncertainty(d$res, d$y))
    expect_identical(mc_negative_log_likelihood(d$res, lab), mc_negative_log_likelihood(d$res, d$y))
    expect_identical(mc_expected_calibration_error(d$res, lab), mc_expected_calibration_error(d$res, d$y))
    expect_identical(mc_misclassification_auroc(d$res, lab), mc_misclassification_auroc(d$res, d$y))
    expect_identical(mc_aurc(d$res, lab), mc_aurc(d$res, d$y))
    expect_identical(mc_tidy(d$res, truth = lab), mc_tidy(d$res, truth = d$y))
    expect_identical(mc_temperature_scaling(d$res, lab), mc_temperature_scaling(d$res, d$y))
    expect_identical(mc_conformal(d$res, lab, method = "lac")$qhat,
                     mc_conformal(d$res, d$y, method = "lac")$qhat)
    expect_identical(mcbridge:::.reliability_data(d$res, lab, 5, FALSE),
                     mcbridge:::.reliability_data(d$res, d$y, 5, FALSE))
  }
  # mc_tidy's truth names the true class (an ankle boot is an ankle boot)
  expect_identical(as.character(mc_tidy(d$res, truth = f)$truth), chr)
  # explicit levels in mc_tidy() are the names truth is matched to
  s <- d$res$all_samples
  expect_identical(as.character(mc_tidy(s, truth = f, levels = d$names)$truth), chr)
})

test_that("labels that match no class name are an error naming them", {
  d <- named_result()
  f <- factor(c("Sandal", rep("Trouser", 38), "Bag"))
  expect_mcb_error(mc_accuracy(d$res, f), "input",
                   "labels that are not class names: \"Sandal\", \"Bag\". The classes are \"T-shirt/top\"")
  err <- tryCatch(mc_tidy(d$res, truth = f), mcbridge_error_input = identity)
  expect_identical(err$unmatched, c("Sandal", "Bag"))
  expect_mcb_error(mc_temperature_scaling(d$res, f), "input", "not class names")
  expect_mcb_error(mc_conformal(d$res, f), "input", "not class names")
  expect_mcb_error(plot(d$res, type = "reliability", y = f), "input", "not class names")
  # unused levels that are no class do not matter
  ok <- factor(d$names[d$y + 1], levels = c(d$names, "Sandal"))
  expect_identical(mc_accuracy(d$res, ok), mc_accuracy(d$res, d$y))
})

test_that("without class names: numeric levels are the codes, other levels count in order", {
  d <- named_result()
  res <- d$res
  mc_class_names(res) <- NULL
  # levels "1", "3": classes 1 and 3 (not 0 and 1, as the factor's codes would say)
  sub <- d$y %in% c(1, 3)
  s <- res$all_samples[sub, , , drop = FALSE]
  expect_identical(mc_accuracy(s, factor(d$y[sub])), mc_accuracy(s, d$y[sub]))
  expect_mcb_error(mc_accuracy(res, factor(d$y + 1)), "input", "They look counted from 1")
  # names without class names to match them: codes in level order
  f <- factor(c("a", "b", "c", "d")[d$y + 1])
  expect_identical(mc_accuracy(res, f), mc_accuracy(res, d$y))
  expect_mcb_error(mc_accuracy(res, factor(letters[1:5])[rep(1:5, 8)]), "input",
                   "5 levels but there are 4 classes")
  expect_mcb_error(mc_accuracy(res, letters[d$y + 1]), "input",
                   "holds class names .* but the classes have no names .* mc_class_names")
})

test_that("labels: NA, fractions, logicals, one-hot and data frames are refused clearly", {
  d <- named_result()
  y <- d$y
  expect_mcb_error(mc_accuracy(d$res, replace(y, 3, NA)), "input", "NA labels \\(found 1\\)")
  expect_mcb_error(mc_accuracy(d$res, replace(y, 3, 1.5)), "input", "whole-number class codes .* 1.5")
  expect_mcb_error(mc_accuracy(d$res, y == 1), "input", "as.integer\\(y\\)")
  expect_mcb_error(mc_accuracy(d$res, diag(4)[y + 1, ]), "input", "one-hot encoded: pass max.col\\(y\\) - 1")
  expect_mcb_error(mc_accuracy(d$res, data.frame(y = y)), "input", "df\\$label")
  expect_identical(mc_accuracy(d$res, matrix(y)), mc_accuracy(d$res, y))
})

test_that("a missing y is a classed error, not R's bare 'argument is missing'", {
  d <- named_result()
  expect_mcb_error(mc_evaluate_uncertainty(d$res), "argument", "`y` is missing: give the labels")
  expect_mcb_error(mc_temperature_scaling(d$res), "argument", "`y` is missing")
  expect_mcb_error(mc_accuracy(d$res), "argument", "`y` is missing")
  expect_mcb_error(mc_conformal(d$res), "argument", "`y` is missing")
})
