rand_samples <- function(n = 60, k = 3, s = 5, seed = 1) {
  set.seed(seed)
  as_probs(array(exp(2 * rnorm(n * k * s)), c(n, k, s)))
}

# Direct rank-sum-free AUROC: share of (positive, negative) pairs ordered right.
pair_auroc <- function(score, pos) {
  d <- outer(score[pos], score[!pos], "-")
  mean((d > 0) + 0.5 * (d == 0))
}

test_that("misclassification and OOD AUROC match the pairwise definition", {
  s <- rand_samples(); y <- rep(0:2, 20)
  wrong <- max.col(rowMeans(s, dims = 2), "first") - 1 != y
  for (score in c("predictive_entropy", "mutual_information", "variation_ratio",
                  "max_probability")) {
    u <- get(paste0("mc_", mcbridge:::.score_column(score)))(s)
    expect_equal(mc_misclassification_auroc(s, y, score), pair_auroc(u, wrong))
  }
  out <- rand_samples(n = 30, seed = 2) * 0.5 + 0.5 / 3
  u <- c(mc_predictive_entropy(s), mc_predictive_entropy(out))
  expect_equal(mc_ood_auroc(s, out), pair_auroc(u, rep(c(FALSE, TRUE), c(60, 30))))
})

test_that("AURC, AUGRC and FPR at 95% TPR by hand", {
  s <- array(0, c(4, 2, 1))
  s[1:2, 1, 1] <- 0.9; s[3:4, 1, 1] <- 0.6
  s[, 2, 1] <- 1 - s[, 1, 1]
  y <- c(0, 0, 1, 1)
  expect_equal(mc_misclassification_auroc(s, y, "max_probability"), 1)
  expect_equal(mc_aurc(s, y, "max_probability"), (0 + 0 + 1 / 3 + 2 / 4) / 4)
  expect_equal(mc_augrc(s, y, "max_probability"), (0 + 0 + 1 / 4 + 2 / 4) / 4)
  flat <- array(0.5, c(4, 2, 1))   # all tied: every coverage has the overall error rate
  expect_equal(mc_aurc(flat, c(0, 1, 1, 1), "max_probability"), 0.75)
  expect_equal(mcbridge:::.fpr_at_tpr(c(1:20, 0, 1.5, 2, 3), rep(c(TRUE, FALSE), c(20, 4))), 0.5)
})

test_that("AURC does not depend on the order of tied inputs", {
  s <- rand_samples(s = 3); y <- rep(0:2, 20)
  o <- sample(60)
  expect_equal(mc_aurc(s[o, , , drop = FALSE], y[o], "variation_ratio"),
               mc_aurc(s, y, "variation_ratio"))
})

test_that("mc_evaluate_uncertainty returns one row with the contract's names", {
  s <- rand_samples(); y <- rep(0:2, 20)
  ev <- mc_evaluate_uncertainty(as_mc_prediction(s), y)
  expect_s3_class(ev, "data.frame")
  expect_equal(nrow(ev), 1)
  expect_named(ev, c("accuracy", "nll", "brier", "ece", "adaptive_ece", "aurc",
                     "auroc_predictive_entropy", "auroc_mutual_information",
                     "auroc_variation_ratio", "auroc_max_probability"))
  expect_equal(ev$ece, mc_expected_calibration_error(s, y))
  expect_equal(ev$auroc_variation_ratio, mc_misclassification_auroc(s, y, "variation_ratio"))
  expect_equal(mc_evaluate_uncertainty(s, factor(y, labels = c("a", "b", "c"))), ev)
})

test_that("mc_select_uncertain is 1-based, ordered and stable on ties", {
  s <- rand_samples()
  mi <- mc_mutual_information(s)
  expect_equal(mc_select_uncertain(s, 5), order(-mi)[1:5])
  expect_equal(mc_select_uncertain(array(0.5, c(4, 2, 1)), 3, "max_probability"), 1:3)
  expect_length(mc_select_uncertain(s, 1000), 60)
  expect_mcb_error(mc_select_uncertain(s, 0), "argument", "`k`")
  expect_mcb_error(mc_select_uncertain(s, 2, score = "entropy"), "argument", "\"predictive_entropy\"")
  expect_mcb_error(mc_aurc(matrix(0.5, 2, 2), c(0, 1)), "input", "`x`")
})

# ---- dense outputs c(n, ..., classes, samples) (issue 21) --------------------------

test_that("dense outputs: mc_evaluate_uncertainty() gives Python's evaluate(), positions pooled", {
  p <- dense_probs()
  y <- dense_labels()
  y[2, 3, 1] <- 255; y[5, , 2] <- 255                    # a void label
  expected <- py_dense_call("_mcbt_evaluate", p, y, 255)
  got <- mc_evaluate_uncertainty(p, y, ignore = 255)
  expect_named(got, names(expected))
  expect_equal(unlist(got), unlist(expected), tolerance = 1e-6)
  # a logical mask leaves out the same positions; an mc_prediction gives the same
  expect_equal(mc_evaluate_uncertainty(as_mc_prediction(p), y, ignore = y == 255), got)
  mask <- array(FALSE, dim(y)); mask[, 4, ] <- TRUE       # padding
  y0 <- dense_labels()
  expect_equal(unlist(mc_evaluate_uncertainty(p, y0, n_bins = 6, ignore = mask)),
               unlist(py_dense_call("_mcbt_evaluate", p, y0, mask, 6L)), tolerance = 1e-6)
  expect_equal(unlist(mc_evaluate_uncertainty(p, y0)),
               unlist(py_dense_call("_mcbt_evaluate", p, y0)), tolerance = 1e-6)
})

test_that("dense outputs: labels by name map to the class names, not to the factor's level order", {
  p <- dense_probs()
  y <- dense_labels()
  res <- as_mc_prediction(p)
  mc_class_names(res) <- c("road", "car", "sky")
  named <- c("road", "car", "sky")[y + 1]
  named[c(4, 9)] <- "void"
  f <- factor(named, levels = c("void", "sky", "road", "car"))   # another order than the classes
  dim(f) <- dim(y)
  codes <- y
  codes[c(4, 9)] <- 255
  want <- unlist(py_dense_call("_mcbt_evaluate", p, codes, 255))
  expect_equal(unlist(mc_evaluate_uncertainty(res, f, ignore = "void")), want, tolerance = 1e-6)
  chr <- named
  dim(chr) <- dim(y)
  expect_equal(unlist(mc_evaluate_uncertainty(res, chr, ignore = "void")), want, tolerance = 1e-6)
  expect_mcb_error(mc_evaluate_uncertainty(res, f), "input", "\"void\"")   # not a class: named
})

test_that("dense outputs: the detection measures pool positions as Python does on the pooled rows", {
  p <- dense_probs()
  y <- dense_labels()
  y[1, 1, ] <- 255
  p_out <- dense_probs(c(3, 4, 3), seed = 13)
  expected <- py_dense_call("_mcbt_detection", p, y, 255, p_out)
  for (s in names(mcbridge:::.mc_scores)) {
    expect_equal(mc_misclassification_auroc(p, y, s, ignore = 255), expected[[paste0("auroc_", s)]],
                 tolerance = 1e-6, info = s)
  }
  expect_equal(mc_aurc(p, y, "mutual_information", ignore = 255), expected$aurc, tolerance = 1e-6)
  expect_equal(mc_augrc(p, y, "variation_ratio", ignore = 255), expected$augrc, tolerance = 1e-6)
  expect_equal(mc_ood_auroc(p, p_out, "mutual_information"), expected$ood_auroc, tolerance = 1e-6)
  expect_equal(mc_fpr_at_95_tpr(as_mc_prediction(p), p_out), expected$fpr_at_95_tpr, tolerance = 1e-6)
})

test_that("dense outputs after adaptive sampling: each position uses its input's own samples", {
  p <- dense_probs(c(4, 3), s = 6)
  y <- dense_labels(c(4, 3))
  used <- c(6L, 2L, 4L, 2L)
  padded <- p
  for (i in 1:4) if (used[i] < 6) padded[i, , , (used[i] + 1):6] <- NaN
  rows <- padded
  dim(rows) <- c(12, 3, 6)
  flat <- as_mc_prediction(rows, n_used = rep(used, 3))   # input i is row i, i + 4, i + 8
  expect_equal(mc_evaluate_uncertainty(as_mc_prediction(padded, n_used = used), y),
               mc_evaluate_uncertainty(flat, as.vector(y)))
})

test_that("dense outputs: labels or ignore of another shape are refused with what to do", {
  p <- dense_probs(c(2, 3), s = 2)
  y <- dense_labels(c(2, 3))
  expect_mcb_error(mc_evaluate_uncertainty(p, as.vector(y)), "input",
                   "dim c\\(2, 3\\).*set dim\\(y\\) <- c\\(2, 3\\)")
  expect_mcb_error(mc_evaluate_uncertainty(p, y[, 1:2]), "input",
                   "one label per input and position of the dense output `res`.*not an array with dim c\\(2, 2\\)")
  onehot <- array(0, c(2, 3, 3))
  expect_mcb_error(mc_evaluate_uncertainty(p, onehot), "input", "one-hot.*apply\\(y, 1:2, which.max\\) - 1")
  expect_mcb_error(mc_evaluate_uncertainty(p, y, ignore = c(TRUE, FALSE)), "argument",
                   "shaped like `y` \\(dim c\\(2, 3\\)\\)")
  expect_mcb_error(mc_evaluate_uncertainty(p, y, ignore = array(TRUE, c(2, 3))), "argument",
                   "leaves out all 6 labels")
  expect_mcb_error(mc_evaluate_uncertainty(p, y, ignore = "void"), "argument", "a number")
  y[1, 2] <- NA
  expect_mcb_error(mc_evaluate_uncertainty(p, y), "input", "NA labels")
  expect_mcb_error(mc_evaluate_uncertainty(p, y, ignore = NA), "argument", "ignore = is.na\\(y\\)")
  void <- y
  void[1, 2] <- 255
  expect_equal(mc_evaluate_uncertainty(p, y, ignore = is.na(y)),
               mc_evaluate_uncertainty(p, void, ignore = 255))
  y[1, 2] <- 7
  expect_mcb_error(mc_evaluate_uncertainty(p, y), "input", "\\[0, 2\\]")
  expect_mcb_error(mc_select_uncertain(as_mc_prediction(p), 1), "input",
                   "ranks inputs.*apply\\(mc_mutual_information\\(res\\), 1, mean\\)")
})

test_that("ignore works on one prediction per input too", {
  s <- as_probs(array(runif(20 * 3 * 4), c(20, 3, 4)))
  y <- rep(0:2, length.out = 20)
  y[c(3, 8)] <- 255
  keep <- y != 255
  expect_equal(mc_evaluate_uncertainty(s, y, ignore = 255),
               mc_evaluate_uncertainty(s[keep, , , drop = FALSE], y[keep]))
  expect_equal(mc_aurc(s, y, ignore = !keep), mc_aurc(s[keep, , , drop = FALSE], y[keep]))
  expect_mcb_error(mc_evaluate_uncertainty(s, y[-1], ignore = 255), "input", "19 labels but there are 20")
})
