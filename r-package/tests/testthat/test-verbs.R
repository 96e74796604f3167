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
