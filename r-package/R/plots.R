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
#' @param y Labels: whole numbers from 0, or a factor whose levels are the
#'   classes in column order.
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
  types <- c("spread", "reliability", "scores", "uncertain")
  if (!is.character(type) || length(type) != 1 || !type %in% types) {
    .metric_error(sprintf("`type` must be one of %s, not %s.",
                          paste0("\"", types, "\"", collapse = ", "), .describe(type)))
  }
  switch(type,
    spread = .plot_spread(x, item, ...),
    reliability = .plot_reliability(x, y, n_bins, adaptive),
    scores = .plot_scores(x, y, if (is.null(score)) "predictive_entropy" else score, x_out),
    uncertain = .plot_uncertain(x, images, k, if (is.null(score)) "mutual_information" else score, y)
  )
  invisible(x)
}

.need <- function(value, arg, type) {
  if (is.null(value)) {
    .metric_error(sprintf("`plot(type = \"%s\")` needs `%s`.", type, arg))
  }
}

.plot_spread <- function(x, item, ...) {
  d <- dim(x$all_samples)
  ok <- is.numeric(item) && length(item) == 1 && !is.na(item) && item == round(item) &&
    item >= 1 && item <= d[1]
  if (!isTRUE(ok)) {
    .metric_error(sprintf("`item` must be a whole number >= 1 and at most %d, not %s.", d[1],
                          .describe(item)))
  }
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

.plot_reliability <- function(x, y, n_bins, adaptive) {
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
  lo <- lo[keep]; hi <- hi[keep]
  acc <- b$accuracy[keep]; conf <- b$confidence[keep]
  old <- graphics::par(no.readonly = TRUE)
  on.exit(graphics::par(old))
  graphics::layout(matrix(1:2), heights = c(4, 1.3))
  graphics::par(mar = c(1, 4.5, 3, 1))
  graphics::plot(NULL, xlim = c(0, 1), ylim = c(0, 1), xaxs = "i", yaxs = "i",
                 xlab = "", ylab = "accuracy", xaxt = "n",
                 main = sprintf("Reliability diagram (%s = %.3f, %d bins)",
                                if (adaptive) "adaptive ECE" else "ECE", ece, n_bins))
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
  graphics::plot(NULL, xlim = c(0, 1), ylim = c(0, max(b$count)), xaxs = "i",
                 xlab = "confidence (largest mean probability)", ylab = "inputs")
  graphics::rect(lo, 0, hi, b$count[keep], col = "grey60", border = "white")
}

.plot_scores <- function(x, y, score, x_out) {
  if (is.null(y) == is.null(x_out)) {
    .metric_error("`plot(type = \"scores\")` needs exactly one of `y` (right vs wrong) and `x_out` (in vs out).")
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
  h <- lapply(groups, function(g) graphics::hist(g, breaks = breaks, plot = FALSE))
  dens <- unlist(lapply(h, function(z) z$density[is.finite(z$density)]))
  graphics::plot(NULL, xlim = rng, ylim = c(0, max(c(dens, 1e-9))), xlab = gsub("_", " ", score),
                 ylab = "density", main = sprintf("%s: %s", gsub("_", " ", score), what))
  cols <- c(.col_right, .col_wrong)
  for (j in 1:2) {
    if (length(groups[[j]])) {
      graphics::rect(breaks[-31], 0, breaks[-1], h[[j]]$density, col = .alpha(cols[j], 0.55),
                     border = NA)
    }
  }
  graphics::legend("topright", legend = labels, fill = .alpha(cols, 0.55), border = NA, bty = "n")
}

.plot_uncertain <- function(x, images, k, score, y) {
  .need(images, "images", "uncertain")
  n <- dim(x$all_samples)[1]
  di <- dim(images)
  if (!is.numeric(images) || !(length(di) == 3 || (length(di) == 4 && di[4] == 1)) || di[1] != n) {
    .metric_error(sprintf("`images` must be a numeric array c(%d, height, width) (or with one channel), not %s.",
                          n, .describe(images)))
  }
  idx <- mc_select_uncertain(x, k, score)
  s <- .score_of(x, score)
  labels <- .class_labels(x)
  truth <- if (is.null(y)) NULL else .labels0(y, n, length(labels))
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
