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
