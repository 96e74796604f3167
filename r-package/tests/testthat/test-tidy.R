tidy_samples <- function() {
  s <- array(0, c(3, 3, 2))
  s[1, , ] <- c(0.7, 0.2, 0.1)
  s[2, , 1] <- c(0.1, 0.8, 0.1); s[2, , 2] <- c(0.1, 0.4, 0.5)
  s[3, , ] <- c(0.2, 0.2, 0.6)
  s
}

test_that("mc_tidy follows the yardstick/probably column contract", {
  s <- tidy_samples()
  lv <- c("T-shirt/top", "Trouser", "Pullover")
  df <- mc_tidy(s, truth = c(0, 2, 2), levels = lv)
  expect_s3_class(df, "data.frame")
  expect_equal(nrow(df), 3)
  expect_named(df, c("truth", ".pred_class", ".pred_T-shirt/top", ".pred_Trouser",
                     ".pred_Pullover", "predictive_entropy", "mutual_information",
                     "variation_ratio", "one_minus_max_probability"))
  expect_identical(df$truth, factor(lv[c(1, 3, 3)], levels = lv))
  expect_identical(df$.pred_class, factor(lv[c(1, 2, 3)], levels = lv))
  expect_equal(unname(as.matrix(df[3:5])), rowMeans(s, dims = 2))
  expect_equal(rowSums(df[3:5]), rep(1, 3))
  expect_equal(df$mutual_information, mc_mutual_information(s))
  expect_equal(df$one_minus_max_probability, mc_one_minus_max_probability(s))
})

test_that("mc_tidy levels come from the prediction, else 0-based indices", {
  s <- tidy_samples()
  df <- mc_tidy(s)

  expect_identical(names(df)[1:4], c(".pred_class", ".pred_0", ".pred_1", ".pred_2"))
  expect_identical(levels(df$.pred_class), c("0", "1", "2"))
  res <- as_mc_prediction(s)
  mc_class_names(res) <- c("a", "b", "c")
  expect_identical(mc_class_names(res), c("a", "b", "c"))
  df <- mc_tidy(res, truth = factor(c("a", "c", "c"), levels = c("a", "b", "c")))
  expect_identical(levels(df$truth), c("a", "b", "c"))
  expect_identical(as.character(df$.pred_class), c("a", "b", "c"))
  expect_mcb_error(mc_tidy(s, levels = c("a", "a", "b")), "argument", "distinct")
  expect_mcb_error(mc_tidy(s, truth = c(0, 3, 1)), "input", "\\[0, 2\\]")
  expect_mcb_error(mc_class_names(res) <- "x", "argument", "3 distinct")
})

test_that("print and summary show class names when the prediction has them", {
  res <- as_mc_prediction(tidy_samples())
  expect_output(print(res), "class")
  mc_class_names(res) <- c("Coat", "Sandal", "Bag")
  expect_output(print(res), "Sandal")
  expect_identical(summary(res)$class, c("Coat", "Sandal", "Bag"))
  mc_class_names(res) <- NULL
  expect_identical(summary(res)$class, 0:2)
})

test_that("mc_tidy adds the conformal sets as a .pred_set list column", {
  set.seed(3)
  p <- as_probs(array(stats::runif(40 * 3 * 4), c(40, 3, 4)))
  y <- max.col(apply(p, c(1, 2), mean)) - 1L
  cp <- mc_conformal(p, y, alpha = 0.2, method = "lac")
  lv <- c("a", "b", "c")
  df <- mc_tidy(p, levels = lv, sets = cp)
  sets <- predict(cp, p)
  expect_type(df$.pred_set, "list")
  expect_identical(df$.pred_set[[1]], lv[sets[1, ]])
  expect_identical(lengths(df$.pred_set), as.integer(rowSums(sets)))
  expect_identical(mc_tidy(p, levels = lv, sets = sets)$.pred_set, df$.pred_set)
  expect_false(".pred_set" %in% names(mc_tidy(p)))
  expect_mcb_error(mc_tidy(p, sets = sets[-1, ]), "input", "`sets`")
})

# ---- dense outputs c(n, ..., classes, samples) (issue 21) --------------------------

test_that("mc_tidy() of a dense output: one row per input and position, index columns in front", {
  p <- dense_probs(c(2, 3, 2))
  y <- dense_labels(c(2, 3, 2))
  y[2, 3, 1] <- 255
  res <- as_mc_prediction(p)
  mc_class_names(res) <- c("road", "car", "sky")
  df <- mc_tidy(res, truth = y, ignore = 255)
  expect_identical(names(df)[1:5], c(".row", ".dim_1", ".dim_2", "truth", ".pred_class"))
  expect_equal(nrow(df), 12)
  expect_identical(df$.row, rep(1:2, each = 6))               # input by input
  expect_identical(df$.dim_1, rep(1:3, 4))                    # then positions in R's array order
  expect_identical(df$.dim_2, rep(rep(1:2, each = 3), 2))
  at <- function(i, a, b) which(df$.row == i & df$.dim_1 == a & df$.dim_2 == b)
  expect_equal(df$.pred_sky[at(1, 2, 2)], mean(p[1, 2, 2, 3, ]))
  expect_equal(df$mutual_information[at(2, 1, 2)], mc_mutual_information(res)[2, 1, 2])
  expect_identical(as.character(df$truth[at(1, 3, 2)]), c("road", "car", "sky")[y[1, 3, 2] + 1])
  expect_true(is.na(df$truth[at(2, 3, 1)]))                   # ignored: kept, truth NA
  expect_identical(sum(is.na(df$truth)), 1L)
  expect_identical(levels(df$truth), c("road", "car", "sky"))
  # conformal sets, from the object or as predict() gives them
  cp <- mc_conformal(res, dense_labels(c(2, 3, 2)), method = "lac")
  sets <- predict(cp, res)
  with_sets <- mc_tidy(res, sets = cp)
  expect_identical(with_sets$.pred_set, mc_tidy(res, sets = sets)$.pred_set)
  expect_identical(with_sets$.pred_set[[at(2, 2, 1)]], c("road", "car", "sky")[sets[2, 2, 1, ]])
})

test_that("mc_tidy() of a dense output refuses labels or sets of another shape", {
  p <- dense_probs(c(2, 3))
  y <- dense_labels(c(2, 3))
  expect_mcb_error(mc_tidy(p, truth = as.vector(y)), "input", "truth.*dim c\\(2, 3\\)")
  expect_mcb_error(mc_tidy(p, sets = matrix(TRUE, 6, 3)), "input", "dim c\\(2, 3, 3\\)")
  expect_mcb_error(mc_tidy(p, ignore = 255), "argument", "needs `truth`")
  expect_mcb_error(mc_tidy(p, truth = y, ignore = matrix(FALSE, 3, 2)), "argument", "shaped like `truth`")
})
