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
