# Pictures of an mc_prediction, in base graphics (the same four as Python's
# mcbridge.plots).

.col_right <- "#4C72B0"
.col_wrong <- "#C44E52"
.col_mean <- "#DD8452"

.alpha <- function(col, a) grDevices::adjustcolor(col, alpha.f = a)

#' Plot an mc_prediction: samples, calibration, scores, uncertain inputs
#'
#' Four pictures in base graphics, the same as Python's `mcbridge.plots`;
#' classes are labelled by the names the prediction carries
#' ([mc_class_names()]), else by their index from 0.
#'
#' * `type = "spread"` (default): the MC samples of input `item`, per class:
#'   a box plot with every sample as a dot and the mean as a diamond.
#' * `type = "reliability"`: reliability diagram (needs `y`): accuracy per
#'   confidence bin against the diagonal, the gap to the bin's mean
#'   confidence hatched, the ECE in the title, inputs per bin below.
#' * `type = "scores"`: histograms of an uncertainty `score` for right vs
#'   wrong predictions (give `y`) or for these inputs vs the
#'   out-of-distribution inputs `x_out`; the AUROC in the title.
#' * `type = "uncertain"`: the `k` most uncertain inputs by `score` (default
#'   mutual information) as images (give `images`, `c(n, height, width)` or
#'   `c(n, height, width, 1)`), each with its mean class probabilities
#'   (the predicted class outlined and in bold; the true class in blue when
#'   `y` is given).
#'
#' A regression result ([mc_task()] `"regression"`) has its own two
#' pictures: `type = "interval"` (the default without `y`) shows the MC mean
#' and the central `level` interval of the samples of each input (and `y`,
#' if given); `type = "observed"` (the default with `y`) plots them against
#' the observed `y`, intervals that miss `y` in red, the coverage in the
#' title.
#'
#' @param x An `mc_prediction`.
#' @param item Which input `type = "spread"` shows (a row index). For a dense
#'   output `c(n, H, W, classes, samples)` (a segmentation), `plot()` shows
#'   this input's maps side by side: its image (from `images`, if given), the
#'   predicted class, the predictive entropy and the mutual information per
#'   position.
#' @param type `"spread"`, `"reliability"`, `"scores"` or `"uncertain"`.
#' @param y Labels: class codes from 0 (class `k` is column `k + 1`, as in
#'   Python), or a factor or character vector matched by name to the class
#'   names ([mc_class_names()]); a factor's levels are taken in order only
#'   where the classes have no names.
#' @param score Name of the uncertainty score (see [mc_detection]); the
#'   default is `"predictive_entropy"` for `"scores"` and
#'   `"mutual_information"` for `"uncertain"`.
#' @param x_out An `mc_prediction` of out-of-distribution inputs.
#' @param images The inputs of `x`, for `type = "uncertain"` (and beside a
#'   dense output's maps).
#' @param k Number of inputs `type = "uncertain"` shows.
#' @param n_bins Number of confidence bins of the reliability diagram.
#' @param adaptive Equal-mass bins instead of equal-width ones.
#' @param level Regression: nominal coverage of the interval of the samples.
#' @param output Regression: which output to show.
#' @param ... Passed to [graphics::boxplot()] for `type = "spread"`.
#' @return `x`, invisibly.
#' @family evaluation
#' @examples
#' set.seed(1)
#' s <- array(runif(30 * 3 * 8), c(30, 3, 8))
#' res <- as_mc_prediction(sweep(s, c(1, 3), apply(s, c(1, 3), sum), "/"))
#' mc_class_names(res) <- c("cat", "dog", "bird")
#' y <- sample(0:2, 30, replace = TRUE)
#' plot(res, item = 2)
#' plot(res, type = "reliability", y = y, n_bins = 5)
#' plot(res, type = "scores", y = y)
#' plot(res, type = "uncertain", images = array(runif(30 * 8 * 8), c(30, 8, 8)), k = 4)
#' @export
plot.mc_prediction <- function(x, item = 1, type = "spread", y = NULL, score = NULL,
                               x_out = NULL, images = NULL, k = 12, n_bins = 15,
                               adaptive = FALSE, level = 0.9, output = 1, ...) {
  if (length(dim(x$all_samples)) > 3) return(.plot_dense(x, item, images))
  if (mc_task(x) == "regression") {
    r <- .regression_plot_data(x, if (missing(type)) NULL else type, y, level, output)
    .plot_regression(r)
    return(invisible(x))
  }
  .check_plot_type(type)
  switch(type,
    spread = .plot_spread(x, item, ...),
    reliability = .plot_reliability(x, y, n_bins, adaptive),
    scores = .plot_scores(x, y, if (is.null(score)) "predictive_entropy" else score, x_out),
    uncertain = .plot_uncertain(x, images, k, if (is.null(score)) "mutual_information" else score, y)
  )
  invisible(x)
}

.check_plot_type <- function(type) {
  types <- c("spread", "reliability", "scores", "uncertain")
  if (identical(type, "interval") || identical(type, "observed")) {
    .abort(sprintf(paste0("`type = \"%s\"` is a picture of a regression result; this one is a ",
                          "classification (see mc_task())."), type), "argument", arg = "type")
  }
  if (!is.character(type) || length(type) != 1 || !type %in% types) {
    .abort(sprintf("`type` must be one of %s, not %s.",
                   paste0("\"", types, "\"", collapse = ", "), .describe(type)),
           "argument", arg = "type")
  }
}

.need <- function(value, arg, type) {
  if (is.null(value)) {
    .abort(sprintf("`plot(type = \"%s\")` needs `%s`.", type, arg), "argument", arg = arg)
  }
}

.check_item <- function(x, item) {
  d <- dim(x$all_samples)
  ok <- is.numeric(item) && length(item) == 1 && !is.na(item) && item == round(item) &&
    item >= 1 && item <= d[1]
  if (!isTRUE(ok)) {
    .abort(sprintf("`item` must be a whole number >= 1 and at most %d, not %s.", d[1],
                   .describe(item)), "argument", arg = "item")
  }
  d
}

.plot_spread <- function(x, item, ...) {
  d <- .check_item(x, item)
  s <- matrix(x$all_samples[item, , ], d[2], d[3])
  labels <- .class_labels(x)
  long <- max(nchar(labels)) > 3
  old <- graphics::par(mar = c(if (long) 7 else 4, 4, 3, 1))
  on.exit(graphics::par(old))
  graphics::boxplot(t(s), names = labels, las = if (long) 2 else 1, ylim = c(0, 1),
                    ylab = "probability", outline = FALSE, border = "grey30",
                    main = sprintf("Input %d: %d MC samples per class", item, d[3]), ...)
  jitter <- .fixed_jitter(d[2], d[3])
  graphics::points(rep(seq_len(d[2]), d[3]) + jitter, as.vector(s), pch = 19, cex = 0.5,
                   col = .alpha(.col_right, 0.5))
  graphics::points(seq_len(d[2]), x$mean[item, ], pch = 23, bg = .col_wrong, col = .col_wrong,
                   cex = 1.3)
  graphics::legend("topright", legend = "mean", pch = 23, pt.bg = .col_wrong, col = .col_wrong,
                   bty = "n")
}

# A fixed, seed-free horizontal jitter (so plotting leaves .Random.seed alone).
.fixed_jitter <- function(k, s) {
  ((seq_len(k * s) * 0.618034) %% 1 - 0.5) * 0.3
}

# The bars of the reliability diagram: bin edges, accuracy, mean confidence,
# counts (non-empty bins) and the ECE.
.reliability_data <- function(x, y, n_bins, adaptive) {
  .need(y, "y", "reliability")
  n_bins <- .check_n_bins(n_bins)
  d <- .probs_labels(x, y)
  b <- .calibration_bins(d$p, d$y, n_bins, adaptive)
  ece <- mc_expected_calibration_error(d$p, d$y, n_bins = n_bins, adaptive = adaptive)
  keep <- b$count > 0
  if (adaptive) {
    lo <- vapply(split(b$conf, factor(b$bins, levels = seq_len(n_bins) - 1)),
                 function(v) if (length(v)) min(v) else NA_real_, 0)
    hi <- vapply(split(b$conf, factor(b$bins, levels = seq_len(n_bins) - 1)),
                 function(v) if (length(v)) max(v) else NA_real_, 0)
    hi <- pmax(hi, lo + 0.005)
  } else {
    lo <- (seq_len(n_bins) - 1) / n_bins
    hi <- seq_len(n_bins) / n_bins
  }
  list(lo = lo[keep], hi = hi[keep], acc = b$accuracy[keep], conf = b$confidence[keep],
       count = b$count[keep], max_count = max(b$count), ece = ece, n_bins = n_bins,
       title = sprintf("Reliability diagram (%s = %.3f, %d bins)",
                       if (adaptive) "adaptive ECE" else "ECE", ece, n_bins))
}

.plot_reliability <- function(x, y, n_bins, adaptive) {
  r <- .reliability_data(x, y, n_bins, adaptive)
  lo <- r$lo; hi <- r$hi; acc <- r$acc; conf <- r$conf
  old <- graphics::par(no.readonly = TRUE)
  on.exit(graphics::par(old))
  graphics::layout(matrix(1:2), heights = c(4, 1.3))
  # Title and subtitle, then the legend, all above the plot box: nothing
  # overlaps the bars at the vignette's 5 x 5.5 in.
  graphics::par(mar = c(1, 4.5, 6, 1))
  graphics::plot(NULL, xlim = c(0, 1), ylim = c(0, 1), xaxs = "i", yaxs = "i",
                 xlab = "", ylab = "accuracy", xaxt = "n")
  graphics::title(main = "Reliability diagram", line = 4.6)
  graphics::mtext(sub("^Reliability diagram \\((.*)\\)$", "\\1", r$title), side = 3, line = 3.5,
                  cex = 0.85)
  graphics::rect(lo, 0, hi, acc, col = .col_right, border = "white")
  graphics::rect(lo, pmin(acc, conf), hi, pmax(acc, conf), density = 25, col = .col_wrong,
                 border = .col_wrong)
  graphics::abline(0, 1, lty = 2, col = "grey40")
  graphics::legend(0.5, 1.01, xjust = 0.5, yjust = 0, xpd = NA, bty = "n", ncol = 2, cex = 0.8,
                   legend = c("accuracy", "gap to mean confidence", "perfect calibration"),
                   fill = c(.col_right, .col_wrong, NA), border = c("white", .col_wrong, NA),
                   density = c(NA, 25, 0), lty = c(NA, NA, 2), col = c(NA, .col_wrong, "grey40"),
                   x.intersp = 0.6, text.width = c(0.25, 0.45))
  graphics::par(mar = c(4.5, 4.5, 0.5, 1))
  graphics::plot(NULL, xlim = c(0, 1), ylim = c(0, r$max_count), xaxs = "i", yaxt = "n",
                 xlab = "confidence (largest mean probability)", ylab = "inputs")
  graphics::axis(2, at = c(0, r$max_count), las = 1, cex.axis = 0.8)
  graphics::rect(lo, 0, hi, r$count, col = "grey60", border = "white")
}

# The two groups of scores (right/wrong or in/out), their labels, the AUROC
# text and the 30 histogram bins shared by both.
.scores_data <- function(x, y, score, x_out) {
  if (is.null(y) == is.null(x_out)) {
    .abort(paste("`plot(type = \"scores\")` needs exactly one of `y` (right vs wrong) and `x_out`",
                 "(in vs out)."), "argument")
  }
  s <- .score_of(x, score)
  if (!is.null(y)) {
    wrong <- .wrong(x, y)
    groups <- list(s[!wrong], s[wrong])
    labels <- sprintf(c("right (%d)", "wrong (%d)"), c(sum(!wrong), sum(wrong)))
    what <- sprintf("misclassification AUROC = %.3f", .auroc(s, wrong))
  } else {
    s_out <- .score_of(.check_samples_arg(x_out, "x_out"), score)
    groups <- list(s, s_out)
    labels <- sprintf(c("in distribution (%d)", "out of distribution (%d)"),
                      c(length(s), length(s_out)))
    what <- sprintf("OOD AUROC = %.3f", mc_ood_auroc(x, x_out, score))
  }
  all <- unlist(groups)
  rng <- range(all)
  if (diff(rng) == 0) rng <- rng + c(-0.5, 0.5)
  breaks <- seq(rng[1], rng[2], length.out = 31)
  list(groups = groups, labels = labels, what = what, rng = rng, breaks = breaks,
       title = sprintf("%s: %s", gsub("_", " ", score), what))
}

.plot_scores <- function(x, y, score, x_out) {
  d <- .scores_data(x, y, score, x_out)
  groups <- d$groups; labels <- d$labels; rng <- d$rng; breaks <- d$breaks
  h <- lapply(groups, function(g) graphics::hist(g, breaks = breaks, plot = FALSE))
  dens <- unlist(lapply(h, function(z) z$density[is.finite(z$density)]))
  graphics::plot(NULL, xlim = rng, ylim = c(0, max(c(dens, 1e-9))), xlab = gsub("_", " ", score),
                 ylab = "density", main = d$title)
  cols <- c(.col_right, .col_wrong)
  for (j in 1:2) {
    if (length(groups[[j]])) {
      graphics::rect(breaks[-31], 0, breaks[-1], h[[j]]$density, col = .alpha(cols[j], 0.55),
                     border = NA)
    }
  }
  graphics::legend("topright", legend = labels, fill = .alpha(cols, 0.55), border = NA, bty = "n")
}

.check_images <- function(x, images) {
  .need(images, "images", "uncertain")
  n <- dim(x$all_samples)[1]
  di <- dim(images)
  if (!is.numeric(images) || !(length(di) == 3 || (length(di) == 4 && di[4] == 1)) || di[1] != n) {
    .abort(sprintf("`images` must be a numeric array c(%d, height, width) (or with one channel), not %s.",
                   n, .describe(images)), "input", arg = "images")
  }
  di
}

.plot_uncertain <- function(x, images, k, score, y) {
  di <- .check_images(x, images)
  n <- di[1]
  idx <- mc_select_uncertain(x, k, score)
  s <- .score_of(x, score)
  labels <- .class_labels(x)
  short <- substr(labels, 1, 12)
  truth <- if (is.null(y)) NULL else .class_codes(y, n, length(labels), mc_class_names(x))
  ncols <- min(4, length(idx))
  nrows <- ceiling(length(idx) / ncols)
  old <- graphics::par(no.readonly = TRUE)
  on.exit(graphics::par(old))
  # image | bars pairs; the bars (with the class names) get the wider share
  cells <- matrix(seq_len(nrows * ncols * 2), nrows, 2 * ncols, byrow = TRUE)
  graphics::layout(cells, widths = rep(c(1, 1.9), ncols))
  graphics::par(oma = c(0, 0, 3, 0), cex = 0.85)
  k_cls <- length(labels)
  for (j in seq_len(nrows * ncols)) {
    if (j > length(idx)) {  # empty cells of the last row
      graphics::plot.new(); graphics::plot.new()
      next
    }
    i <- idx[j]
    pred <- which.max(x$mean[i, ])
    img <- matrix(images[i, , , drop = TRUE], di[2], di[3])
    graphics::par(mar = c(1, 0.3, 2.6, 0.3))
    # image() puts rows along x from the bottom: transpose and flip to read as a picture.
    graphics::image(t(img[nrow(img):1, , drop = FALSE]), col = grDevices::grey.colors(64, 0, 1),
                    axes = FALSE, asp = di[2] / di[3])
    graphics::title(sprintf("#%d", i), cex.main = 0.95, font.main = 2, line = 1.4)
    graphics::mtext(sprintf("%s %.2f", .score_short(score), s[i]), side = 3, line = 0.3, cex = 0.75)
    graphics::par(mar = c(2, 0.5 + 0.33 * max(nchar(short)), 2.6, 0.5))
    cols <- rep(.col_mean, k_cls)
    if (!is.null(truth)) cols[truth[i] + 1L] <- .col_right
    borders <- rep(NA, k_cls)
    borders[pred] <- "black"
    bp <- graphics::barplot(rev(x$mean[i, ]), horiz = TRUE, names.arg = FALSE, xlim = c(0, 1),
                            col = rev(cols), border = rev(borders), cex.axis = 0.7,
                            mgp = c(3, 0.4, 0))
    # class names, the predicted one in bold
    font <- rep(1, k_cls); font[pred] <- 2
    graphics::mtext(rev(short), side = 2, at = bp, las = 1, line = 0.2, cex = 0.7, font = rev(font))
    graphics::mtext(paste("pred.", short[pred]), side = 3, line = 0.3, cex = 0.75, font = 2)
    if (!is.null(truth)) {
      graphics::mtext(paste("true", short[truth[i] + 1L]), side = 3, line = 1.3, cex = 0.75,
                      col = if (truth[i] + 1L == pred) "black" else .col_wrong)
    }
  }
  graphics::mtext(sprintf("The %d most uncertain inputs by %s", length(idx), gsub("_", " ", score)),
                  outer = TRUE, line = 1.5, cex = 1.05, font = 2)
  graphics::mtext(paste0("bars: mean class probabilities; predicted class outlined and in bold",
                         if (is.null(truth)) "" else "; blue: true class"),
                  outer = TRUE, line = 0.3, cex = 0.85)
}

# A score's name short enough for a panel title.
.score_short <- function(score) {
  switch(score, predictive_entropy = "entropy", mutual_information = "MI",
         variation_ratio = "var. ratio", max_probability = "1 - max p", gsub("_", " ", score))
}

# ---- regression ------------------------------------------------------------

# What the regression pictures show: per input, the MC mean of output
# `output` and the central `level` interval of its samples (quantiles, type
# 7); with `y`, the observed values (type "observed") and the coverage.
.regression_plot_data <- function(x, type, y, level, output) {
  if (is.null(type)) type <- if (is.null(y)) "interval" else "observed"
  if (!is.character(type) || length(type) != 1 || !type %in% c("interval", "observed")) {
    .abort(sprintf(paste0("`type` must be \"interval\" or \"observed\" for a regression result, ",
                          "not %s."), .describe(type)), "argument", arg = "type")
  }
  level <- .check_level(level)
  d <- dim(x)
  ok <- is.numeric(output) && length(output) == 1 && !is.na(output) && output == round(output) &&
    output >= 1 && output <= d[2]
  if (!isTRUE(ok)) {
    .abort(sprintf("`output` must be a whole number in 1..%d, not %s.", d[2], .describe(output)),
           "argument", arg = "output")
  }
  if (type == "observed" && is.null(y)) .need(y, "y", "observed")
  if (!is.null(y)) y <- .mcreg_targets(y, d[1], d[2])[, output]
  s <- matrix(x$all_samples[, output, ], d[1], d[3])
  q <- apply(s, 1, stats::quantile, probs = c((1 - level) / 2, (1 + level) / 2),
             names = FALSE, type = 7)
  if (d[3] < 2) q[] <- x$mean[, output]
  inside <- if (is.null(y)) NULL else y >= q[1, ] & y <= q[2, ]
  what <- if (d[2] == 1) "value" else sprintf("output %d", output)
  title <- if (type == "interval") {
    sprintf("MC mean and %g%% interval per input (%d samples)", 100 * level, d[3])
  } else {
    sprintf("Predicted vs observed: %g%% intervals cover %d of %d", 100 * level, sum(inside), d[1])
  }
  list(type = type, mean = x$mean[, output], lower = q[1, ], upper = q[2, ], y = y,
       inside = inside, level = level, what = what, title = title)
}

.plot_regression <- function(r) {
  n <- length(r$mean)
  old <- graphics::par(mar = c(4.5, 4.5, 3, 1))
  on.exit(graphics::par(old))
  if (r$type == "interval") {
    i <- seq_len(n)
    graphics::plot(NULL, xlim = c(0.5, n + 0.5), ylim = range(r$lower, r$upper, r$y),
                   xlab = "input", ylab = paste("predicted", r$what), main = r$title, cex.main = 1)
    graphics::segments(i, r$lower, i, r$upper, col = .alpha(.col_right, 0.6), lwd = 2)
    graphics::points(i, r$mean, pch = 19, cex = 0.6, col = .col_right)
    leg <- c("MC mean", sprintf("%g%% interval", 100 * r$level))
    cols <- c(.col_right, .alpha(.col_right, 0.6)); pch <- c(19, NA); lty <- c(NA, 1)
    if (!is.null(r$y)) {
      graphics::points(i, r$y, pch = 4, cex = 0.7, col = ifelse(r$inside, "grey20", .col_wrong))
      leg <- c(leg, "observed (red: outside)"); cols <- c(cols, "grey20"); pch <- c(pch, 4)
      lty <- c(lty, NA)
    }
  } else {
    lim <- range(r$lower, r$upper, r$y)
    graphics::plot(NULL, xlim = lim, ylim = lim, xlab = paste("observed", r$what),
                   ylab = paste("predicted", r$what), main = r$title, cex.main = 1)
    graphics::abline(0, 1, lty = 2, col = "grey40")
    col <- ifelse(r$inside, .col_right, .col_wrong)
    graphics::segments(r$y, r$lower, r$y, r$upper, col = .alpha(col, 0.5), lwd = 1.5)
    graphics::points(r$y, r$mean, pch = 19, cex = 0.6, col = col)
    leg <- c("MC mean and interval", "interval misses y", "predicted = observed")
    cols <- c(.col_right, .col_wrong, "grey40"); pch <- c(19, 19, NA); lty <- c(1, 1, 2)
  }
  graphics::legend("topleft", legend = leg, col = cols, pch = pch, lty = lty, bty = "n", cex = 0.85)
}

.gg_regression <- function(r) {
  n <- length(r$mean)
  if (r$type == "interval") {
    df <- data.frame(i = seq_len(n), mean = r$mean, lower = r$lower, upper = r$upper)
    p <- ggplot2::ggplot(df, ggplot2::aes(x = .data$i, y = .data$mean)) +
      ggplot2::geom_linerange(ggplot2::aes(ymin = .data$lower, ymax = .data$upper,
                                           colour = "interval"), linewidth = 0.8, alpha = 0.6) +
      ggplot2::geom_point(ggplot2::aes(colour = "MC mean"), size = 1.2)
    values <- c("MC mean" = .col_right, interval = .col_right)
    if (!is.null(r$y)) {
      df$y <- r$y
      p <- p + ggplot2::geom_point(ggplot2::aes(y = .data$y, colour = "observed"), data = df,
                                   shape = 4, size = 1.5)
      values <- c(values, observed = "grey20")
    }
    p <- p + ggplot2::scale_colour_manual(NULL, values = values) +
      ggplot2::labs(x = "input", y = paste("predicted", r$what), title = r$title)
  } else {
    df <- data.frame(y = r$y, mean = r$mean, lower = r$lower, upper = r$upper,
                     covered = factor(ifelse(r$inside, "interval covers y", "interval misses y"),
                                      levels = c("interval covers y", "interval misses y")))
    p <- ggplot2::ggplot(df, ggplot2::aes(x = .data$y, y = .data$mean, colour = .data$covered)) +
      ggplot2::geom_abline(intercept = 0, slope = 1, linetype = 2, colour = "grey40") +
      ggplot2::geom_linerange(ggplot2::aes(ymin = .data$lower, ymax = .data$upper), alpha = 0.5) +
      ggplot2::geom_point(size = 1.2) +
      ggplot2::scale_colour_manual(NULL, values = c("interval covers y" = .col_right,
                                                    "interval misses y" = .col_wrong), drop = FALSE) +
      ggplot2::coord_equal() +
      ggplot2::labs(x = paste("observed", r$what), y = paste("predicted", r$what), title = r$title)
  }
  p + ggplot2::theme_bw() +
    ggplot2::theme(legend.position = "bottom", plot.title = ggplot2::element_text(size = 11))
}

# ---- ggplot2 versions ------------------------------------------------------

#' ggplot2 pictures of an mc_prediction
#'
#' The four pictures of [plot.mc_prediction()] as `ggplot` objects, for
#' users of 'ggplot2' (a suggested package: `autoplot()` is registered when
#' 'ggplot2' is loaded; `plot()` keeps drawing in base graphics). Call it as
#' `ggplot2::autoplot(res, type = ...)`; the result can be themed, added to
#' and saved with `ggplot2::ggsave()`. The reliability diagram shows the
#' inputs per bin as labels above the bars instead of a second panel.
#'
#' @param object An `mc_prediction`.
#' @inheritParams plot.mc_prediction
#' @param ... Unused.
#' @return A `ggplot` object.
#' @family evaluation
#' @examplesIf requireNamespace("ggplot2", quietly = TRUE)
#' set.seed(1)
#' s <- array(runif(30 * 3 * 8), c(30, 3, 8))
#' res <- as_mc_prediction(sweep(s, c(1, 3), apply(s, c(1, 3), sum), "/"))
#' mc_class_names(res) <- c("cat", "dog", "bird")
#' y <- sample(0:2, 30, replace = TRUE)
#' ggplot2::autoplot(res, item = 2)
#' ggplot2::autoplot(res, type = "reliability", y = y, n_bins = 5)
#' ggplot2::autoplot(res, type = "scores", y = y)
#' ggplot2::autoplot(res, type = "uncertain", images = array(runif(30 * 8 * 8), c(30, 8, 8)), k = 4)
#' @exportS3Method ggplot2::autoplot
autoplot.mc_prediction <- function(object, item = 1, type = "spread", y = NULL, score = NULL,
                                   x_out = NULL, images = NULL, k = 12, n_bins = 15,
                                   adaptive = FALSE, level = 0.9, output = 1, ...) {
  .check_flat(object, "object", paste0(
    "autoplot() draws one prediction per input. plot(object) draws the maps of a dense ",
    "output; mc_predictive_entropy(object) and mc_mutual_information(object) give a measure per position."))
  if (!requireNamespace("ggplot2", quietly = TRUE)) {
    .abort("autoplot() needs the 'ggplot2' package; install it (Debian: r-cran-ggplot2).", "input")
  }
  if (mc_task(object) == "regression") {
    return(.gg_regression(.regression_plot_data(object, if (missing(type)) NULL else type, y,
                                                level, output)))
  }
  .check_plot_type(type)
  switch(type,
    spread = .gg_spread(object, item),
    reliability = .gg_reliability(object, y, n_bins, adaptive),
    scores = .gg_scores(object, y, if (is.null(score)) "predictive_entropy" else score, x_out),
    uncertain = .gg_uncertain(object, images, k, if (is.null(score)) "mutual_information" else score, y)
  )
}

.gg_spread <- function(x, item) {
  d <- .check_item(x, item)
  labels <- .class_labels(x)
  s <- matrix(x$all_samples[item, , ], d[2], d[3])
  pts <- data.frame(class = rep(seq_len(d[2]), d[3]), p = as.vector(s))
  pts$xj <- pts$class + .fixed_jitter(d[2], d[3])
  pts$class <- factor(labels[pts$class], levels = labels)
  means <- data.frame(class = factor(labels, levels = labels), p = x$mean[item, ], what = "mean")
  long <- max(nchar(labels)) > 3
  ggplot2::ggplot(pts, ggplot2::aes(x = .data$class, y = .data$p)) +
    ggplot2::geom_boxplot(outlier.shape = NA, colour = "grey30", fill = NA) +
    ggplot2::geom_point(ggplot2::aes(x = .data$xj), colour = .col_right, alpha = 0.5, size = 1) +
    ggplot2::geom_point(ggplot2::aes(shape = .data$what), data = means, fill = .col_wrong,
                        colour = .col_wrong, size = 3) +
    ggplot2::scale_shape_manual(NULL, values = c(mean = 23)) +
    ggplot2::scale_y_continuous(limits = c(0, 1)) +
    ggplot2::labs(x = NULL, y = "probability",
                  title = sprintf("Input %d: %d MC samples per class", item, d[3])) +
    ggplot2::theme_bw() +
    ggplot2::theme(legend.position = c(0.98, 0.98), legend.justification = c(1, 1),
                   axis.text.x = if (long) ggplot2::element_text(angle = 45, hjust = 1)
                                 else ggplot2::element_text())
}

.gg_reliability <- function(x, y, n_bins, adaptive) {
  r <- .reliability_data(x, y, n_bins, adaptive)
  bars <- data.frame(lo = r$lo, hi = r$hi, acc = r$acc, gap_lo = pmin(r$acc, r$conf),
                     gap_hi = pmax(r$acc, r$conf), count = r$count)
  ggplot2::ggplot(bars) +
    ggplot2::geom_rect(ggplot2::aes(xmin = .data$lo, xmax = .data$hi, ymin = 0, ymax = .data$acc,
                                    fill = "accuracy"), colour = "white") +
    ggplot2::geom_rect(ggplot2::aes(xmin = .data$lo, xmax = .data$hi, ymin = .data$gap_lo,
                                    ymax = .data$gap_hi, fill = "gap to mean confidence"),
                       colour = .col_wrong, alpha = 0.45) +
    ggplot2::geom_text(ggplot2::aes(x = (.data$lo + .data$hi) / 2, y = .data$gap_hi,
                                    label = .data$count), vjust = -0.4, size = 3, colour = "grey30") +
    ggplot2::geom_abline(ggplot2::aes(intercept = 0, slope = 1, linetype = "perfect calibration"),
                         colour = "grey40") +
    ggplot2::scale_fill_manual(NULL, values = c(accuracy = .col_right,
                                                "gap to mean confidence" = .col_wrong)) +
    ggplot2::scale_linetype_manual(NULL, values = c("perfect calibration" = 2)) +
    ggplot2::coord_cartesian(xlim = c(0, 1), ylim = c(0, 1.05), expand = FALSE) +
    ggplot2::labs(x = "confidence (largest mean probability)", y = "accuracy", title = r$title,
                  subtitle = "numbers: inputs per bin") +
    ggplot2::theme_bw() +
    ggplot2::theme(legend.position = "bottom", legend.box = "vertical",
                   legend.spacing.y = ggplot2::unit(0, "pt"),
                   plot.title = ggplot2::element_text(size = 12))
}

.gg_scores <- function(x, y, score, x_out) {
  d <- .scores_data(x, y, score, x_out)
  df <- data.frame(score = unlist(d$groups),
                   group = factor(rep(d$labels, lengths(d$groups)), levels = d$labels))
  ggplot2::ggplot(df, ggplot2::aes(x = .data$score, fill = .data$group)) +
    ggplot2::geom_histogram(ggplot2::aes(y = ggplot2::after_stat(density)), breaks = d$breaks,
                            position = "identity", alpha = 0.55) +
    ggplot2::scale_fill_manual(NULL, values = stats::setNames(c(.col_right, .col_wrong), d$labels),
                               drop = FALSE) +
    ggplot2::labs(x = gsub("_", " ", score), y = "density", title = d$title) +
    ggplot2::theme_bw() +
    ggplot2::theme(legend.position = c(0.98, 0.98), legend.justification = c(1, 1))
}

.gg_uncertain <- function(x, images, k, score, y) {
  di <- .check_images(x, images)
  idx <- mc_select_uncertain(x, k, score)
  s <- .score_of(x, score)
  labels <- .class_labels(x)
  kk <- length(labels)
  truth <- if (is.null(y)) NULL else .class_codes(y, di[1], kk, mc_class_names(x))
  pred <- max.col(x$mean, ties.method = "first")
  short <- substr(labels, 1, 12)
  panel <- function(i) {
    sprintf("#%d  %s %.2f\npred. %s%s", i, .score_short(score), s[i], short[pred[i]],
            if (is.null(truth)) "" else paste0(", true ", short[truth[i] + 1L]))
  }
  panels <- vapply(idx, panel, "")
  # Each panel, H high (enough room for one class name per bar): the image in
  # [0, 1] x centred on H / 2, class names from x = 1.05, the mean probability
  # bars from x = 2 (length 1 = probability 1).
  H <- max(1, 0.17 * kk)
  pix <- do.call(rbind, lapply(seq_along(idx), function(j) {
    img <- matrix(images[idx[j], , , drop = TRUE], di[2], di[3])
    data.frame(panel = panels[j], x = (as.vector(col(img)) - 0.5) / di[3],
               y = (H + 1) / 2 - (as.vector(row(img)) - 0.5) / di[2],
               v = as.vector(img))
  }))
  bars <- do.call(rbind, lapply(seq_along(idx), function(j) {
    i <- idx[j]
    data.frame(panel = panels[j], cls = seq_len(kk), p = x$mean[i, ], label = short,
               pred = seq_len(kk) == pred[i],
               true = if (is.null(truth)) FALSE else seq_len(kk) == truth[i] + 1L)
  }))
  h <- H / kk
  bars$ymax <- H - (bars$cls - 1) * h - 0.12 * h
  bars$ymin <- H - bars$cls * h + 0.12 * h
  bars$fill <- ifelse(bars$true, "true", "other")
  pix$panel <- factor(pix$panel, levels = panels)
  bars$panel <- factor(bars$panel, levels = panels)
  ggplot2::ggplot() +
    ggplot2::geom_tile(ggplot2::aes(x = .data$x, y = .data$y, fill = .data$v), data = pix,
                       width = 1 / di[3], height = 1 / di[2]) +
    ggplot2::scale_fill_gradient(low = "black", high = "white", guide = "none") +
    ggplot2::geom_rect(ggplot2::aes(xmin = 2, xmax = 2 + .data$p, ymin = .data$ymin, ymax = .data$ymax),
                       data = bars[!bars$true, ], fill = .col_mean) +
    ggplot2::geom_rect(ggplot2::aes(xmin = 2, xmax = 2 + .data$p, ymin = .data$ymin, ymax = .data$ymax),
                       data = bars[bars$true, ], fill = .col_right) +
    ggplot2::geom_rect(ggplot2::aes(xmin = 2, xmax = 2 + .data$p, ymin = .data$ymin, ymax = .data$ymax),
                       data = bars[bars$pred, ], fill = NA, colour = "black", linewidth = 0.4) +
    ggplot2::annotate("segment", x = 2, xend = 3, y = 0.005, yend = 0.005, colour = "grey60") +
    ggplot2::geom_text(ggplot2::aes(x = 1.05, y = (.data$ymin + .data$ymax) / 2, label = .data$label,
                                    fontface = ifelse(.data$pred, "bold", "plain")),
                       data = bars, hjust = 0, size = 2.6) +
    ggplot2::facet_wrap(~panel, ncol = min(4, length(idx))) +
    ggplot2::coord_fixed(xlim = c(0, 3), ylim = c(0, H), expand = FALSE) +
    ggplot2::labs(title = sprintf("The %d most uncertain inputs by %s", length(idx), gsub("_", " ", score)),
                  subtitle = sprintf("bars: mean class probabilities (0 to 1); predicted class outlined and in bold%s",
                                     if (is.null(truth)) "" else "; blue: true class")) +
    ggplot2::theme_void() +
    ggplot2::theme(strip.text = ggplot2::element_text(size = 8, margin = ggplot2::margin(2, 0, 2, 0)),
                   plot.subtitle = ggplot2::element_text(size = 9),
                   plot.margin = ggplot2::margin(6, 6, 6, 6))
}

# ggplot2's data pronoun and computed variable, for R CMD check.
utils::globalVariables(c(".data", "density"))
