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
