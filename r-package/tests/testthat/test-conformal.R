# Conformal sets and intervals in native R (no Python needed).

# Probabilities c(n, k, s) with labels drawn from their MC mean (helper-mcbridge.R).
# sd 1.5: top probabilities mostly 0.3-0.9; sd 4: many confident inputs.
known_probs <- function(n = 3000, k = 5, s = 4, seed = 2, sd = 1.5) {
  calibrated_samples(n, k, s, sd = sd, noise = 0.6, seed = seed)
}

split_coverage <- function(d, splits = 100, n_cal = 400, ...) {
  covs <- vapply(seq_len(splits), function(i) {
    idx <- sample(length(d$y))
    cal <- idx[1:n_cal]
    test <- idx[-(1:n_cal)]
    cp <- mc_conformal(d$p[cal, , ], d$y[cal], ...)
    sets <- predict(cp, d$p[test, , ])
    mean(sets[cbind(seq_along(test), d$y[test] + 1L)])
  }, numeric(1))
  c(mean = mean(covs), se = stats::sd(covs) / sqrt(splits))
}

test_that("coverage over random splits: LAC within a point, APS/RAPS at least 1 - alpha", {
  d <- known_probs()
  set.seed(3)
  lac <- split_coverage(d, method = "lac", alpha = 0.1)
  expect_lt(abs(lac[["mean"]] - 0.9), 0.01)
  for (m in c("aps", "raps")) {
    for (top in c(TRUE, FALSE)) {
      cov <- split_coverage(d, method = m, alpha = 0.1, mc_score = "average", include_top = top)
      expect_gte(cov[["mean"]], 0.9 - 3 * cov[["se"]])  # se about 0.0016
      expect_lt(cov[["mean"]], 0.93)
    }
  }
})

test_that("the default covers confident models at the target, top class included", {
  # Confident inputs, where plain APS/RAPS empties sets: coverage at least
  # 1 - alpha (3 standard errors over 100 splits) and within a point above
  # it: the top class's inclusion is accounted for in the threshold.
  d <- known_probs(sd = 4)
  set.seed(5)
  for (m in c("aps", "raps")) {
    cov <- split_coverage(d, method = m, alpha = 0.1)
    expect_lt(cov[["se"]], 0.003)
    expect_gte(cov[["mean"]], 0.9 - 3 * cov[["se"]])
    expect_lt(cov[["mean"]], 0.91)
  }
})

test_that("no empty sets: the top class is in every set (include_top = FALSE empties them)", {
  d <- known_probs(sd = 4)
  m <- rowMeans(d$p, dims = 2)
  top <- max.col(m, ties.method = "first")
  cal <- 1:1500
  test <- 1501:3000
  expect_gt(mean(apply(m, 1, max) > 0.95), 0.2)
  for (method in c("aps", "raps")) {
    for (mc_score in c("mean", "average")) {
      for (alpha in c(0.05, 0.1, 0.2)) {
        cp <- mc_conformal(d$p[cal, , ], d$y[cal], alpha = alpha, method = method,
                           mc_score = mc_score)
        sets <- predict(cp, d$p[test, , ])
        expect_gte(min(rowSums(sets)), 1)
        expect_true(all(sets[cbind(seq_along(test), top[test])]))
        plain <- predict(mc_conformal(d$p[cal, , ], d$y[cal], alpha = alpha, method = method,
                                      mc_score = mc_score, include_top = FALSE), d$p[test, , ])
        empty <- rowSums(plain) == 0
        if (alpha >= 0.1) expect_gt(sum(empty), 3)
        expect_true(all(apply(m[test[empty], , drop = FALSE], 1, max) > 0.95))
      }
    }
  }
})

test_that("randomised scores: seeded, the same uniforms as Python, coverage at the target", {
  u <- mcbridge:::.cp_uniforms(7, 0, 20000)
  expect_true(all(u > 0 & u < 1))
  expect_identical(u[1:5], mcbridge:::.cp_uniforms(7, 0, 5))  # a row's draw depends on its row only
  # Python: mcbridge.conformal.uniforms(7, 0, 3) (to the last bit; tests/test_r_calibration.py
  # compares 100,000 of them).
  expect_identical(sprintf("%.17g", u[1:3]),
                   c("0.58615640748757869", "0.72254495497327298", "0.33455961581785232"))
  expect_lt(abs(mean(u) - 0.5), 4 * sqrt(1 / 12 / 20000))
  expect_lt(stats::ks.test(u, "punif")$statistic, 0.015)  # KS 1% critical value about 0.0115
  expect_false(identical(u[1:5], mcbridge:::.cp_uniforms(7, 1, 5)))
  expect_false(identical(u[1:5], mcbridge:::.cp_uniforms(8, 0, 5)))
  d <- known_probs()
  a <- mc_conformal(d$p[1:1000, , ], d$y[1:1000], method = "aps", randomized = TRUE, seed = 3)
  b <- mc_conformal(d$p[1:1000, , ], d$y[1:1000], method = "aps", randomized = TRUE, seed = 3)
  expect_identical(predict(a, d$p[1001:2000, , ]), predict(b, d$p[1001:2000, , ]))
  set.seed(9)
  c1 <- mc_conformal(d$p[1:1000, , ], d$y[1:1000], randomized = TRUE)
  set.seed(9)
  c2 <- mc_conformal(d$p[1:1000, , ], d$y[1:1000], randomized = TRUE)
  expect_identical(c1$seed, c2$seed)
  set.seed(6)
  for (m in c("aps", "raps")) {
    cov <- split_coverage(d, method = m, alpha = 0.1, randomized = TRUE)
    expect_gte(cov[["mean"]], 0.9 - 3 * cov[["se"]])
    expect_lt(cov[["mean"]], 0.93)
  }
  expect_mcb_error(mc_conformal(d$p, d$y, randomized = TRUE, seed = -1), "argument", "`seed`")
  expect_mcb_error(mc_conformal(d$p, d$y, randomized = NA), "argument", "`randomized`")
})

test_that("scores by hand and the sets they give", {
  p <- array(c(0.5, 0.1, 0.3, 0.1), c(1, 4, 1))
  expect_equal(mcbridge:::.cp_scores(matrix(p, 1), "aps", 0, 0), matrix(c(0.5, 0.9, 0.8, 1.0), 1))
  expect_equal(mcbridge:::.cp_scores(matrix(p, 1), "raps", 0.1, 2),
               matrix(c(0.5, 1.0, 0.8, 1.2), 1))
  # Calibration scores 0.5 (class 0) and 0.8 (class 2): qhat at alpha 0.34,
  # rank ceiling(3 * 0.66) = 2 -> 0.8: the set is {0, 2}.
  cal <- aperm(array(c(p, p), c(4, 1, 2)), c(3, 1, 2))
  cp <- mc_conformal(cal, c(0, 2), alpha = 0.34, method = "aps")
  expect_equal(cp$qhat, 0.8)
  expect_identical(predict(cp, p), matrix(c(TRUE, FALSE, TRUE, FALSE), 1))
  expect_output(print(cp), "APS")
  # Too few calibration inputs for alpha: all classes.
  expect_identical(mc_conformal(cal, c(0, 2), alpha = 0.1)$qhat, Inf)
})

test_that("mc_score = 'average' averages the samples' own scores", {
  p <- array(c(0.8, 0.2, 0.2, 0.8), c(1, 2, 2))
  obj <- list(method = "aps", lam = 0, k_reg = 0, mc_score = "average")
  expect_equal(mcbridge:::.cp_class_scores(obj, p), matrix(c(0.9, 0.9), 1))
  obj$mc_score <- "mean"
  expect_equal(mcbridge:::.cp_class_scores(obj, p), matrix(c(0.5, 1.0), 1))
  # include_top zeroes the MC mean's top class (class 0 of the tie) in both.
  obj$include_top <- TRUE
  expect_equal(mcbridge:::.cp_class_scores(obj, p), matrix(c(0, 1.0), 1))
  obj$mc_score <- "average"
  expect_equal(mcbridge:::.cp_class_scores(obj, p), matrix(c(0, 0.9), 1))
  q <- array(c(0.5, 0.1, 0.3, 0.1), c(1, 4, 1))
  obj$mc_score <- "mean"
  expect_equal(mcbridge:::.cp_class_scores(obj, q), matrix(c(0, 0.9, 0.8, 1.0), 1))
  obj$method <- "lac"
  expect_equal(mcbridge:::.cp_class_scores(obj, q), matrix(c(0.5, 0.9, 0.7, 0.9), 1))
})

test_that("conformal intervals follow the MC standard deviation and cover", {
  set.seed(4)
  n <- 4000
  sd <- runif(n, 0.1, 2)
  mu <- rnorm(n)
  s <- array(mu + sd * rnorm(n * 20), c(n, 1, 20))
  y <- mu + sd * rnorm(n)
  ci <- mc_conformal_interval(s[1:2000, , , drop = FALSE], y[1:2000], alpha = 0.1)
  out <- predict(ci, as_mc_prediction(s[2001:n, , , drop = FALSE]))
  expect_named(out, c(".pred", ".pred_lower", ".pred_upper"))
  covered <- out$.pred_lower <= y[2001:n] & y[2001:n] <= out$.pred_upper
  expect_gt(mean(covered), 0.88)  # one split of 2,000: se about 0.007
  width <- out$.pred_upper - out$.pred_lower
  expect_gt(stats::cor(width, apply(s[2001:n, 1, ], 1, stats::sd)), 0.99)
  two <- mc_conformal_interval(array(c(s, s), c(n, 2, 20)), cbind(y, y))
  expect_named(predict(two, array(c(s, s), c(n, 2, 20))[1:3, , ]),
               c(".pred_1", ".pred_lower_1", ".pred_upper_1", ".pred_2", ".pred_lower_2",
                 ".pred_upper_2"))
})

test_that("bad input raises mcbridge_error", {
  d <- known_probs(n = 30)
  expect_mcb_error(mc_conformal(d$p, d$y, method = "thr"), "argument", "`method` must be one of")
  expect_mcb_error(mc_conformal(d$p, d$y, alpha = 0), "argument", "`alpha`")
  expect_mcb_error(mc_conformal(d$p, d$y, k_reg = 1.5), "argument", "`k_reg`")
  expect_mcb_error(mc_conformal(d$p, d$y, mc_score = "max"), "argument", "`mc_score`")
  expect_mcb_error(mc_conformal(d$p, d$y, include_top = NA), "argument", "`include_top`")
  expect_mcb_error(mc_conformal(d$p, d$y, include_top = "yes"), "argument", "`include_top`")
  expect_mcb_error(mc_conformal(d$p * 2, d$y), "input", "softmax")
  expect_mcb_error(mc_conformal(d$p * 0.5, d$y), "input", "sum to 1")
  cp <- mc_conformal(d$p, d$y)
  expect_mcb_error(predict(cp, d$p[, 1:2, ]), "input", "classes")
  s <- array(rnorm(60), c(30, 1, 2))
  expect_mcb_error(mc_conformal_interval(s, "a"), "input", "numeric")
  expect_mcb_error(mc_conformal_interval(s, 1:3), "input", "length 30")
  expect_mcb_error(mc_conformal_interval(s[, , 1, drop = FALSE], 1:30), "input", "2 MC samples")
  expect_mcb_error(mc_conformal_interval(array(1, c(30, 1, 2)), 1:30, eps = 0), "argument",
                   "`eps` must be positive")
})

# ---- dense outputs c(n, ..., classes, samples) (issue 21) --------------------------

test_that("dense outputs: threshold and sets are Python's on the pooled positions", {
  p <- dense_probs(s = 4)
  y <- dense_labels()
  y[3, , 1] <- 255
  new <- dense_probs(c(2, 4, 3), s = 4, seed = 22)
  for (cfg in list(list("aps", "mean", FALSE), list("lac", "mean", FALSE),
                   list("raps", "average", FALSE), list("aps", "mean", TRUE))) {
    info <- paste(unlist(cfg), collapse = " ")
    py <- py_dense_call("_mcbt_conformal", p, y, 255, new, cfg[[1]], cfg[[2]], cfg[[3]], 7)
    cp <- mc_conformal(p, y, method = cfg[[1]], mc_score = cfg[[2]], randomized = cfg[[3]],
                       seed = 7, ignore = 255)
    expect_equal(cp$qhat, py[[1]], tolerance = 1e-6, info = info)
    expect_identical(cp$n_calibration, sum(y != 255))
    sets <- predict(cp, as_mc_prediction(new))
    expect_identical(dim(sets), c(2L, 4L, 3L, 3L), info = info)
    expect_identical(as.vector(sets), as.vector(py[[2]] == 1), info = info)
  }
  expect_output(print(cp), "calibration positions")
})

test_that("dense outputs: conformal intervals are Python's on the pooled positions, one row per position", {
  set.seed(23)
  s <- array(rnorm(5 * 4 * 2 * 6), c(5, 4, 2, 6))
  y <- array(rnorm(5 * 4 * 2), c(5, 4, 2))
  new <- array(rnorm(2 * 4 * 2 * 6), c(2, 4, 2, 6))
  py <- py_dense_call("_mcbt_interval", s, y, new)
  ci <- mc_conformal_interval(as_mc_prediction(s, task = "regression"), y, alpha = 0.2)
  expect_equal(ci$qhat, unlist(py[[1]]), tolerance = 1e-6)
  out <- predict(ci, new)
  expect_named(out, c(".row", ".dim_1", ".pred_1", ".pred_lower_1", ".pred_upper_1",
                      ".pred_2", ".pred_lower_2", ".pred_upper_2"))
  expect_identical(out$.row, rep(1:2, each = 4))
  expect_identical(out$.dim_1, rep(1:4, 2))
  lo <- py[[2]]   # pooled rows: input fastest
  o <- order(rep(1:2, 4))
  expect_equal(out$.pred_lower_2, lo[o, 2], tolerance = 1e-6)
  expect_equal(out$.pred_upper_1, py[[3]][o, 1], tolerance = 1e-6)
  expect_equal(out$.pred_1[out$.row == 2 & out$.dim_1 == 3], mean(new[2, 3, 1, ]))
  one <- mc_conformal_interval(s[, , 1, , drop = FALSE], y[, , 1], alpha = 0.2)   # one output: y c(n, ...)
  expect_equal(one$qhat, ci$qhat[1])
  expect_mcb_error(mc_conformal_interval(s, y[, , 1]), "input", "dim c\\(5, 4, 2\\)")
})

test_that("dense outputs: conformal labels of another shape are refused", {
  p <- dense_probs(c(3, 2), s = 3)
  y <- dense_labels(c(3, 2))
  expect_mcb_error(mc_conformal(p, as.vector(y)), "input", "set dim\\(y\\) <- c\\(3, 2\\)")
  expect_mcb_error(mc_conformal(p, y, ignore = array(TRUE, c(3, 2))), "argument", "leaves out all")
  cp <- mc_conformal(p, y, method = "lac")
  two <- as_probs(array(runif(12 * 2 * 3), c(12, 2, 3)))
  dim(two) <- c(3, 4, 2, 3)
  expect_mcb_error(predict(cp, two), "input", "2 classes")
})
