# An mc_prediction as an R object: rows, subsets, data frames, tidy verbs.

verbs_result <- function(task = "classification") {
  set.seed(3)
  s <- array(runif(7 * 3 * 4), c(7, 3, 4))
  if (task == "regression") return(as_mc_prediction(s * 50, task = "regression"))
  res <- as_mc_prediction(as_probs(s))
  mc_class_names(res) <- c("cat", "dog", "bird")
  res
}

test_that("res[i, ] keeps inputs i in every field, with class names and task", {
  res <- verbs_result()
  res$noise_variance <- array(seq_len(7 * 3 * 4), c(7, 3, 4))  # a further field
  sub <- res[c(5, 2), ]
  expect_s3_class(sub, "mc_prediction")
  expect_identical(sub$all_samples, res$all_samples[c(5, 2), , , drop = FALSE])
  expect_identical(sub$mean, res$mean[c(5, 2), , drop = FALSE])
  expect_identical(sub$variance, res$variance[c(5, 2), , drop = FALSE])
  expect_identical(sub$noise_variance, res$noise_variance[c(5, 2), , , drop = FALSE])
  expect_identical(mc_class_names(sub), c("cat", "dog", "bird"))
  expect_identical(res[-(1:6), ]$mean, res[7, ]$mean)
  expect_identical(res[res$mean[, 1] > 0.3, ], res[which(res$mean[, 1] > 0.3), ])
  expect_identical(mc_task(verbs_result("regression")[1:2, ]), "regression")
  expect_identical(res[], res)
  expect_mcb_error(res[1, 2], "argument", "by inputs only")
  expect_mcb_error(res[9, ], "argument", "among the 7 inputs")
})

test_that("nrow(), dim(), head(), tail() and named columns of mean", {
  res <- verbs_result()
  expect_identical(dim(res), c(7L, 3L, 4L))
  expect_identical(nrow(res), 7L)
  expect_identical(head(res, 2), res[1:2, ])
  expect_identical(head(res, -5), res[1:2, ])
  expect_identical(tail(res, 2), res[6:7, ])
  expect_identical(nrow(head(res)), 6L)
  expect_identical(colnames(res$mean), c("cat", "dog", "bird"))
  expect_identical(colnames(res$variance), c("cat", "dog", "bird"))
  mc_class_names(res) <- NULL
  expect_null(colnames(res$mean))
  expect_equal(mc_predictive_entropy(res), mc_predictive_entropy(res$all_samples))
})

test_that("as.data.frame(): one row per input", {
  res <- verbs_result()
  df <- as.data.frame(res)
  expect_identical(nrow(df), 7L)
  expect_identical(names(df), c(".pred_class", ".pred_cat", ".pred_dog", ".pred_bird",
                                "predictive_entropy", "mutual_information", "variation_ratio",
                                "one_minus_max_probability"))
  expect_identical(as.character(df$.pred_class), c("cat", "dog", "bird")[max.col(res$mean, "first")])
  reg <- verbs_result("regression")
  df <- as.data.frame(reg)
  expect_identical(names(df), c(".pred_1", ".pred_sd_1", ".pred_2", ".pred_sd_2", ".pred_3", ".pred_sd_3"))
  expect_equal(df$.pred_sd_2, sqrt(reg$variance[, 2]))
})

test_that("augment(), glance() and tidy() through the generics package", {
  skip_if_not_installed("generics")
  res <- verbs_result()
  y <- c(0, 1, 2, 0, 1, 2, 0)
  names_y <- c("cat", "dog", "bird")[y + 1]
  new <- data.frame(id = letters[1:7], label = factor(names_y))
  aug <- generics::augment(res, new_data = new, truth = "label")
  expect_identical(names(aug), c("id", "label", ".pred_class", ".pred_cat", ".pred_dog", ".pred_bird",
                                 ".pred_entropy", ".pred_mutual_information", ".pred_variation_ratio"))
  expect_equal(aug$.pred_mutual_information, mc_mutual_information(res))
  aug2 <- generics::augment(res, truth = factor(names_y))     # alphabetical levels: by name
  expect_identical(as.character(aug2$truth), names_y)
  expect_identical(levels(aug2$truth), c("cat", "dog", "bird"))
  gl <- generics::glance(res, truth = factor(names_y))
  expect_identical(nrow(gl), 1L)
  expect_equal(as.data.frame(gl)[-1], mc_evaluate_uncertainty(res, y))
  expect_identical(names(generics::glance(res))[1:3], c("n", "classes", "samples"))
  td <- generics::tidy(res)
  expect_identical(nrow(td), 21L)
  expect_identical(as.character(td$class[1:3]), c("cat", "dog", "bird"))
  expect_equal(td$mean[td$.row == 4], unname(res$mean[4, ]))
  # regression: mean, sd and the central interval of the samples
  reg <- verbs_result("regression")[, ]
  reg1 <- as_mc_prediction(reg$all_samples[, 1, , drop = FALSE], task = "regression")
  t1 <- reg1$mean[, 1] + 1
  a <- generics::augment(reg1, truth = t1, level = 0.5)
  expect_identical(names(a), c("truth", ".pred", ".pred_sd", ".pred_lower", ".pred_upper"))
  expect_equal(a$.pred_lower, apply(reg1$all_samples[, 1, ], 1, quantile, 0.25, names = FALSE))
  g <- generics::glance(reg1, truth = t1, level = 0.5)
  expect_equal(g$rmse, 1)
  expect_equal(g$coverage, mc_interval_coverage(reg1, t1, 0.5))
  expect_mcb_error(generics::augment(res, new_data = new[1:3, ]), "input", "one row per input \\(7\\)")
})

test_that("mc_max_probability() is deprecated for mc_one_minus_max_probability()", {
  res <- verbs_result()
  expect_warning(old <- mc_max_probability(res), "mc_one_minus_max_probability")
  expect_identical(old, mc_one_minus_max_probability(res))
  expect_equal(old, 1 - apply(res$mean, 1, max))
  # the score keeps Python's name, and the new one is accepted too
  expect_identical(mc_select_uncertain(res, 3, "one_minus_max_probability"),
                   mc_select_uncertain(res, 3, "max_probability"))
})

# ---- dense outputs c(n, ..., classes, samples) (issue 21) --------------------------

test_that("augment(), glance(), tidy(), as.data.frame() of a dense output", {
  skip_if_not_installed("generics")
  p <- dense_probs(c(3, 4))
  y <- dense_labels(c(3, 4))
  y[1, 2] <- 255
  res <- as_mc_prediction(p)
  mc_class_names(res) <- c("a", "b", "c")
  aug <- generics::augment(res, new_data = data.frame(id = c("x", "y", "z")), truth = y, ignore = 255)
  expect_identical(names(aug)[1:5], c("id", ".row", ".dim_1", "truth", ".pred_class"))
  expect_identical(aug$id, rep(c("x", "y", "z"), each = 4))     # new_data repeated per position
  expect_identical(aug$.dim_1, rep(1:4, 3))
  expect_equal(aug$.pred_entropy[aug$.row == 2 & aug$.dim_1 == 4], mc_predictive_entropy(res)[2, 4])
  expect_true(is.na(aug$truth[aug$.row == 1 & aug$.dim_1 == 2]))
  gl <- generics::glance(res, truth = y, ignore = 255)
  expect_identical(c(gl$n, gl$positions), c(3L, 4L))
  expect_equal(unlist(gl[-(1:2)]), unlist(mc_evaluate_uncertainty(res, y, ignore = 255)))
  expect_equal(unlist(gl[-(1:2)]), unlist(py_dense_call("_mcbt_evaluate", p, y, 255)), tolerance = 1e-6)
  gl0 <- generics::glance(res)
  expect_identical(c(gl0$classes, gl0$samples), c(3L, 5L))
  expect_equal(gl0$mean_mutual_information, mean(mc_mutual_information(res)))
  td <- generics::tidy(res)
  expect_named(td, c(".row", ".dim_1", "class", "mean", "sd"))
  expect_equal(nrow(td), 3 * 4 * 3)
  expect_identical(as.character(td$class[1:3]), c("a", "b", "c"))
  expect_equal(td$sd[td$.row == 3 & td$.dim_1 == 2 & td$class == "b"], sd(p[3, 2, 2, ]))
  expect_equal(as.data.frame(res), mc_tidy(res))
  expect_mcb_error(generics::augment(res, truth = as.vector(y)), "input", "dim c\\(3, 4\\)")
})

test_that("regression dense outputs: augment(), glance(), tidy(), as.data.frame() pool positions", {
  skip_if_not_installed("generics")
  set.seed(31)
  s <- array(rnorm(3 * 2 * 2 * 4), c(3, 2, 2, 4))   # c(n, T, outputs, samples)
  y <- array(rnorm(3 * 2 * 2), c(3, 2, 2))
  res <- as_mc_prediction(s, task = "regression")
  rows <- s
  dim(rows) <- c(6, 2, 4)
  ymat <- matrix(y, 6, 2)
  flat <- as_mc_prediction(rows, task = "regression")
  gl <- generics::glance(res, truth = y)
  expect_identical(c(gl$n, gl$positions, gl$outputs, gl$samples), c(3L, 2L, 2L, 4L))
  expect_equal(gl$rmse, mc_rmse(flat, ymat))
  expect_equal(gl$crps, mc_crps(flat, ymat))
  aug <- generics::augment(res, truth = y)
  expect_identical(names(aug)[1:4], c(".row", ".dim_1", "truth_1", "truth_2"))
  expect_equal(aug$truth_2[aug$.row == 3 & aug$.dim_1 == 2], y[3, 2, 2])
  expect_equal(aug$.pred_sd_1[aug$.row == 1 & aug$.dim_1 == 2], sd(s[1, 2, 1, ]))
  df <- as.data.frame(res)
  expect_named(df, c(".row", ".dim_1", ".pred_1", ".pred_sd_1", ".pred_2", ".pred_sd_2"))
  expect_equal(nrow(generics::tidy(res)), 3 * 2 * 2)
  expect_mcb_error(generics::glance(res, truth = y[, , 1]), "input", "dim c\\(3, 2, 2\\)")
  expect_mcb_error(generics::glance(res, truth = y, ignore = 0), "argument", "class labels")
})
