# The mc_prediction class: construction and methods.

#' Make an mc_prediction from an array of samples
#'
#' @param x A numeric array with `dim = c(n, classes, samples)` (class
#'   probabilities), or an `mc_prediction`.
#' @param task `"classification"` (samples are class probabilities) or
#'   `"regression"` (`dim = c(n, outputs, samples)`, real values).
#' @return An `mc_prediction` (see [mc_predict()]).
#' @family prediction
#' @examples
#' p <- array(c(0.9, 0.1, 0.8, 0.2), c(1, 2, 2))
#' as_mc_prediction(p)$mean
#' @export
as_mc_prediction <- function(x, task = "classification") {
  task <- .check_string(task, "task", c("classification", "regression"))
  if (inherits(x, "mc_prediction")) {
    attr(x, "task") <- task
    return(x)
  }
  s <- .as_samples(x)
  if (!is.double(s)) storage.mode(s) <- "double"
  d <- dim(s)
  # Two passes over the cube in C (src/convert.c), no cube-sized temporaries;
  # the variance is var()'s (n - 1 denominator, NA for one sample).
  mv <- .Call(mcb_mean_var, s, d[3])
  m <- mv[[1]]
  v <- mv[[2]]
  dim(m) <- dim(v) <- d[1:2]
  structure(list(mean = m, variance = v, all_samples = s), class = "mc_prediction",
            task = task)
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
  if (mc_task(x) == "regression") {
    cat(sprintf("<mc_prediction> regression: %d inputs x %d outputs x %d samples\n", d[1], d[2], d[3]))
  } else {
    cat(sprintf("<mc_prediction> %d inputs x %d classes x %d samples\n", d[1], d[2], d[3]))
  }
  k <- min(d[1], 6)
  if (k > 0) {
    df <- .item_table(x, seq_len(k))
    print(df, row.names = FALSE, digits = 4)
    if (d[1] > k) cat(sprintf("... %d more inputs\n", d[1] - k))
  }
  invisible(x)
}

.item_table <- function(x, rows) {
  if (mc_task(x) == "regression") {  # mean and standard deviation per output
    d <- ncol(x$mean)
    cols <- c(list(item = rows),
              stats::setNames(lapply(seq_len(d), function(j) x$mean[rows, j]),
                              if (d == 1) "mean" else paste0("mean_", seq_len(d))),
              stats::setNames(lapply(seq_len(d), function(j) sqrt(x$variance[rows, j])),
                              if (d == 1) "sd" else paste0("sd_", seq_len(d))))
    return(as.data.frame(cols))
  }
  m <- x$mean[rows, , drop = FALSE]
  cls <- max.col(m, ties.method = "first")
  s <- x$all_samples[rows, , , drop = FALSE]
  data.frame(
    item = rows,
    class = if (is.null(mc_class_names(x))) cls - 1L else .class_labels(x)[cls],
    prob = m[cbind(seq_along(rows), cls)],
    variance = x$variance[rows, , drop = FALSE][cbind(seq_along(rows), cls)],
    entropy = mc_predictive_entropy(s),
    mutual_info = mc_mutual_information(s),
    var_ratio = mc_variation_ratio(s)
  )
}

#' Summarise an mc_prediction
#'
#' @param object An `mc_prediction`.
#' @param ... Unused.
#' @return A `summary.mc_prediction`: a data frame with one row per input
#'   (`class`, counted from 0, its mean probability `prob` and `variance`, and
#'   the uncertainty measures), printed with overall means.
#' @family prediction
#' @examples
#' summary(as_mc_prediction(array(c(0.9, 0.1, 0.8, 0.2), c(1, 2, 2))))
#' @export
summary.mc_prediction <- function(object, ...) {
  d <- dim(object$all_samples)
  tab <- .item_table(object, seq_len(d[1]))
  structure(tab, class = c("summary.mc_prediction", "data.frame"), dims = d,
            task = mc_task(object))
}

#' @export
print.summary.mc_prediction <- function(x, ...) {
  d <- attr(x, "dims")
  df <- as.data.frame(unclass(x))
  if (identical(attr(x, "task"), "regression")) {
    cat(sprintf("MC dropout regression: %d inputs, %d outputs, %d samples\n", d[1], d[2], d[3]))
    cat("Mean over inputs:\n")
    print(round(colMeans(df[setdiff(names(df), "item")]), 4))
    return(invisible(x))
  }
  cat(sprintf("MC dropout prediction: %d inputs, %d classes, %d samples\n", d[1], d[2], d[3]))
  cat("Predicted classes:\n")
  print(table(class = df$class))
  cat("Uncertainty (mean over inputs):\n")
  means <- colMeans(df[c("prob", "variance", "entropy", "mutual_info", "var_ratio")])
  print(round(means, 4))
  invisible(x)
}

# plot.mc_prediction() lives in plots.R.
