# The mc_prediction class: construction and methods.

#' Make an mc_prediction from an array of samples
#'
#' @param x A numeric array with `dim = c(n, classes, samples)` (class
#'   probabilities), or `c(n, ..., classes, samples)` for a dense output
#'   (positions before the classes); or an `mc_prediction`.
#' @param task `"classification"` (samples are class probabilities) or
#'   `"regression"` (`dim = c(n, outputs, samples)`, real values).
#' @param n_used `NULL`, or one count per input (adaptive sampling): input
#'   `i` has its first `n_used[i]` samples, the rest are padding (NaN) that no
#'   summary or measure reads.
#' @return An `mc_prediction` (see [mc_predict()]).
#' @family prediction
#' @examples
#' p <- array(c(0.9, 0.1, 0.8, 0.2), c(1, 2, 2))
#' as_mc_prediction(p)$mean
#' as_mc_prediction(array(c(0.9, 0.1, NaN, NaN), c(1, 2, 2)), n_used = 1L)$mean
#' @export
as_mc_prediction <- function(x, task = "classification", n_used = NULL) {
  task <- .check_string(task, "task", c("classification", "regression"))
  if (inherits(x, "mc_prediction")) {
    attr(x, "task") <- task
    return(x)
  }
  s <- .as_samples(x)
  if (!is.double(s)) storage.mode(s) <- "double"
  d <- dim(s)
  k <- length(d)
  n_used <- .check_n_used(n_used, d[1], d[k])
  # Two passes over the cube in C (src/convert.c), no cube-sized temporaries;
  # the variance is var()'s (n - 1 denominator, NA for one sample). With
  # n_used, inputs of the same count together, over their own samples only.
  if (is.null(n_used)) {
    mv <- .Call(mcb_mean_var, s, d[k])
    m <- mv[[1]]
    v <- mv[[2]]
  } else {
    cells <- prod(d[-c(1, k)])
    s3 <- s
    dim(s3) <- c(d[1], cells, d[k])
    m <- v <- matrix(NA_real_, d[1], cells)
    for (count in unique(n_used)) {
      idx <- which(n_used == count)
      mv <- .Call(mcb_mean_var, s3[idx, , seq_len(count), drop = FALSE], count)
      m[idx, ] <- mv[[1]]
      v[idx, ] <- mv[[2]]
    }
  }
  dim(m) <- dim(v) <- d[-k]
  out <- list(mean = m, variance = v, all_samples = s)
  if (!is.null(n_used)) out$n_used <- n_used
  structure(out, class = "mc_prediction", task = task)
}

.check_n_used <- function(n_used, n, s) {
  if (is.null(n_used)) return(NULL)
  ok <- is.numeric(n_used) && is.null(dim(n_used)) && length(n_used) == n && !anyNA(n_used) &&
    all(n_used == round(n_used)) && all(n_used >= 1 & n_used <= s)
  if (!ok) {
    .abort(sprintf("`n_used` must be NULL or %d whole numbers (one per input) in 1..%d, not %s.",
                   n, s, .describe(n_used)), "input", arg = "n_used")
  }
  as.integer(n_used)
}

# Samples each input has: n_used, or all of them.
.counts <- function(x) {
  d <- dim(x$all_samples)
  x$n_used %||% rep(d[length(d)], d[1])
}

#' The task of an mc_prediction
#'
#' @param x An `mc_prediction`.
#' @return `"classification"` or `"regression"`.
#' @family prediction
#' @examples
#' mc_task(as_mc_prediction(array(c(1.5, 2, 1.7, 2.4), c(1, 2, 2)), task = "regression"))
#' @export
mc_task <- function(x) {
  if (!inherits(x, "mc_prediction")) {
    .abort(sprintf("`x` must be an mc_prediction, not %s.", .describe(x)), "input", arg = "x")
  }
  attr(x, "task") %||% "classification"
}

#' @export
print.mc_prediction <- function(x, ...) {
  d <- dim(x$all_samples)
  k <- length(d)
  at <- if (k > 3) sprintf(" x %s positions", paste(d[2:(k - 2)], collapse = " x ")) else ""
  if (mc_task(x) == "regression") {
    cat(sprintf("<mc_prediction> regression: %d inputs%s x %d outputs x %d samples\n", d[1], at,
                d[k - 1], d[k]))
  } else {
    cat(sprintf("<mc_prediction> %d inputs%s x %d classes x %d samples\n", d[1], at, d[k - 1], d[k]))
  }
  if (!is.null(x$n_used) && d[1] > 0) cat(.used_line(x$n_used), "\n", sep = "")
  n <- min(d[1], 6)
  if (n > 0) {
    df <- .item_table(x, seq_len(n))
    print(df, row.names = FALSE, digits = 4)
    if (d[1] > n) cat(sprintf("... %d more inputs\n", d[1] - n))
    cat("*_se: Monte Carlo standard error (mc_standard_error()); large values ask for more samples.\n")
  }
  invisible(x)
}

.used_line <- function(n_used) {
  sprintf("samples per input: %d to %d (mean %.1f; adaptive sampling, see $n_used)",
          min(n_used), max(n_used), mean(n_used))
}

# One row per input: the numbers with their MC standard errors (*_se) next
# to them; a dense output's maps are averaged over positions per input.
.item_table <- function(x, rows) {
  x <- x[rows, ]
  dense <- length(dim(x$all_samples)) > 3
  used <- if (!is.null(x$n_used)) list(n_used = x$n_used)
  mean_over <- function(a) if (is.null(dim(a))) a else rowMeans(a, dims = 1)
  if (mc_task(x) == "regression") {  # mean, its MC error and standard deviation per output
    if (dense) {
      return(as.data.frame(c(list(item = rows), used,
                             list(mean = mean_over(x$mean), mean_se = mean_over(mc_standard_error(x)),
                                  sd = mean_over(sqrt(x$variance))))))
    }
    d <- ncol(x$mean)
    se <- mc_standard_error(x)
    sfx <- if (d == 1) "" else paste0("_", seq_len(d))
    cols <- list()
    for (j in seq_len(d)) {
      cols[[paste0("mean", sfx[j])]] <- x$mean[, j]
      cols[[paste0("mean_se", sfx[j])]] <- se[, j]
    }
    for (j in seq_len(d)) cols[[paste0("sd", sfx[j])]] <- sqrt(x$variance[, j])
    return(as.data.frame(c(list(item = rows), used, cols)))
  }
  spread <- min(.counts(x)) > 1
  se <- function(measure) if (spread) mean_over(mc_standard_error(x, measure)) else NA_real_
  if (dense) {  # per input: means over its positions
    return(as.data.frame(c(list(item = rows), used, list(
      entropy = mean_over(mc_predictive_entropy(x)), entropy_se = se("predictive_entropy"),
      mutual_info = mean_over(mc_mutual_information(x)), mutual_info_se = se("mutual_information"),
      var_ratio = mean_over(mc_variation_ratio(x))))))
  }
  m <- x$mean
  cls <- max.col(m, ties.method = "first")
  top <- cbind(seq_along(rows), cls)
  as.data.frame(c(list(
    item = rows,
    class = if (is.null(mc_class_names(x))) cls - 1L else .class_labels(x)[cls]), used, list(
    prob = m[top],
    prob_se = if (spread) mc_standard_error(x)[top] else NA_real_,
    variance = x$variance[top],
    entropy = mc_predictive_entropy(x),
    entropy_se = se("predictive_entropy"),
    mutual_info = mc_mutual_information(x),
    mutual_info_se = se("mutual_information"),
    var_ratio = mc_variation_ratio(x))), stringsAsFactors = FALSE)
}

#' Summarise an mc_prediction
#'
#' @param object An `mc_prediction`.
#' @param ... Unused.
#' @return A `summary.mc_prediction`: a data frame with one row per input
#'   (`class`, counted from 0, its mean probability `prob` and `variance`, and
#'   the uncertainty measures, each with its Monte Carlo standard error
#'   `*_se` next to it, see [mc_standard_error()]; `n_used` after adaptive
#'   sampling; for a dense output, the measures averaged over positions),
#'   printed with overall means.
#' @family prediction
#' @examples
#' summary(as_mc_prediction(array(c(0.9, 0.1, 0.8, 0.2), c(1, 2, 2))))
#' @export
summary.mc_prediction <- function(object, ...) {
  d <- dim(object$all_samples)
  tab <- .item_table(object, seq_len(d[1]))
  structure(tab, class = c("summary.mc_prediction", "data.frame"), dims = d,
            task = mc_task(object), n_used = object$n_used)
}

#' @export
print.summary.mc_prediction <- function(x, ...) {
  d <- attr(x, "dims")
  k <- length(d)
  at <- if (k > 3) sprintf(", %s positions", paste(d[2:(k - 2)], collapse = " x ")) else ""
  df <- as.data.frame(unclass(x))
  used <- attr(x, "n_used")
  numbers <- function(cols) {
    means <- colMeans(df[intersect(cols, names(df))])
    print(round(means, 4))
  }
  if (identical(attr(x, "task"), "regression")) {
    cat(sprintf("MC dropout regression: %d inputs%s, %d outputs, %d samples\n", d[1], at, d[k - 1], d[k]))
    if (!is.null(used)) cat(.used_line(used), "\n", sep = "")
    cat("Mean over inputs (*_se: Monte Carlo standard error):\n")
    numbers(setdiff(names(df), c("item", "n_used")))
    return(invisible(x))
  }
  cat(sprintf("MC dropout prediction: %d inputs%s, %d classes, %d samples\n", d[1], at, d[k - 1], d[k]))
  if (!is.null(used)) cat(.used_line(used), "\n", sep = "")
  if (!is.null(df$class)) {
    cat("Predicted classes:\n")
    print(table(class = df$class))
  }
  cat("Uncertainty (mean over inputs; *_se: Monte Carlo standard error):\n")
  numbers(c("prob", "prob_se", "variance", "entropy", "entropy_se", "mutual_info", "mutual_info_se",
            "var_ratio"))
  invisible(x)
}

# plot.mc_prediction() lives in plots.R.
