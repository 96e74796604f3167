# Temperature scaling in native R (no Python needed).

softmax3 <- function(z) {
  e <- exp(z)
  total <- e[, 1, ]
  for (k in 2:dim(z)[2]) total <- total + e[, k, ]
  for (k in 1:dim(z)[2]) e[, k, ] <- e[, k, ] / total
  e
}

# Labels drawn from known MC-mean probabilities; the model's logits are those
# of the truth multiplied by `factor` (overconfident for factor > 1).
overconfident <- function(factor, n = 40000, k = 4, s = 5, seed = 1) {
  set.seed(seed)
  z <- array(rnorm(n * k, sd = 1.5), c(n, k, s)) + array(rnorm(n * k * s, sd = 0.7), c(n, k, s))
  truth <- apply(softmax3(z), c(1, 2), mean)
  y <- max.col(t(apply(truth, 1, cumsum)) > runif(n), ties.method = "first") - 1L
  list(logits = factor * z, y = y)
}

test_that("the temperature of a model overconfident by a known factor is that factor", {
  d <- overconfident(2.5)
  ts <- mc_temperature_scaling(d$logits, d$y, from_logits = TRUE)
  expect_s3_class(ts, "mc_temperature_scaling")
  # Labels are a finite sample: over seeds the fitted temperature scatters
  # by about 1.3% (n = 40,000, 4 classes); 0.05 is about 4 standard deviations.
  expect_equal(ts$temperature, 2.5, tolerance = 0.05)
  expect_lt(ts$nll_after, ts$nll_before)
  # From probabilities: log(p) differs from the logits by a per-sample
  # constant the softmax ignores.
  ts_p <- mc_temperature_scaling(softmax3(d$logits), d$y)
  expect_equal(ts_p$temperature, ts$temperature, tolerance = 1e-6)
})

test_that("predict() rescales each sample and returns an mc_prediction", {
  d <- overconfident(3, n = 300, k = 3, s = 4)
  p <- as_mc_prediction(softmax3(d$logits))
  ts <- mc_temperature_scaling(p, factor(d$y, levels = 0:2))
  out <- predict(ts, p)
  expect_s3_class(out, "mc_prediction")
  expect_equal(dim(out$all_samples), dim(p$all_samples))
  expect_equal(out$all_samples, softmax3(d$logits / ts$temperature), tolerance = 1e-12)
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
  expect_mcb_error(mc_temperature_scaling(p, c(0, 1, NA)), "input", "without NA")
  expect_mcb_error(mc_temperature_scaling(p * 3, 0:2 %% 2), "input", "from_logits")
  expect_mcb_error(mc_temperature_scaling(p * 0.5, 0:2 %% 2), "input", "sum to 1")
  expect_mcb_error(mc_temperature_scaling(p, 0:2 %% 2, from_logits = NA), "argument", "`from_logits`")
  expect_mcb_error(mc_temperature_scaling(p[, 1, , drop = FALSE], c(0, 0, 0)), "input", "2 classes")
})
