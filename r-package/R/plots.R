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
#'   (the true class in blue when `y` is given).
#'
#' @param x An `mc_prediction`.
#' @param item Which input `type = "spread"` shows (a row index).
#' @param type `"spread"`, `"reliability"`, `"scores"` or `"uncertain"`.
#' @param y Labels: class codes from 0 (class `k` is column `k + 1`, as in
#'   Python), or a factor or character vector matched by name to the class
#'   names ([mc_class_names()]); a factor's levels are taken in order only
#'   where the classes have no names.
#' @param score Name of the uncertainty score (see [mc_detection]); the
#'   default is `"predictive_entropy"` for `"scores"` and
#'   `"mutual_information"` for `"uncertain"`.
#' @param x_out An `mc_prediction` of out-of-distribution inputs.
#' @param images The inputs of `x`, for `type = "uncertain"`.
#' @param k Number of inputs `type = "uncertain"` shows.
#' @param n_bins Number of confidence bins of the reliability diagram.
#' @param adaptive Equal-mass bins instead of equal-width ones.
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
                               adaptive = FALSE, ...) {
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
  graphics::par(mar = c(1, 4.5, 3, 1))
  graphics::plot(NULL, xlim = c(0, 1), ylim = c(0, 1), xaxs = "i", yaxs = "i",
                 xlab = "", ylab = "accuracy", xaxt = "n", main = r$title)
  graphics::rect(lo, 0, hi, acc, col = .col_right, border = "white")
  graphics::rect(lo, pmin(acc, conf), hi, pmax(acc, conf), density = 25, col = .col_wrong,
                 border = .col_wrong)
  graphics::abline(0, 1, lty = 2, col = "grey40")
  graphics::legend("topleft", bty = "n", legend = c("accuracy", "gap to mean confidence"),
                   fill = c(.col_right, .col_wrong), border = c("white", .col_wrong),
                   density = c(NA, 25))
  graphics::legend("bottomright", bty = "n", legend = "perfect calibration", lty = 2,
                   col = "grey40")
  graphics::par(mar = c(4.5, 4.5, 0.5, 1))
  graphics::plot(NULL, xlim = c(0, 1), ylim = c(0, r$max_count), xaxs = "i",
                 xlab = "confidence (largest mean probability)", ylab = "inputs")
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
  truth <- if (is.null(y)) NULL else .class_codes(y, n, length(labels), mc_class_names(x))
  ncols <- min(4, length(idx))
  nrows <- ceiling(length(idx) / ncols)
  old <- graphics::par(no.readonly = TRUE)
  on.exit(graphics::par(old))
  graphics::par(mfrow = c(nrows, 2 * ncols), oma = c(0, 0, 2, 0), cex = 0.6)
  for (i in idx) {
    img <- matrix(images[i, , , drop = TRUE], di[2], di[3])
    graphics::par(mar = c(1, 0.5, 2, 0.5))
    # image() puts rows along x from the bottom: transpose and flip to read as a picture.
    graphics::image(t(img[nrow(img):1, , drop = FALSE]), col = grDevices::grey.colors(64, 0, 1),
                    axes = FALSE, asp = di[2] / di[3])
    graphics::title(sprintf("#%d  %s %.2f", i, substr(gsub("_", " ", score), 1, 11), s[i]),
                    cex.main = 0.9, font.main = 1)
    graphics::par(mar = c(2, max(3, 0.45 * max(nchar(substr(labels, 1, 12)))), 2, 0.5))
    cols <- rep(.col_mean, length(labels))
    if (!is.null(truth)) cols[truth[i] + 1L] <- .col_right
    graphics::barplot(rev(x$mean[i, ]), horiz = TRUE, names.arg = rev(substr(labels, 1, 12)),
                      las = 1, xlim = c(0, 1), col = rev(cols), border = NA, cex.names = 0.8,
                      main = if (is.null(truth)) "" else paste("true", labels[truth[i] + 1L]),
                      cex.main = 0.9, font.main = 1)
  }
  graphics::mtext(sprintf("The %d most uncertain inputs by %s (bars: mean class probabilities%s)",
                          length(idx), gsub("_", " ", score),
                          if (is.null(truth)) ")" else "; blue: true class)"),
                  outer = TRUE, cex = 0.8)
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
                                   adaptive = FALSE, ...) {
  if (!requireNamespace("ggplot2", quietly = TRUE)) {
    .abort("autoplot() needs the 'ggplot2' package; install it (Debian: r-cran-ggplot2).", "input")
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
    ggplot2::theme(legend.position = c(0.02, 0.98), legend.justification = c(0, 1),
                   legend.background = ggplot2::element_blank(), legend.spacing.y = ggplot2::unit(0, "pt"))
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
  panel <- function(i) {
    sprintf("#%d  %s %.2f%s", i, substr(gsub("_", " ", score), 1, 11), s[i],
            if (is.null(truth)) "" else paste0("\ntrue ", labels[truth[i] + 1L]))
  }
  panels <- vapply(idx, panel, "")
  # Each panel: the image in [0, 1] x [0, 1], class names from x = 1.05, and
  # the mean probability bars from x = 2 (length 1 = probability 1).
  pix <- do.call(rbind, lapply(seq_along(idx), function(j) {
    img <- matrix(images[idx[j], , , drop = TRUE], di[2], di[3])
    data.frame(panel = panels[j], x = (as.vector(col(img)) - 0.5) / di[3],
               y = 1 - (as.vector(row(img)) - 0.5) / di[2],
               v = as.vector(img))
  }))
  bars <- do.call(rbind, lapply(seq_along(idx), function(j) {
    i <- idx[j]
    data.frame(panel = panels[j], cls = seq_len(kk), p = x$mean[i, ],
               label = substr(labels, 1, 12),
               true = if (is.null(truth)) FALSE else seq_len(kk) == truth[i] + 1L)
  }))
  h <- 1 / kk
  bars$ymax <- 1 - (bars$cls - 1) * h - 0.1 * h
  bars$ymin <- 1 - bars$cls * h + 0.1 * h
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
    ggplot2::annotate("segment", x = 2, xend = 3, y = 0.005, yend = 0.005, colour = "grey60") +
    ggplot2::geom_text(ggplot2::aes(x = 1.05, y = (.data$ymin + .data$ymax) / 2, label = .data$label),
                       data = bars, hjust = 0, size = 2.6) +
    ggplot2::facet_wrap(~panel, ncol = min(4, length(idx))) +
    ggplot2::coord_fixed(xlim = c(0, 3), ylim = c(0, 1), expand = FALSE) +
    ggplot2::labs(title = sprintf("The %d most uncertain inputs by %s", length(idx), gsub("_", " ", score)),
                  subtitle = sprintf("bars: mean class probabilities (0 to 1)%s",
                                     if (is.null(truth)) "" else "; blue: true class")) +
    ggplot2::theme_void() +
    ggplot2::theme(strip.text = ggplot2::element_text(size = 8, margin = ggplot2::margin(2, 0, 2, 0)),
                   plot.margin = ggplot2::margin(6, 6, 6, 6))
}

# ggplot2's data pronoun and computed variable, for R CMD check.
utils::globalVariables(c(".data", "density"))
