# Regression metrics against independent computations (base R's dnorm,
# quantile and an O(S^2) CRPS), and their argument checks.

samples3 <- function(n = 7, o = 2, m = 9, seed = 1) {
  set.seed(seed)
  array(rnorm(n * o * m, mean = 3, sd = 2), c(n, o, m))
}

crps_brute <- function(s, y) {
  d <- dim(s)
  vals <- numeric(0)
  for (i in seq_len(d[1])) for (j in seq_len(d[2])) {
    x <- s[i, j, ]
    vals <- c(vals, mean(abs(x - y[i, j])) - 0.5 * mean(abs(outer(x, x, "-"))))
  }
  mean(vals)
}

test_that("mc_crps equals the O(S^2) energy form and |x - y| for one sample", {
  s <- samples3()
  y <- matrix(rnorm(14, 3, 2), 7, 2)
  expect_equal(mc_crps(s, y), crps_brute(s, y), tolerance = 1e-12)
  one <- array(c(1, 5, -2), c(3, 1, 1))
  expect_equal(mc_crps(one, c(0, 5, 1)), mean(c(1, 0, 3)))
  # Ties and a single item still work (apply() keeps the dimensions).
  tied <- array(c(2, 2, 2, 4), c(1, 1, 4))
  expect_equal(mc_crps(tied, 3), crps_brute(tied, matrix(3)))
})

test_that("mc_gaussian_nll matches dnorm, from moments and from samples", {
  set.seed(2)
  mu <- matrix(rnorm(10), 5, 2)
  v <- matrix(runif(10, 0.5, 2), 5, 2)
  y <- matrix(rnorm(10), 5, 2)
  expect_equal(mc_gaussian_nll(mu, v, y), -mean(dnorm(y, mu, sqrt(v), log = TRUE)), tolerance = 1e-12)
  s <- samples3()
  ys <- matrix(1, 7, 2)
  m <- apply(s, c(1, 2), mean)
  vv <- apply(s, c(1, 2), var)
  expect_equal(mc_gaussian_nll(s, y = ys), -mean(dnorm(ys, m, sqrt(vv), log = TRUE)), tolerance = 1e-12)
  expect_equal(mc_gaussian_nll(s, ys), mc_gaussian_nll(s, y = ys))
  expect_equal(mc_gaussian_nll(as_mc_prediction(s), y = ys), mc_gaussian_nll(s, y = ys))
  # The variance floor keeps a zero variance finite.
  expect_equal(mc_gaussian_nll(0, 0, 0, var_floor = 1), 0.5 * log(2 * pi))
})

test_that("mc_rmse and mc_interval_coverage match base R", {
  s <- samples3()
  y <- matrix(rnorm(14, 3, 2.5), 7, 2)
  m <- apply(s, c(1, 2), mean)
  expect_equal(mc_rmse(s, y), sqrt(mean((m - y)^2)))
  expect_equal(mc_rmse(m, y), sqrt(mean((m - y)^2)))
  expect_equal(mc_rmse(c(1, 2), c(2, 4)), sqrt(2.5))
  for (level in c(0.5, 0.8, 0.9)) {
    lo <- apply(s, c(1, 2), quantile, probs = (1 - level) / 2, type = 7)
    hi <- apply(s, c(1, 2), quantile, probs = (1 + level) / 2, type = 7)
    expect_equal(mc_interval_coverage(s, y, level), mean(lo <= y & y <= hi))
  }
  # Ends count as inside.
  expect_equal(mc_interval_coverage(array(c(1, 2, 3), c(1, 1, 3)), 1, level = 0.99), 0)
  expect_equal(mc_interval_coverage(array(c(1, 1, 1), c(1, 1, 3)), 1), 1)
})

test_that("regression metrics raise mcbridge_error on bad input", {
  s <- samples3()
  y <- matrix(0, 7, 2)
  expect_mcb_error(mc_crps(matrix(1, 2, 2), c(1, 2)), "input", "dim c\\(n, outputs, samples\\)")
  expect_mcb_error(mc_crps(s, matrix(0, 7, 3)), "input", "dim c\\(7, 2\\)")
  expect_mcb_error(mc_crps(s, c(y[-1], NA)), "input", "NA, NaN or infinite")
  expect_mcb_error(mc_interval_coverage(s, y, level = 1), "argument", "`level`")
  expect_mcb_error(mc_interval_coverage(s, y, level = "a"), "argument", "`level`")
  expect_mcb_error(mc_gaussian_nll(s[, , 1, drop = FALSE], y = y), "input", "2 samples")
  expect_mcb_error(mc_gaussian_nll(1, -1, 1), "input", "variances >= 0")
  expect_mcb_error(mc_gaussian_nll(1, 1, 1, var_floor = 0), "argument", "var_floor")
  expect_mcb_error(mc_gaussian_nll(c(1, 2), 1, c(1, 2)), "input", "same shape")
  expect_mcb_error(mc_gaussian_nll(1), "argument", "are all needed")
  expect_mcb_error(mc_rmse("a", 1), "input", "numeric")
})
