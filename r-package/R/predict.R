# Monte Carlo prediction and the mc_prediction class.

#' Monte Carlo dropout prediction
#'
#' Runs `n_samples` stochastic forward passes of each input with dropout on
#' (and BatchNormalization in inference mode), in batches of `batch_size`
#' inputs, on the Python engine. The samples come back to R through the Arrow
#' C data interface.
#'
#' With the same model, input and `seed`, the samples are bit-identical to
#' Python's `mcbridge.mc_predict()`: `all_samples[i, k, s]` is Python's
#' `samples[i - 1, k - 1, s - 1]`.
#'
#' @param model A Keras model (from [mc_cnn()], [mc_load_model()] or keras3).
#' @param x Inputs: an array `c(n, height, width, channels)`, or
#'   `c(n, height, width)` for one channel; no `NA`/`NaN`.
#' @param n_samples Number of stochastic passes per input.
#' @param batch_size Inputs per batch.
#' @param seed Optional whole number for reproducible dropout masks (the same
#'   for the same `batch_size`).
#' @return An `mc_prediction`: a list with `mean` (`n x classes`), `variance`
#'   (`n x classes`, as [stats::var()] over the samples) and `all_samples`
#'   (`dim = c(n, classes, samples)`).
#' @examplesIf mcbridge_available(initialize = FALSE)
#' d <- mc_dataset_digits()
#' model <- mc_cnn(input_shape = c(8, 8, 1), filters = 4, dense_units = 8,
#'                 dropout = c(0.25, 0.5))
#' res <- mc_predict(model, d$test$x[1:5, , ] / 16, n_samples = 10, seed = 1)
#' res
#' summary(res)
#' @export
mc_predict <- function(model, x, n_samples = 50, batch_size = 128, seed = NULL) {
  .check_model(model)
  n_samples <- .check_count(n_samples, "n_samples")
  batch_size <- .check_count(batch_size, "batch_size")
  seed <- .check_seed(seed)
  x <- .adapt_x(.check_x(x), model)
  result <- .glue()$predict(model, .r_to_py(x), n_samples, batch_size, seed)
  .py_to_r(result)
}

#' Make an mc_prediction from an array of samples
#'
#' @param x A numeric array with `dim = c(n, classes, samples)` (class
#'   probabilities), or an `mc_prediction`.
#' @return An `mc_prediction` (see [mc_predict()]).
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
