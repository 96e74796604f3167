# The mc_prediction class: construction and methods.

#' Make an mc_prediction from an array of samples
#'
#' @param x A numeric array with `dim = c(n, classes, samples)` (class
#'   probabilities), or an `mc_prediction`.
#' @return An `mc_prediction` (see [mc_predict()]).
#' @family prediction
#' @examples
#' p <- array(c(0.9, 0.1, 0.8, 0.2), c(1, 2, 2))
#' as_mc_prediction(p)$mean
#' @export
as_mc_prediction <- function(x) {
  if (inherits(x, "mc_prediction")) return(x)
  s <- .as_samples(x)
  if (!is.double(s)) storage.mode(s) <- "double"
  d <- dim(s)
  # Two passes over the cube in C (src/convert.c), no cube-sized temporaries;
  # the variance is var()'s (n - 1 denominator, NA for one sample).
  mv <- .Call(mcb_mean_var, s, d[3])
  m <- mv[[1]]
  v <- mv[[2]]
  dim(m) <- dim(v) <- d[1:2]
  structure(list(mean = m, variance = v, all_samples = s), class = "mc_prediction")
}

#' @export
print.mc_prediction <- function(x, ...) {
  d <- dim(x$all_samples)
  cat(sprintf("<mc_prediction> %d inputs x %d classes x %d samples\n", d[1], d[2], d[3]))
  k <- min(d[1], 6)
  if (k > 0) {
    df <- .item_table(x, seq_len(k))
    print(df, row.names = FALSE, digits = 4)
    if (d[1] > k) cat(sprintf("... %d more inputs\n", d[1] - k))
  }
  invisible(x)
}

.item_table <- function(x, rows) {
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
  structure(tab, class = c("summary.mc_prediction", "data.frame"), dims = d)
}

#' @export
print.summary.mc_prediction <- function(x, ...) {
  d <- attr(x, "dims")
  cat(sprintf("MC dropout prediction: %d inputs, %d classes, %d samples\n", d[1], d[2], d[3]))
  df <- as.data.frame(unclass(x))
  cat("Predicted classes:\n")
  print(table(class = df$class))
  cat("Uncertainty (mean over inputs):\n")
  means <- colMeans(df[c("prob", "variance", "entropy", "mutual_info", "var_ratio")])
  print(round(means, 4))
  invisible(x)
}

# plot.mc_prediction() lives in plots.R.
