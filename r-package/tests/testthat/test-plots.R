plot_res <- function() {
  set.seed(3)
  res <- as_mc_prediction(as_probs(array(exp(2 * rnorm(40 * 3 * 6)), c(40, 3, 6))))
  mc_class_names(res) <- c("T-shirt/top", "Trouser", "Pullover")
  res
}

# Renders `expr` to a PNG; checks it is a PNG of the requested size with content.
expect_png <- function(expr, width = 600, height = 450, min_bytes = 6000) {
  path <- tempfile(fileext = ".png")
  grDevices::png(path, width = width, height = height)
  ok <- FALSE
  on.exit(if (!ok) grDevices::dev.off(), add = TRUE)
  force(expr)
  grDevices::dev.off()
  ok <- TRUE
  con <- file(path, "rb")
  head <- readBin(con, "raw", 24)
  close(con)
  expect_identical(head[1:8], as.raw(c(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)))
  size <- function(b) sum(as.integer(b) * 256^(3:0))
  expect_equal(c(size(head[17:20]), size(head[21:24])), c(width, height))
  expect_gt(file.size(path), min_bytes)
  invisible(path)
}

test_that("each plot type renders a PNG", {
  res <- plot_res()
  y <- rep(0:2, length.out = 40)
  expect_png(expect_invisible(plot(res, item = 2)))
  expect_png(plot(res, type = "reliability", y = y), 500, 560)
  expect_png(plot(res, type = "reliability", y = y, adaptive = TRUE, n_bins = 4), 500, 560)
  expect_png(plot(res, type = "scores", y = y))
  flat <- as_mc_prediction(array(1 / 3, c(10, 3, 6)))
  expect_png(plot(res, type = "scores", x_out = flat, score = "max_probability"))
  images <- array(runif(40 * 8 * 8), c(40, 8, 8))
  expect_png(plot(res, type = "uncertain", images = images, y = y, k = 8), 1200, 500)
})

test_that("plot arguments are checked with classed errors", {
  res <- plot_res()
  expect_mcb_error(plot(res, type = "histogram"), "argument", "`type`")
  expect_mcb_error(plot(res, type = "reliability"), "argument", "needs `y`")
  expect_mcb_error(plot(res, type = "scores"), "argument", "exactly one")
  expect_mcb_error(plot(res, type = "uncertain", images = array(0, c(3, 8, 8))), "input", "`images`")
  expect_mcb_error(plot(res, item = 41), "argument", "`item`")
})

test_that("ggplot2::autoplot() draws each plot type as a ggplot (PNG)", {
  skip_if_not_installed("ggplot2")  # setup_r.sh installs it (r-cran-ggplot2)
  res <- plot_res()
  y <- rep(0:2, length.out = 40)
  images <- array(runif(40 * 8 * 8), c(40, 8, 8))
  flat <- as_mc_prediction(array(1 / 3, c(10, 3, 6)))
  plots <- list(
    spread = ggplot2::autoplot(res, item = 2),
    reliability = ggplot2::autoplot(res, type = "reliability", y = y, n_bins = 5),
    adaptive = ggplot2::autoplot(res, type = "reliability", y = y, adaptive = TRUE, n_bins = 4),
    scores = ggplot2::autoplot(res, type = "scores", y = y),
    ood = ggplot2::autoplot(res, type = "scores", x_out = flat, score = "max_probability"),
    uncertain = ggplot2::autoplot(res, type = "uncertain", images = images, y = y, k = 8)
  )
  for (p in plots) expect_s3_class(p, "ggplot")
  # The same numbers as the base pictures, and the class names.
  ece <- mc_expected_calibration_error(res, y, n_bins = 5)
  expect_identical(plots$reliability$labels$title, sprintf("Reliability diagram (ECE = %.3f, 5 bins)", ece))
  expect_match(plots$adaptive$labels$title, "adaptive ECE")
  expect_match(plots$scores$labels$title, "misclassification AUROC")
  expect_match(plots$ood$labels$title, "OOD AUROC")
  expect_identical(levels(plots$spread$data$class), c("T-shirt/top", "Trouser", "Pullover"))
  text <- Filter(function(l) inherits(l$geom, "GeomText"), plots$uncertain$layers)[[1]]
  expect_setequal(text$data$label, c("T-shirt/top", "Trouser", "Pullover"))
  sizes <- list(spread = c(600, 450), reliability = c(500, 500), adaptive = c(500, 500),
                scores = c(600, 450), ood = c(600, 450), uncertain = c(1000, 500))
  for (name in names(plots)) {
    wh <- sizes[[name]]
    expect_png(print(plots[[name]]), wh[1], wh[2])
  }
  # plot() stays base graphics.
  expect_png(expect_identical(withVisible(plot(res))$value, res))
})

test_that("autoplot() checks its arguments with classed errors", {
  skip_if_not_installed("ggplot2")
  res <- plot_res()
  expect_mcb_error(ggplot2::autoplot(res, type = "histogram"), "argument", "`type`")
  expect_mcb_error(ggplot2::autoplot(res, type = "reliability"), "argument", "needs `y`")
  expect_mcb_error(ggplot2::autoplot(res, item = 41), "argument", "`item`")
  expect_mcb_error(ggplot2::autoplot(res, type = "uncertain", images = array(0, c(3, 8, 8))),
                   "input", "`images`")
})

test_that("a regression result gets its own pictures: intervals per input, predicted vs observed", {
  set.seed(4)
  s <- array(50 + rnorm(30 * 2 * 20, sd = 3), c(30, 2, 20))
  reg <- as_mc_prediction(s, task = "regression")
  y <- reg$mean + rnorm(60, sd = 3)
  expect_png(expect_invisible(plot(reg)))
  expect_png(plot(reg, y = y, output = 1, type = "interval"))
  expect_png(plot(reg, y = y, output = 2))
  r <- mcbridge:::.regression_plot_data(reg, NULL, y, 0.8, 2)
  expect_identical(r$type, "observed")          # the default once y is given
  q <- apply(s[, 2, ], 1, quantile, c(0.1, 0.9), names = FALSE)
  expect_equal(r$lower, q[1, ])
  expect_equal(r$upper, q[2, ])
  expect_identical(r$title, sprintf("Predicted vs observed: 80%% intervals cover %d of 30",
                                    sum(y[, 2] >= q[1, ] & y[, 2] <= q[2, ])))
  expect_identical(mcbridge:::.regression_plot_data(reg, NULL, NULL, 0.9, 1)$type, "interval")
  expect_mcb_error(plot(reg, type = "observed"), "argument", "needs `y`")
  expect_mcb_error(plot(reg, type = "reliability", y = y), "argument", "\"interval\" or \"observed\" for a regression")
  expect_mcb_error(plot(reg, output = 3), "argument", "`output` must be a whole number in 1..2")
  expect_mcb_error(plot(reg, y = 1:3), "input", "`y` must have dim c\\(30, 2\\)")
  expect_mcb_error(plot(plot_res(), type = "interval"), "argument", "picture of a regression result")
  skip_if_not_installed("ggplot2")
  g <- ggplot2::autoplot(reg, y = y, output = 2, level = 0.8)
  expect_s3_class(g, "ggplot")
  expect_identical(g$labels$title, r$title)
  expect_png(print(ggplot2::autoplot(reg)))
})

test_that("the uncertain-inputs grid marks the predicted class and has no stray parenthesis", {
  res <- plot_res()
  y <- rep(0:2, length.out = nrow(res))
  images <- array(runif(nrow(res) * 8 * 8), c(nrow(res), 8, 8))
  rec <- new.env()
  rec$text <- character()
  suppressMessages(trace("mtext", tracer = bquote(assign("text", c(get("text", envir = .(rec)), as.character(text)),
                                                             envir = .(rec))),
                         where = asNamespace("graphics"), print = FALSE))
  on.exit(suppressMessages(untrace("mtext", where = asNamespace("graphics"))))
  expect_png(plot(res, type = "uncertain", images = images, y = y, k = 4), 1100, 650)
  expect_false(any(grepl("))", rec$text, fixed = TRUE)))
  pred <- c("T-shirt/top", "Trouser", "Pullover")[max.col(res$mean, "first")]
  top4 <- mc_select_uncertain(res, 4)
  expect_identical(grep("^pred\\. ", rec$text, value = TRUE), paste("pred.", pred[top4]))
  expect_true(any(grepl("predicted class outlined and in bold; blue: true class$", rec$text)))
})

test_that("plot() of a dense output draws its maps: input, predicted class, entropy, mutual information", {
  p <- as_probs(array(runif(2 * 12 * 3 * 4), c(2 * 12, 3, 4)))
  dim(p) <- c(2, 3, 4, 3, 4)
  res <- as_mc_prediction(p)
  pdf(NULL)
  on.exit(dev.off())
  mc_class_names(res) <- c("road", "car", "sky")   # the classes axis, also of a dense output
  expect_identical(mc_class_names(res), c("road", "car", "sky"))
  expect_invisible(plot(res, item = 2))
  expect_identical(plot(res, item = 2, images = array(runif(24), c(2, 3, 4))), res)
  expect_mcb_error(plot(res, item = 3), "argument", "at most 2")
  expect_mcb_error(plot(res, images = array(0, c(2, 4, 4))), "input", "c\\(2, 3, 4\\)")
  seq <- as_mc_prediction(array(1 / 3, c(2, 5, 3, 4)))   # a tagged sequence: no maps to draw
  expect_mcb_error(plot(seq), "input", "have dim c\\(2, 5\\)")
})
