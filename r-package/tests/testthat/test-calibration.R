# Temperature scaling in native R (no Python needed).

# Labels drawn from known MC-mean probabilities; the model's logits are those
# of the truth multiplied by `factor` (overconfident for factor > 1).
overconfident <- function(factor, n, k = 4, s = 5, seed = 1) {
  d <- calibrated_samples(n, k, s, sd = 1.5, noise = 0.7, seed = seed)  # helper-mcbridge.R
  list(logits = factor * d$z, y = d$y)
}

test_that("the temperature of a model overconfident by a known factor is that factor", {
  d <- overconfident(2.5, n = 20000)
  ts <- mc_temperature_scaling(d$logits, d$y, from_logits = TRUE)
  expect_s3_class(ts, "mc_temperature_scaling")
  # Labels are a finite sample: over seeds the fitted temperature scatters by
  # about 1.6% (n = 20,000, 4 classes); 0.07 is about 4 standard deviations,
  # and half the error of a wrong method: scaling the MC mean of the logits
  # instead of each sample gives 2.82 (+13%), scaling each sample's NLL
  # instead of the MC mean's 3.5.
  expect_equal(ts$temperature, 2.5, tolerance = 0.07)
  expect_lt(ts$nll_after, ts$nll_before)
  # From probabilities: log(p) differs from the logits by a per-sample
  # constant the softmax ignores (an identity: a few inputs show it).
  few <- list(logits = d$logits[1:500, , ], y = d$y[1:500])
  expect_equal(mc_temperature_scaling(softmax_classes(few$logits), few$y)$temperature,
               mc_temperature_scaling(few$logits, few$y, from_logits = TRUE)$temperature,
               tolerance = 1e-6)
})

test_that("predict() rescales each sample and returns an mc_prediction", {
  d <- overconfident(3, n = 300, k = 3, s = 4)
  p <- as_mc_prediction(softmax_classes(d$logits))
  ts <- mc_temperature_scaling(p, factor(d$y, levels = 0:2))
  out <- predict(ts, p)
  expect_s3_class(out, "mc_prediction")
  expect_equal(dim(out$all_samples), dim(p$all_samples))
  expect_equal(out$all_samples, softmax_classes(d$logits / ts$temperature), tolerance = 1e-12)
  # Each sample keeps its ranking; the samples still differ (spread kept).
  top <- function(a) apply(a, c(1, 3), which.max)
  expect_identical(top(out$all_samples), top(p$all_samples))
  expect_gt(mean(mc_mutual_information(out)), 1e-3)
  expect_output(print(ts), "temperature")
})

test_that("bad input raises mcbridge_error before any computation", {
  p <- array(0.5, c(3, 2, 2))
  expect_mcb_error(mc_temperature_scaling("p", 0:2), "input", "`res` must be an mc_prediction")
  expect_mcb_error(mc_temperature_scaling(p, c(0, 1)), "input", "one label per input")
  expect_mcb_error(mc_temperature_scaling(p, c(0, 1, 2)), "input", "\\[0, 1\\]")
  expect_mcb_error(mc_temperature_scaling(p, c(0, 1, NA)), "input", "NA labels")
  expect_mcb_error(mc_temperature_scaling(p * 3, 0:2 %% 2), "input", "from_logits")
  expect_mcb_error(mc_temperature_scaling(p * 0.5, 0:2 %% 2), "input", "sum to 1")
  expect_mcb_error(mc_temperature_scaling(p, 0:2 %% 2, from_logits = NA), "argument", "`from_logits`")
  expect_mcb_error(mc_temperature_scaling(p[, 1, , drop = FALSE], c(0, 0, 0)), "input", "2 classes")
})

# ---- dense outputs c(n, ..., classes, samples) (issue 21) --------------------------

test_that("dense outputs: the temperature fitted on pooled positions is Python's; predict() keeps the dims", {
  p <- dense_probs()
  y <- dense_labels()
  y[, 1, 1] <- 255
  new <- dense_probs(c(2, 4, 3), seed = 21)
  py <- py_dense_call("_mcbt_temperature", p, y, 255, new)
  res <- as_mc_prediction(p)
  mc_class_names(res) <- c("road", "car", "sky")
  ts <- mc_temperature_scaling(res, y, ignore = 255)
  expect_equal(ts$temperature, py[[1]], tolerance = 1e-6)
  expect_equal(c(ts$nll_before, ts$nll_after), c(py[[2]], py[[3]]), tolerance = 1e-6)
  out <- predict(ts, new)
  expect_identical(dim(out$all_samples), dim(new))
  expect_lt(max(abs(out$all_samples - py[[4]])), 1e-6)
  expect_identical(mc_class_names(predict(ts, res)), c("road", "car", "sky"))
  # the same as fitting the positions as rows by hand
  rows <- p
  dim(rows) <- c(prod(dim(p)[1:3]), 3, 5)
  keep <- as.vector(y) != 255
  expect_equal(ts$temperature,
               mc_temperature_scaling(rows[keep, , , drop = FALSE], as.vector(y)[keep])$temperature)
})

test_that("dense outputs: logits too; labels of another shape are refused", {
  z <- array(rnorm(4 * 3 * 3 * 6, sd = 2), c(4, 3, 3, 6))
  y <- dense_labels(c(4, 3))
  ts <- mc_temperature_scaling(z, y, from_logits = TRUE)
  py <- py_dense_call("_mcbt_temperature", z, y, NULL, z, TRUE)
  expect_equal(ts$temperature, py[[1]], tolerance = 1e-6)
  expect_lt(max(abs(predict(ts, z)$all_samples - py[[4]])), 1e-6)
  expect_mcb_error(mc_temperature_scaling(z, as.vector(y), from_logits = TRUE), "input",
                   "dim c\\(4, 3\\)")
  expect_mcb_error(mc_temperature_scaling(z, y, from_logits = TRUE, ignore = y[, 1] == 0),
                   "argument", "shaped like `y`")
})
