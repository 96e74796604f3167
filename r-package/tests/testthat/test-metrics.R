p2 <- function() {
  # 2 inputs, 3 classes, 2 samples; input 1 agrees, input 2 disagrees.
  s <- array(0, c(2, 3, 2))
  s[1, , 1] <- c(1, 0, 0); s[1, , 2] <- c(1, 0, 0)
  s[2, , 1] <- c(0.5, 0.5, 0); s[2, , 2] <- c(0, 0.25, 0.75)
  s
}

test_that("metrics match hand-computed values", {
  s <- p2()
  h <- function(p) -sum(ifelse(p > 0, p * log(p), 0))
  pe2 <- h(c(0.25, 0.375, 0.375))
  ee2 <- (h(c(0.5, 0.5, 0)) + h(c(0, 0.25, 0.75))) / 2
  expect_equal(mc_predictive_entropy(s), c(0, pe2))
  expect_equal(mc_expected_entropy(s), c(0, ee2))
  expect_equal(mc_mutual_information(s), c(0, pe2 - ee2))
  # input 2: top classes are 1 (tie 0.5/0.5 -> first) and 3 -> modal count 1 of 2
  expect_equal(mc_variation_ratio(s), c(0, 0.5))
  res <- as_mc_prediction(s)
  expect_identical(mc_predictive_entropy(res), mc_predictive_entropy(s))
})

test_that("metrics validate their input", {
  expect_mcb_error(mc_predictive_entropy(matrix(1, 2, 2)), "input", "dim c\\(n, classes, samples\\)")
  expect_mcb_error(mc_predictive_entropy(array(0, c(0, 2, 2))), "input", "is empty")
  expect_mcb_error(mc_expected_entropy(array(2, c(1, 1, 1))), "input", "probabilities in \\[0, 1\\]")
  expect_mcb_error(mc_mutual_information(array(0.2, c(1, 2, 1))), "input", "sum to 1")
  expect_mcb_error(mc_variation_ratio(array(NA_real_, c(1, 1, 1))), "input", "probabilities")
})

test_that("R and Python metrics agree to 1e-6", {
  skip_if_no_engine()
  set.seed(1)
  raw <- array(rexp(50 * 7 * 9), c(50, 7, 9))
  raw[1:5, , ] <- 0; raw[1:5, 2, ] <- 1          # certain inputs (0 log 0)
  raw[6, , ] <- 1                                # ties everywhere
  s <- as_probs(raw)
  expect_equal(apply(s, c(1, 3), sum), matrix(1, 50, 9))
  py <- mcbridge:::.r_to_py(s, type = nanoarrow::na_double())
  met <- reticulate::import("mcbridge.metrics", convert = FALSE)
  for (name in c("predictive_entropy", "expected_entropy", "mutual_information",
                 "variation_ratio")) {
    py_val <- mcbridge:::.py_to_r(met[[name]](py))
    r_val <- get(paste0("mc_", name))(s)
    expect_length(py_val, 50)
    expect_lt(max(abs(r_val - as.vector(py_val))), 1e-6)
  }
})

# 5 inputs, 3 classes: confidences 0.4, 0.45 | 0.6, 0.8, 0.9 (2 equal-width bins).
hand_p <- function() rbind(c(0.4, 0.3, 0.3), c(0.45, 0.35, 0.2), c(0.6, 0.2, 0.2),
                           c(0.1, 0.8, 0.1), c(0.05, 0.05, 0.9))
hand_y <- c(0, 1, 0, 0, 2)

test_that("calibration errors match hand-computed values", {
  p <- hand_p(); y <- hand_y
  # bin [0, .5): accuracy 1/2, confidence .425; bin [.5, 1]: 2/3 and 2.3/3
  expect_equal(mc_expected_calibration_error(p, y, n_bins = 2), 0.09, tolerance = 1e-12)
  expect_equal(mc_expected_calibration_error(p, y, n_bins = 2, norm = "max"), 0.1,
               tolerance = 1e-12)
  expect_equal(mc_expected_calibration_error(p, y, n_bins = 2, norm = "l2"),
               sqrt(0.4 * 0.075^2 + 0.6 * 0.1^2), tolerance = 1e-12)
  # equal mass: ranks 0..4 -> bins 0,0,0,1,1
  expect_equal(mc_expected_calibration_error(p, y, n_bins = 2, adaptive = TRUE),
               0.6 * abs(2 / 3 - 1.45 / 3) + 0.4 * abs(0.5 - 0.85), tolerance = 1e-12)
  expect_equal(mc_accuracy(p, y), 0.6)
  expect_equal(mc_negative_log_likelihood(p, y), -mean(log(c(0.4, 0.35, 0.6, 0.1, 0.9))))
  expect_equal(mc_brier_score(rbind(c(1, 0), c(0, 1)), c(1, 0)), 2)
  expect_equal(mc_negative_log_likelihood(rbind(c(1, 0)), 1), -log(1e-12))
})

test_that("calibration takes samples, mc_prediction and factor labels", {
  s <- p2()
  m <- rowMeans(s, dims = 2)
  expect_equal(mc_brier_score(s, c(0, 2)), mc_brier_score(m, c(0, 2)))
  expect_equal(mc_accuracy(as_mc_prediction(s), c(0, 2)), mc_accuracy(m, c(0, 2)))
  f <- factor(c("a", "c"), levels = c("a", "b", "c"))
  expect_equal(mc_negative_log_likelihood(s, f), mc_negative_log_likelihood(s, c(0, 2)))
})

test_that("max probability is one minus the top mean probability", {
  expect_equal(mc_one_minus_max_probability(p2()), c(0, 1 - 0.375))
})

test_that("calibration arguments are checked with classed errors", {
  p <- hand_p()
  expect_mcb_error(mc_expected_calibration_error(p, hand_y, norm = "l3"), "argument", "`norm`")
  expect_mcb_error(mc_expected_calibration_error(p, hand_y, n_bins = 0), "argument", "`n_bins`")
  expect_mcb_error(mc_expected_calibration_error(p, hand_y, adaptive = NA), "argument", "`adaptive`")
  expect_mcb_error(mc_accuracy(p, c(0, 1, 2, 3, 0)), "input", "\\[0, 2\\]")
  expect_mcb_error(mc_accuracy(p, 1:2), "input", "2 labels but there are 5")
  expect_mcb_error(mc_brier_score(1:3, 1), "input", "`probs`")
})

test_that("dense arrays c(n, ..., classes, samples): each measure per position, as on 3-d samples", {
  set.seed(5)
  flat <- as_probs(array(runif(24 * 3 * 6), c(24, 3, 6)))   # position-major rows, R's order
  p <- flat
  dim(p) <- c(2, 3, 4, 3, 6)
  res <- as_mc_prediction(p)
  expect_identical(dim(res$mean), c(2L, 3L, 4L, 3L))
  for (f in c("mc_predictive_entropy", "mc_expected_entropy", "mc_mutual_information",
              "mc_variation_ratio", "mc_one_minus_max_probability", "mc_predicted_class")) {
    got <- get(f)(res)
    expect_identical(dim(got), c(2L, 3L, 4L), info = f)
    expect_equal(got[2, 1, 3], get(f)(array(p[2, 1, 3, , ], c(1, 3, 6))), info = f)
    expect_equal(as.vector(got), as.vector(get(f)(flat)), info = f)
  }
  expect_equal(mc_standard_error(res, "mutual_information")[1, 3, 2],
               mc_standard_error(array(p[1, 3, 2, , ], c(1, 3, 6)), "mutual_information"))
})

test_that("n_used: every measure uses each input's own samples; the NaN padding never leaks", {
  set.seed(6)
  p <- as_probs(array(runif(4 * 3 * 8), c(4, 3, 8)))
  used <- c(8L, 3L, 5L, 3L)
  padded <- p
  for (i in 1:4) if (used[i] < 8) padded[i, , (used[i] + 1):8] <- NaN
  res <- as_mc_prediction(padded, n_used = used)
  expect_identical(res$n_used, used)
  own <- function(i) array(p[i, , seq_len(used[i])], c(1, 3, used[i]))
  for (i in 1:4) {
    expect_equal(res$mean[i, ], rowMeans(own(i), dims = 2)[1, ])
    expect_equal(res$variance[i, ], apply(own(i), c(1, 2), var)[1, ])
    for (f in c("mc_predictive_entropy", "mc_mutual_information", "mc_variation_ratio",
                "mc_expected_entropy")) {
      expect_equal(get(f)(res)[i], get(f)(own(i)), info = paste(f, i))
    }
    expect_equal(mc_standard_error(res)[i, ], sqrt(res$variance[i, ] / used[i]))
  }
  expect_false(anyNA(mc_standard_error(res, "predictive_entropy")))
  expect_identical(res[c(2, 4), ]$n_used, c(3L, 3L))
  expect_mcb_error(mc_predictive_entropy(padded), "input", "n_used")   # no counts: refused, not NaN
  expect_equal(mc_accuracy(res, c(0, 1, 2, 0)), mc_accuracy(res$mean, c(0, 1, 2, 0)))  # the own-sample means
  expect_mcb_error(mc_temperature_scaling(res, c(0, 1, 2, 0)), "input", "adaptive result")
  expect_mcb_error(mc_conformal(res, c(0, 1, 2, 0)), "input", "tolerance = NULL")
  expect_mcb_error(as_mc_prediction(padded, n_used = c(8, 3, 5)), "input", "4 whole numbers")
  expect_mcb_error(as_mc_prediction(padded, n_used = c(8, 3, 5, 9)), "input", "1..8")
})

test_that("mc_standard_error(): sd / sqrt(samples) for the mean; the jackknife for the entropies", {
  set.seed(7)
  p <- as_probs(array(runif(3 * 4 * 9), c(3, 4, 9)))
  expect_equal(mc_standard_error(p), apply(p, c(1, 2), sd) / 3)
  jack <- function(measure) {   # leave each sample out, by brute force
    f <- switch(measure, predictive_entropy = mc_predictive_entropy,
                expected_entropy = mc_expected_entropy, mutual_information = function(q) {
                  mc_predictive_entropy(q) - mc_expected_entropy(q)   # no clamp at 0 inside
                })
    loo <- sapply(1:9, function(j) f(p[, , -j, drop = FALSE]))
    sqrt(8 / 9 * rowSums((loo - rowMeans(loo))^2))
  }
  for (measure in c("predictive_entropy", "expected_entropy", "mutual_information")) {
    expect_equal(mc_standard_error(p, measure), jack(measure), tolerance = 1e-10, info = measure)
  }
  expect_true(all(is.na(mc_standard_error(p[, , 1, drop = FALSE], "mutual_information"))))
  expect_mcb_error(mc_standard_error(p, "entropy"), "argument", "measure")
  reg <- as_mc_prediction(array(rnorm(12), c(2, 2, 3)), task = "regression")
  expect_mcb_error(mc_standard_error(reg, "predictive_entropy"), "input", "regression")
  expect_identical(dim(mc_standard_error(reg)), c(2L, 2L))
})

test_that("dense outputs: the calibration metrics pool positions as Python's do", {
  p <- dense_probs()
  y <- dense_labels()
  expected <- py_dense_call("_mcbt_calibration", p, y)
  res <- as_mc_prediction(p)
  expect_equal(mc_accuracy(res, y), expected$accuracy, tolerance = 1e-6)
  expect_equal(mc_negative_log_likelihood(p, y), expected$nll, tolerance = 1e-6)
  expect_equal(mc_brier_score(res, y), expected$brier, tolerance = 1e-6)
  for (norm in c("l1", "l2", "max")) {
    for (adaptive in c(FALSE, TRUE)) {
      expect_equal(mc_expected_calibration_error(p, y, n_bins = 7, adaptive = adaptive, norm = norm),
                   expected[[sprintf("ece_%s_%s", norm, if (adaptive) "True" else "False")]],
                   tolerance = 1e-6, info = paste(norm, adaptive))
    }
  }
})

test_that("dense outputs: `ignore` leaves out exactly the positions it names", {
  p <- dense_probs(c(3, 2, 2))
  y <- dense_labels(c(3, 2, 2))
  y[2, 1, 2] <- 255; y[3, 2, 1] <- 255
  rows <- p
  dim(rows) <- c(12, 3, 5)   # the input varies fastest: position (i, a, b) is row i + 3 (a - 1) + 6 (b - 1)
  keep <- as.vector(y) != 255
  for (f in c("mc_accuracy", "mc_negative_log_likelihood", "mc_brier_score",
              "mc_expected_calibration_error")) {
    want <- get(f)(rows[keep, , , drop = FALSE], as.vector(y)[keep])
    expect_equal(get(f)(p, y, ignore = 255), want, info = f)
    expect_equal(get(f)(as_mc_prediction(p), y, ignore = y == 255), want, info = f)
  }
  expect_mcb_error(mc_accuracy(p, y), "input", "\\[0, 2\\]")   # 255 without ignore
})

test_that("functions that rank or draw inputs refuse a dense output in words", {
  p <- as_probs(array(runif(8 * 3 * 4), c(8, 3, 4)))
  dim(p) <- c(2, 2, 2, 3, 4)
  res <- as_mc_prediction(p)
  expect_mcb_error(mc_select_uncertain(res, 1), "input", "dense output.*ranks inputs")
  skip_if_not_installed("ggplot2")
  expect_mcb_error(ggplot2::autoplot(res), "input", "dense output.*plot\\(object\\)")
})
